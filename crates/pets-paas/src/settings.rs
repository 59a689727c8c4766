//! What `pets paas` runs with. The `pets` binary reads these from its
//! command line and environment (`pets paas --help` lists them); tests
//! build them directly.

use std::time::Duration;

use secrecy::SecretString;

/// The service's settings.
#[derive(Debug, Clone)]
pub struct PaasSettings {
    /// `PAAS_PORT`: the landing page and every proxied instance.
    pub port: u16,
    /// `PAAS_PUBLIC_PORT`: the port visitors use, when a router in front
    /// listens on another (80 behind the compose file's router); by default
    /// the port listened on.
    pub public_port: Option<u16>,
    /// `PAAS_BIND`: the address to listen on.
    pub bind: std::net::IpAddr,
    /// `PAAS_DOMAIN`: instances are `<id>.<domain>` and `<id>-admin.<domain>`.
    pub domain: String,
    /// `PAAS_TTL`: how long an instance lives.
    pub ttl: Duration,
    /// `PAAS_MAX_INSTANCES`: how many may run at once.
    pub max_instances: usize,
    /// `PAAS_MAX_PER_NODE`: how many one node holds; by default the cap.
    pub max_per_node: Option<usize>,
    /// `PAAS_NAME`: which service's instances these are, on an engine that
    /// runs more than one (a label on each; the service adopts only its own).
    pub name: String,
    /// `PAAS_SUBNETS`: the pool instance networks take a /28 each from.
    pub subnets: ipnet::Ipv4Net,
    /// `PAAS_IMAGE`: the pets image's repository; the version picks its tag.
    pub image: String,
    /// `PAAS_CREATIONS_PER_CLIENT`: creations one address may make per hour.
    pub creations_per_client_per_hour: u32,
    /// `PAAS_CREATIONS_PER_MINUTE`: creations everyone together may make per
    /// minute.
    pub creations_per_minute: u32,
    /// `ADMIN_PASSWORD_FILE`: the operator console's password; without it
    /// the console is closed.
    pub admin_password: Option<SecretString>,
    /// `PAAS_TRUSTED_PROXIES`: proxies whose forwarding headers name the
    /// visitor (a router in front); none by default.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `PAAS_MODE`: containers on one engine, or services on a Swarm.
    pub mode: Mode,
    /// `PAAS_CONTAINER`: on a Swarm, the container the service runs in.
    pub container: Option<String>,
}

/// Where instances run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A Swarm when the engine is a manager, else one engine.
    Auto,
    /// Services on a Swarm.
    Swarm,
    /// Containers on one engine.
    Standalone,
}
