//! The seam between the service and the Docker engine: what an instance is,
//! what it takes to make one, and the few calls the service makes.
//!
//! The engine is the only state: every instance is a container labelled
//! with its id, client, version and times, so a restarted `pets paas` reads
//! them back with [`Engine::list`] and adopts them. [`docker`] implements the
//! trait on one Docker engine (an instance is a container), [`swarm`] on a
//! Swarm (an instance is a service of one task, placed and moved by Swarm),
//! both with bollard; tests of the service's rules use a fake.

mod archive;
mod calls;
pub mod docker;
mod labels;
pub mod subnets;
pub mod swarm;

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use pets_store::domain::VoterName;
use secrecy::SecretString;

use crate::id::InstanceId;

pub use labels::Labels;

/// The two versions a visitor may choose, each a tag of the pets image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

impl Version {
    /// The form's spelling; an empty field is 1.0.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "" | "1.0" => Some(Self::V1),
            "2.0" => Some(Self::V2),
            _ => None,
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Self::V1 => "1.0",
            Self::V2 => "2.0",
        }
    }
}

/// Everything the engine needs to make one instance; every field was made
/// or validated by the service.
#[derive(Debug)]
pub struct Spec {
    pub id: InstanceId,
    pub version: Version,
    /// The three pets' names; `None` keeps the image's default.
    pub options: [Option<VoterName>; 3],
    /// The instance console's password, written to a file in the container.
    pub password: SecretString,
    pub client: IpAddr,
    pub created_at: SystemTime,
    pub expires_at: SystemTime,
    /// The service's domain: the instance answers `<id>.<domain>` and
    /// `<id>-admin.<domain>` only.
    pub domain: String,
    /// The node with the most room, where a Swarm first places it (one
    /// engine has a single node).
    pub node: Option<String>,
}

impl Spec {
    /// The pet site's and the console's host names.
    pub fn hosts(&self) -> (String, String) {
        (
            format!("{}.{}", self.id, self.domain),
            format!("{}-admin.{}", self.id, self.domain),
        )
    }
}

/// An instance as the engine knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub id: InstanceId,
    pub version: Version,
    pub client: IpAddr,
    pub created_at: SystemTime,
    pub expires_at: SystemTime,
    /// Its address on its own network, once it runs.
    pub address: Option<IpAddr>,
    pub running: bool,
    /// The machine it runs on, when the engine has said.
    pub node: Option<String>,
    /// How many times it was started afresh, each time without the votes
    /// it held in memory: a Swarm starts a new task when its node is lost
    /// (or its task stops); one engine never restarts a container.
    pub restarts: u32,
}

impl Instance {
    /// Time left at `now` (zero once expired).
    pub fn time_left(&self, now: SystemTime) -> Duration {
        self.expires_at.duration_since(now).unwrap_or_default()
    }
}

/// A machine instances run on, as the engine knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    /// Whether the engine can place instances there now (a Swarm node that
    /// is down, drained or paused is not).
    pub ready: bool,
    /// Whether its instances run: a paused or drained node's do, until
    /// Swarm moves them; a node that is down has none running.
    pub up: bool,
}

/// What an instance uses, from the engine's stats.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub memory_bytes: u64,
    pub cpu_percent: f64,
}

/// An engine call that failed, with the engine's own words.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the Docker engine cannot be reached: {0}")]
    Unreachable(String),
    #[error("the Docker engine refused to {action}: {message}")]
    Refused {
        action: &'static str,
        message: String,
    },
}

/// The calls the service makes on the engine.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Makes and starts an instance: its network, its volume holding the
    /// password file, its container. On failure nothing made is left.
    async fn create(&self, spec: &Spec) -> Result<Instance, EngineError>;
    /// Every instance container, running or not.
    async fn list(&self) -> Result<Vec<Instance>, EngineError>;
    /// The machines instances run on (one for a standalone engine), by
    /// name, for the room they have and the operator console's view.
    async fn nodes(&self) -> Result<Vec<Node>, EngineError>;
    /// Stops and removes an instance and everything made for it. Removing
    /// what is already gone succeeds.
    async fn remove(&self, id: &InstanceId) -> Result<(), EngineError>;
    /// One sample of an instance's memory and CPU.
    async fn usage(&self, id: &InstanceId) -> Result<Usage, EngineError>;
    /// Moves an instance's end to `at` (an operator's extension). It is
    /// kept with the instance, so a restarted service reads it back, and
    /// the instance's own countdown shows it.
    async fn set_expiry(&self, id: &InstanceId, at: SystemTime) -> Result<(), EngineError>;
    /// How often the service reads the instances back: where they run,
    /// and at which address, can change behind its back on a Swarm.
    fn resync_every(&self) -> Duration {
        Duration::from_secs(30)
    }
}
