//! Pets as a Service: every visitor gets a throwaway pets of their own, on
//! its own subdomain, for a limited time.
//!
//! [`settings`] is what it runs with; [`engine`] is the seam to the Docker
//! engine (containers, their networks and volumes, labelled so the engine
//! holds all the state); [`registry`] applies the service's rules over it
//! (the cap, one instance per client, rate limits, expiry); [`state`] is
//! what the handlers share. [`app`] dispatches by `Host`: the service's own
//! pages ([`visitors`], and [`operator`], the console behind its [`gate`]),
//! and the instances through [`proxy`]. The `pets` binary wires these
//! (`pets paas`) and serves the router on its hardened server, until its
//! one cancellation token stops [`expire`] and the server.

pub mod app;
pub mod engine;
pub mod gate;
pub mod host;
pub mod id;
mod limits;
pub mod operator;
pub mod pages;
mod password;
pub mod proxy;
pub mod registry;
pub mod settings;
pub mod state;
pub mod visitors;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

pub use app::router;
pub use engine::docker::DockerEngine;
pub use engine::swarm::SwarmEngine;
pub use registry::{Registry, Rules};
pub use settings::PaasSettings;
pub use state::Paas;

/// How often expiry is checked.
const REAP_EVERY: Duration = Duration::from_secs(1);

impl From<&PaasSettings> for Rules {
    fn from(s: &PaasSettings) -> Self {
        Rules {
            domain: s.domain.clone(),
            ttl: s.ttl,
            max_instances: s.max_instances,
            max_per_node: s.max_per_node.unwrap_or(s.max_instances),
            creations_per_client_per_hour: s.creations_per_client_per_hour,
            creations_per_minute: s.creations_per_minute,
        }
    }
}

/// Removes instances as their time comes, until `stop` is cancelled.
pub async fn expire(registry: Arc<Registry>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(REAP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_resync = tokio::time::Instant::now();
    while stop.run_until_cancelled(tick.tick()).await.is_some() {
        registry.reap(SystemTime::now()).await;
        if last_resync.elapsed() >= registry.resync_every() {
            last_resync = tokio::time::Instant::now();
            if let Err(e) = registry.resync().await {
                tracing::warn!("cannot read the instances from the Docker engine: {e}");
            }
        }
    }
}
