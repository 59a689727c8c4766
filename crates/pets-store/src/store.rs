//! The storage interface the web layer depends on.
//!
//! A store owns its whole read story: it keeps one [`Snapshot`] (the tally,
//! whether it is current, the store's state) up to date and says when it
//! changes, so the web layer only shows what it is given and a new store
//! never means a change there.

use async_trait::async_trait;
use tokio::sync::watch;

use crate::domain::{Ballot, Receipt, VoterKey};
use crate::faults::{FaultCommand, FaultOrders, FaultTarget};
use crate::fleet::{Fleet, Registration};
use crate::meter::Meter;
use crate::rounds::Round;
use crate::snapshot::{Snapshot, StoreKind};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not record the data right now. For a vote this is a
    /// promise: the vote was not recorded and never will be.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The store sent the vote but could not learn, before the vote's
    /// deadline, whether it was recorded: it may have been. The replica
    /// takes it back once it learns it was, so a replica that lives leaves
    /// it uncounted; one that stops first may leave it counted. The voter's
    /// next vote replaces it either way.
    #[error("the store could not confirm the vote: {0}")]
    Unconfirmed(String),
    /// A command named a replica the fleet does not have.
    #[error("no replica by that id is in the fleet")]
    NoSuchReplica,
    /// The request does not fit what the store holds now (a round that is
    /// not the current one); nothing was changed.
    #[error("{0}")]
    Conflict(String),
}

/// The votes and pets served: recording them, and the snapshot of the
/// results every page and the console read.
#[async_trait]
pub trait VoteStore: Send + Sync {
    /// Records a ballot, moving the voter's earlier vote if there was one.
    /// Returns only once the vote is durable, with what the voter must keep
    /// for later votes. `Unavailable` means it was not recorded and will not
    /// appear later; `Unconfirmed` means it was sent and may have been.
    async fn cast_vote(&self, ballot: Ballot) -> Result<Receipt, StoreError>;

    /// The key voter ids are signed with, the same on every replica: made
    /// once, by whichever replica asks first, and kept. An error while the
    /// store cannot be reached yet.
    async fn voter_key(&self) -> Result<VoterKey, StoreError>;

    /// Counts one pet page. Never waits on I/O.
    fn count_pet_served(&self);

    /// Pets served across all replicas as last known, without I/O.
    fn pets_served(&self) -> u64;

    /// The round votes go to now, as last known, without I/O.
    fn current_round(&self) -> u64;

    /// The tally read from the store now; when it cannot be read, the last
    /// known one, marked stale.
    async fn read(&self) -> Snapshot;

    /// The last known snapshot, with pets served counted up to now. No I/O.
    fn snapshot(&self) -> Snapshot;

    /// Changes whenever the snapshot does (votes, other replicas' counts, the
    /// store's state); this replica's own page views alone do not wake it.
    fn changes(&self) -> watch::Receiver<Snapshot>;
}

/// Rounds: the current one closed and the next started, and every round so
/// far (see [`crate::rounds`]).
#[async_trait]
pub trait RoundStore: Send + Sync {
    /// Closes round `number` (the current one when `None`), keeping its
    /// results with the options called `names`, and starts the next at
    /// zero. Returns the closed round, with every vote committed before the
    /// close. An error changes nothing; [`StoreError::Conflict`] when
    /// `number` is not the current round.
    async fn close_round(
        &self,
        number: Option<u64>,
        names: [String; 3],
    ) -> Result<Round, StoreError>;

    /// Every round so far, the current one last with its options called
    /// `names`, as last known. No I/O.
    fn rounds(&self, names: &[String; 3]) -> Vec<Round>;
}

/// What the admin console's login shares between replicas.
#[async_trait]
pub trait SessionStore: Send + Sync {
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
}

/// Every replica's record: this one's kept, everyone's read.
pub trait FleetRoster: Send + Sync {
    /// Starts keeping this replica's record, for the fleet, written again
    /// whenever the registration's state changes. Called once, at start.
    fn register(&self, registration: Registration);

    /// Every live replica and the store's servers, as last known. No I/O.
    fn fleet(&self) -> Fleet;
}

/// The fault orders operators give and every replica follows.
#[async_trait]
pub trait FaultOrderStore: Send + Sync {
    /// Stores `command` for its target, merged with the faults already
    /// there; every replica it is for hears of it through
    /// [`fault_orders`](FaultOrderStore::fault_orders). Returns once stored.
    async fn order_faults(
        &self,
        target: &FaultTarget,
        command: &FaultCommand,
    ) -> Result<(), StoreError>;

    /// The fleet's fault order and this replica's, changing as they do.
    fn fault_orders(&self) -> watch::Receiver<FaultOrders>;
}

/// A document of the console's lab guide (see `pets-web`'s `lab`), kept as
/// the guide wrote it, with a version: the store does not read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabDocument {
    /// What a write must name to replace it.
    pub version: u64,
    pub json: String,
}

/// The lab guide's progress, shared by every replica so that it survives
/// any of them: read by all, written by check-and-set.
#[async_trait]
pub trait LabStore: Send + Sync {
    /// The document as this replica last knows it (a store may keep a copy
    /// that lags the latest write by a moment: a check-and-set against it
    /// is refused, never lost); `None` when it was never written.
    async fn lab_read(&self) -> Result<Option<LabDocument>, StoreError>;

    /// Writes `json` if the document is still at version `replaces` (0: not
    /// written yet), and returns its new version. `Ok(None)` when someone
    /// else wrote first; nothing was changed then.
    async fn lab_write(&self, replaces: u64, json: String) -> Result<Option<u64>, StoreError>;
}

/// A place to keep votes, and everything replicas share: each concern a
/// trait of its own, so a reader (or a fake) sees one at a time.
#[async_trait]
pub trait Store:
    VoteStore + RoundStore + SessionStore + FleetRoster + FaultOrderStore + LabStore + 'static
{
    fn kind(&self) -> StoreKind;

    /// A one-line description for the start-up log.
    fn describe(&self) -> String;

    /// Whether what this replica knows of the others (the tally, their
    /// records, the meter) has been read from the store at least once: a
    /// replica that just started sees only itself until it has. The
    /// embedded store always has. No I/O.
    fn caught_up(&self) -> bool {
        true
    }

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
