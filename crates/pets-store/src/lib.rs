//! Where pets keeps its votes and counters.
//!
//! The web crate talks to a [`Store`] and never knows which one it has:
//! [`MemoryStore`] keeps everything in this process (the zero-configuration
//! mode), [`ConsulStore`] keeps it in a Consul cluster shared by every replica.
//! The domain types in [`domain`] are parsed once at the edge, so a store only
//! ever sees valid voter ids, names and choices.

pub mod consul;
pub mod domain;
mod memory;
mod store;

pub use consul::{ConsulSettings, ConsulStore};
pub use domain::{Ballot, PetChoice, VoterId, VoterName};
pub use memory::MemoryStore;
pub use store::{Store, StoreError, StoreStatus, Tally};
