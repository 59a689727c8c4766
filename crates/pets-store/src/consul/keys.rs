//! Where each value lives in Consul's KV store, in one place.

use crate::domain::{BallotRef, VoterId};

/// The name of the archive keys.
const ARCHIVE: &str = "archive";
/// The round book's name under `votes/`: like the archive, no replica's (a
/// replica id has a random suffix).
const ROUND_BOOK: &str = "round";

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

    /// Where folded replicas' votes and pets served go: under the same
    /// prefixes, so every sum includes them. A replica id has a random
    /// suffix, so no replica is ever called `archive`.
    pub fn votes_archive(&self) -> String {
        format!("{}votes/{ARCHIVE}", self.prefix)
    }

    /// The rounds so far (see [`RoundBook`](crate::rounds::RoundBook)):
    /// under `votes/`, so the watcher reads it with the counts, at one index.
    pub fn round_book(&self) -> String {
        format!("{}votes/{ROUND_BOOK}", self.prefix)
    }

    pub fn served_archive(&self) -> String {
        format!("{}served/{ARCHIVE}", self.prefix)
    }

    /// What voter ids are signed with.
    pub fn voter_key(&self) -> String {
        format!("{}voter-key", self.prefix)
    }

    /// Held by the one replica that folds dead replicas' keys away.
    pub fn fold_lock(&self) -> String {
        format!("{}fold-lock", self.prefix)
    }

    /// The replica a `votes/`, `served/`, `logins/`, `replicas/` or
    /// `faults/replicas/` key
    /// belongs to; `None` for the archive and for anything else.
    pub fn owner<'k>(&self, key: &'k str) -> Option<&'k str> {
        let rest = key.strip_prefix(&self.prefix)?;
        let (kind, rest) = rest.split_once('/')?;
        let rest = match kind {
            "votes" | "served" | "logins" | "replicas" => rest,
            "faults" => rest.strip_prefix("replicas/")?,
            _ => return None,
        };
        let owner = rest.split('/').next()?;
        let book = kind == "votes" && owner == ROUND_BOOK;
        (!owner.is_empty() && owner != ARCHIVE && !book).then_some(owner)
    }

    pub fn vote_counter(&self, lane: usize) -> String {
        format!("{}votes/{}/{lane}", self.prefix, self.replica)
    }

    pub fn voter(&self, voter: &VoterId) -> String {
        format!("{}voters/{voter}", self.prefix)
    }

    /// First votes committed together (see [`FirstVotes`](crate::consul::records::FirstVotes)).
    pub fn first_votes(&self, at: &BallotRef) -> String {
        format!("{}ballots/{at}", self.prefix)
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

    /// Every traffic driver's availability series.
    pub fn load(&self) -> String {
        format!("{}load/", self.prefix)
    }

    /// This process's series, when it is a traffic driver.
    /// The console's lab guide (see [`LabStore`](crate::LabStore)).
    pub fn lab(&self) -> String {
        format!("{}lab", self.prefix)
    }

    pub fn load_driver(&self) -> String {
        format!("{}load/{}", self.prefix, self.replica)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_owner_and_the_archive_has_none() {
        let keys = Keys::new("p/", "web-1-ab12");
        assert_eq!(keys.owner(&keys.vote_counter(1)), Some("web-1-ab12"));
        assert_eq!(keys.owner(&keys.own_served()), Some("web-1-ab12"));
        assert_eq!(keys.owner(&keys.replica()), Some("web-1-ab12"));
        assert_eq!(keys.owner(&keys.own_logins()), Some("web-1-ab12"));
        assert_eq!(keys.owner(&keys.votes_archive()), None);
        assert_eq!(keys.owner(&keys.served_archive()), None);
        assert_eq!(keys.owner(&keys.round_book()), None);
        assert_eq!(keys.owner("p/faults/replicas/web-2-cd"), Some("web-2-cd"));
        assert_eq!(keys.owner("p/faults/fleet"), None);
        assert_eq!(keys.owner("p/voters/x"), None);
        assert_eq!(keys.owner(&keys.first_votes(&BallotRef::random())), None);
        assert_eq!(keys.owner("q/votes/x/0"), None);
        for folder in [keys.served(), keys.logins(), keys.faults()] {
            assert_eq!(keys.owner(&folder), None, "a folder key is nobody's");
        }
    }
}
