//! The storage interface the web layer depends on.

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::watch;

use crate::domain::{Ballot, PetChoice};

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

/// What the admin console shows about the store.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreStatus {
    /// `memory` or `consul`.
    pub kind: &'static str,
    /// The addresses this replica talks to.
    pub endpoints: Vec<String>,
    /// The cluster's servers, as the cluster reports them.
    pub servers: Vec<String>,
    pub leader: Option<String>,
    /// The last failure talking to the store, with how long ago it happened.
    pub last_error: Option<String>,
    /// True while the last exchange with the store succeeded.
    pub reachable: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not record or read the data right now. For a vote this
    /// is a promise: the vote was not recorded and never will be.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

/// A place to keep votes and the pets-served counter.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Records a ballot, moving the voter's earlier vote if there was one.
    /// Returns only once the vote is durable; an error means it was not
    /// recorded and will not appear later.
    async fn cast_vote(&self, ballot: Ballot) -> Result<(), StoreError>;

    /// Counts one pet page. Never waits on I/O.
    fn count_pet_served(&self);

    /// Pets served across all replicas as last known, without I/O.
    fn pets_served(&self) -> u64;

    /// The tally read now, or an error if the store cannot be read.
    async fn tally(&self) -> Result<Tally, StoreError>;

    /// The last known tally, updated whenever votes or counters change.
    fn subscribe(&self) -> watch::Receiver<Tally>;

    fn status(&self) -> StoreStatus;

    /// A one-line description for the start-up log.
    fn describe(&self) -> String;

    /// Writes out anything still held in memory. Called once at shutdown.
    async fn shutdown(&self);
}
