//! The image and the stacks on this machine's real Docker engine.
//!
//! The images come from `scripts/local-images.sh` (nothing can be pulled
//! here). The Swarm test deploys the dev stack for real. This engine's kernel
//! has no IPVS, so Swarm's routing mesh and service VIPs do not work on it;
//! the tests reach each task at its address on `docker_gwbridge`, and pets
//! finds Consul through `tasks.db`, which needs neither.

mod image;
mod support;
mod swarm;
