//! The lab on a real three-node Swarm: the prod stack deployed, votes across
//! nodes, a node lost and brought back, a node drained, a rolling update
//! across nodes, Consul's quorum lost and regained, and Consul's least
//! privilege (ACLs, gossip encryption, a token per role); the projector's
//! page following the node's loss and return. `docs/LAB.md` walks
//! a workshop through the same steps. A second test, the [`nemesis`], cuts,
//! pauses and kills at random on the same rig and checks every vote.
//!
//! The nodes are Docker engines in containers on this machine ([`rig`]):
//! `--privileged` is refused here, and the kernel has no IPVS, so there is no
//! routing mesh and no VIP. The rig gives each node its own address pool and
//! routes this machine to each node's `docker_gwbridge`, so the tests reach
//! every task at its own address, as on the one-node Swarm; Consul's
//! servers, on the nodes' own network, at the nodes' addresses.

use pets_testkit::docker as support;

mod acl;
mod nemesis;
mod node;
mod paas;
mod prod;
mod projector;
mod rig;
mod routers;
mod steps;
mod voters;
