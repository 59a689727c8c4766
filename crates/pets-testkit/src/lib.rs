//! What the tests and the benchmark share: a real three-server Consul
//! cluster on loopback ([`Cluster`]), one way to wait for something to
//! become true ([`eventually`]), a real browser ([`browser`]), and what the
//! hardening tests attack servers with ([`attack`]).

pub mod attack;
pub mod browser;
mod cluster;
mod wait;

pub use cluster::{Cluster, SERVERS, SPARE};
pub use wait::{eventually, holds, Attempt};
