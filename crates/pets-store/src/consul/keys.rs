//! Where each value lives in Consul's KV store, in one place.

use crate::domain::VoterId;

/// Key names under the prefix, for one replica.
#[derive(Debug, Clone)]
pub struct Keys {
    pub prefix: String,
    pub replica: String,
}

impl Keys {
    pub fn new(prefix: &str, replica: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            replica: replica.to_owned(),
        }
    }

    /// Every lane counter of every replica.
    pub fn votes(&self) -> String {
        format!("{}votes/", self.prefix)
    }

    /// Every replica's pets-served counter.
    pub fn served(&self) -> String {
        format!("{}served/", self.prefix)
    }

    pub fn own_served(&self) -> String {
        format!("{}served/{}", self.prefix, self.replica)
    }

    pub fn vote_counter(&self, lane: usize) -> String {
        format!("{}votes/{}/{lane}", self.prefix, self.replica)
    }

    pub fn voter(&self, voter: &VoterId) -> String {
        format!("{}voters/{voter}", self.prefix)
    }

    /// Every live replica's record.
    pub fn replicas(&self) -> String {
        format!("{}replicas/", self.prefix)
    }

    pub fn replica(&self) -> String {
        format!("{}replicas/{}", self.prefix, self.replica)
    }

    /// Every fault order: the fleet's and each replica's.
    pub fn faults(&self) -> String {
        format!("{}faults/", self.prefix)
    }

    /// Every ended admin session.
    pub fn sessions(&self) -> String {
        format!("{}sessions/", self.prefix)
    }

    pub fn session(&self, id: &str) -> String {
        format!("{}sessions/{id}", self.prefix)
    }

    /// Every replica's count of failed admin logins.
    pub fn logins(&self) -> String {
        format!("{}logins/", self.prefix)
    }

    pub fn own_logins(&self) -> String {
        format!("{}logins/{}", self.prefix, self.replica)
    }
}
