//! What the tests and the benchmark share: a real three-server Consul
//! cluster on loopback ([`Cluster`]), and one way to wait for something to
//! become true ([`eventually`]), and a real browser ([`browser`]).

pub mod browser;
mod cluster;
mod wait;

pub use cluster::{Cluster, SERVERS};
pub use wait::{eventually, holds, Attempt};
