//! What the tests and the benchmark share: a real three-server Consul
//! cluster on loopback ([`Cluster`]), a Consul server with ACLs on
//! ([`AclConsul`]), one way to wait for something to
//! become true ([`eventually`]), a real browser ([`browser`]), and what the
//! hardening tests attack servers with ([`attack`]), and the Docker
//! engine as the image, stack, lab and PaaS tests drive it ([`docker`]).

/// A TCP port nobody holds now, on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("loopback has a free port")
}

mod acl;
pub mod attack;
pub mod browser;
mod cluster;
pub mod docker;
mod wait;

pub use acl::{AclConsul, ACL_SERVER};
pub use cluster::{consul_binary, Cluster, SERVERS, SPARE};
pub use wait::{eventually, holds, Attempt};
