//! What a store knows and shows: the tally, whether it is current, and the
//! store's own state. The web layer reads only these; the fleet record and
//! the store trait name them, so they sit below both.

use serde::Serialize;

use crate::domain::PetChoice;

/// Votes per option and pets served, across every replica.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub votes: [u64; 3],
    pub pets_served: u64,
}

impl Tally {
    pub fn votes_for(&self, choice: PetChoice) -> u64 {
        self.votes[choice.index()]
    }

    pub fn total_votes(&self) -> u64 {
        self.votes.iter().sum()
    }
}

/// Which kind of store this is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// In this process only.
    #[default]
    Memory,
    /// A Consul cluster shared by every replica.
    Consul,
}

impl StoreKind {
    /// Whether replicas share votes through this store.
    pub fn shared(self) -> bool {
        matches!(self, Self::Consul)
    }
}

/// What the admin console shows about the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStatus {
    pub kind: StoreKind,
    /// The addresses this replica talks to.
    pub endpoints: Vec<String>,
    /// The cluster's servers, as the cluster reports them.
    pub servers: Vec<String>,
    pub leader: Option<String>,
    /// The last failure talking to the store, with how long ago it happened.
    pub last_error: Option<String>,
    /// True while the last exchange with the store succeeded.
    pub reachable: bool,
    /// What Consul lets pets' token do, in words (None until asked).
    pub access: Option<String>,
}

/// The results as the store knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// The current round's votes, and pets served.
    pub tally: Tally,
    /// The current round's number, from 1.
    pub round: u64,
    /// True when the store could not be read and the tally is the last known.
    pub stale: bool,
    pub status: StoreStatus,
}
