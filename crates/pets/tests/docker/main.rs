//! The image and the stacks on this machine's real Docker engine.
//!
//! The images come from `scripts/local-images.sh` (nothing can be pulled
//! here). The Swarm test deploys the dev stack for real, on whatever Swarm
//! state the engine is in (see [`engine`]); everything a run makes carries
//! the suite's label or the `petstest` name, so an interrupted run's
//! leftovers are removed by the next run or by `scripts/reset-engine.sh`.
//! This engine's kernel has no IPVS, so Swarm's routing mesh and service VIPs
//! do not work on it; the tests reach each task at its address on
//! `docker_gwbridge`, and pets finds Consul through `tasks.db`, which needs
//! neither.

mod engine;
mod guide;
mod image;
mod rollout;
mod stack;
use pets_testkit::docker as support;
mod swarm;
