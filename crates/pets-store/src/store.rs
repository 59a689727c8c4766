//! The storage interface the web layer depends on.
//!
//! A store owns its whole read story: it keeps one [`Snapshot`] (the tally,
//! whether it is current, the store's state) up to date and says when it
//! changes, so the web layer only shows what it is given and a new store
//! never means a change there.

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::watch;

use crate::domain::{Ballot, PetChoice, Receipt, VoterKey};
use crate::faults::{FaultCommand, FaultOrders, FaultTarget};
use crate::fleet::{Fleet, Registration};
use crate::meter::Meter;

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
}

/// The results as the store knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub tally: Tally,
    /// True when the store could not be read and the tally is the last known.
    pub stale: bool,
    pub status: StoreStatus,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not record the data right now. For a vote this is a
    /// promise: the vote was not recorded and never will be.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A command named a replica the fleet does not have.
    #[error("no replica by that id is in the fleet")]
    NoSuchReplica,
}

/// A place to keep votes and the pets-served counter.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Records a ballot, moving the voter's earlier vote if there was one.
    /// Returns only once the vote is durable, with what the voter must keep
    /// for later votes; an error means it was not recorded and will not
    /// appear later.
    async fn cast_vote(&self, ballot: Ballot) -> Result<Receipt, StoreError>;

    /// The key voter ids are signed with, the same on every replica: made
    /// once, by whichever replica asks first, and kept. An error while the
    /// store cannot be reached yet.
    async fn voter_key(&self) -> Result<VoterKey, StoreError>;

    /// Counts one pet page. Never waits on I/O.
    fn count_pet_served(&self);

    /// Pets served across all replicas as last known, without I/O.
    fn pets_served(&self) -> u64;

    /// The tally read from the store now; when it cannot be read, the last
    /// known one, marked stale.
    async fn read(&self) -> Snapshot;

    /// The last known snapshot, with pets served counted up to now. No I/O.
    fn snapshot(&self) -> Snapshot;

    /// Changes whenever the snapshot does (votes, other replicas' counts, the
    /// store's state); this replica's own page views alone do not wake it.
    fn changes(&self) -> watch::Receiver<Snapshot>;

    fn kind(&self) -> StoreKind;

    /// A one-line description for the start-up log.
    fn describe(&self) -> String;

    /// Ends an admin session for every replica, until `until` (Unix
    /// seconds, when it would have expired anyway).
    async fn revoke_session(&self, id: &str, until: u64) -> Result<(), StoreError>;

    /// Whether an admin session was ended, as last known. No I/O.
    fn session_revoked(&self, id: &str) -> bool;

    /// Counts a failed admin login towards the ceiling all replicas share.
    async fn login_failed(&self);

    /// Failed admin logins in the current minute, across replicas, as last
    /// known. No I/O.
    fn login_failures(&self) -> u64;

    /// Starts keeping this replica's record, for the fleet. Called once, at
    /// start.
    fn register(&self, registration: Registration);

    /// This replica's record changed (its health): write it now.
    fn touch(&self);

    /// Every live replica and the store's servers, as last known. No I/O.
    fn fleet(&self) -> Fleet;

    /// Stores `command` for its target, merged with the faults already
    /// there; every replica it is for hears of it through
    /// [`fault_orders`](Store::fault_orders). Returns once stored.
    async fn order_faults(
        &self,
        target: &FaultTarget,
        command: &FaultCommand,
    ) -> Result<(), StoreError>;

    /// The fleet's fault order and this replica's, changing as they do.
    fn fault_orders(&self) -> watch::Receiver<FaultOrders>;

    /// What traffic drivers (`pets load`) published, as last known. No I/O.
    /// Only a shared store carries it; none by default.
    fn meter(&self) -> Meter {
        Meter::default()
    }

    /// Adds what this store measures to `/metrics` (nothing, by default).
    fn register_metrics(&self, _registry: &prometheus::Registry) {}

    /// Writes out anything still held in memory, and takes this replica out
    /// of the fleet. Called once at shutdown.
    async fn shutdown(&self);
}

/// The current minute, as the login ceiling counts it.
pub fn minute_now() -> u64 {
    unix_now() / 60
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
