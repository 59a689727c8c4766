//! Where pets keeps its votes and counters.
//!
//! The web crate talks to a [`Store`] and never knows which one it has:
//! [`MemoryStore`] keeps everything in this process (the zero-configuration
//! mode), [`ConsulStore`] keeps it in a Consul cluster shared by every replica.
//! Either keeps one [`Snapshot`] of the results current. The domain types in
//! [`domain`] are parsed once at the edge, so a store only ever sees valid
//! voter ids, names and choices.

pub mod clock;
pub mod consul;
pub mod domain;
pub mod faults;
pub mod fleet;
mod memory;
pub mod meter;
mod revoked;
pub mod rounds;
mod snapshot;
mod store;
pub mod sync;

pub use clock::{minute_now, now_rfc3339, unix_millis, unix_now};
pub use consul::{ConsulSettings, ConsulStore, MeterPublisher, TargetError, Targets};
pub use domain::{Ballot, BallotRef, PetChoice, Receipt, VoterId, VoterKey, VoterName};
pub use faults::{ActiveFaults, FaultCommand, FaultOrder, FaultOrders, FaultSpec, FaultTarget};
pub use fleet::{
    Fleet, FleetStore, Presence, Registration, ReplicaIdentity, ReplicaRecord, ReplicaState,
    ServerInfo,
};
pub use memory::MemoryStore;
pub use meter::{DriverSeries, Meter, MeterSecond};
pub use revoked::RevokedSessions;
pub use rounds::{Round, RoundOption};
pub use snapshot::{Snapshot, StoreKind, StoreStatus, Tally};
pub use store::{
    FaultOrderStore, FleetRoster, LabDocument, LabStore, RoundStore, SessionStore, Store,
    StoreError, VoteStore,
};
