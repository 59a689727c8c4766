//! What the web layer is configured with. The binary reads these from the
//! environment; tests build them directly.

use std::path::PathBuf;

use ipnet::IpNet;
use pets_store::PetChoice;

/// The names shown for the three options (`OPTION_A`, `OPTION_B`, `OPTION_C`).
#[derive(Debug, Clone)]
pub struct PetOptions([String; 3]);

impl PetOptions {
    pub fn new(a: String, b: String, c: String) -> Self {
        Self([a, b, c])
    }

    pub fn name(&self, choice: PetChoice) -> &str {
        &self.0[choice.index()]
    }

    /// The three names, in option order.
    pub fn names(&self) -> &[String; 3] {
        &self.0
    }
}

impl Default for PetOptions {
    fn default() -> Self {
        Self::new("Cats".into(), "Dogs".into(), "Whales".into())
    }
}

#[derive(Debug, Clone)]
pub struct WebSettings {
    pub options: PetOptions,
    /// `PETS_VERSION`: shown on the pages; `2.0` changes the colours, and
    /// `broken` turns unhealthy 20 s after start (see `faults`).
    pub version: String,
    /// `DEBUG`: read templates and static files from `web_root` on every
    /// request instead of from the binary.
    pub debug: bool,
    pub web_root: PathBuf,
    /// `PICTURES_DIR`: `option_a`, `option_b`, `option_c` folders here replace
    /// the built-in pictures.
    pub pictures_dir: PathBuf,
    /// The name shown as "processed by container".
    pub hostname: String,
    /// The replica's id as the fleet knows it (host name and a random
    /// suffix), sent with every answer of the voter site as `X-Pets-Replica`.
    pub replica: String,
    /// `METRICS_TOKEN_FILE`: the bearer token `/metrics` asks for; open
    /// without one.
    pub metrics_token: Option<secrecy::SecretString>,
    /// `PETS_FAULT_*`: faults in force from the start.
    pub faults: pets_store::FaultSpec,
    /// `PETS_CHAOS`: whether `/kill`, `PUT /health` and injected faults
    /// work (default on).
    pub chaos: bool,
    /// `PETS_TRUSTED_PROXIES`: proxies whose forwarding headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `PETS_ALLOWED_HOSTS`: the host names pets answers to; empty for any.
    pub allowed_hosts: Vec<String>,
    /// `PETS_PUBLIC_URL`: the voter site's address as the room reaches it,
    /// for the join panel; unset, it comes from the console's own address.
    pub public_url: Option<crate::hosts::PublicUrl>,
    /// `WEB_PORT`: the voter site's port, for the join panel.
    pub web_port: u16,
    /// `PETS_LOGIN_FAILURES_PER_MINUTE`: failed admin logins the whole
    /// service takes in a minute before it refuses logins until the next.
    pub login_failures_per_minute: u64,
    /// `PETS_NEW_VOTERS_PER_MINUTE`: new voters one client address may
    /// bring per minute (a minute's worth at once); 0 for no limit.
    pub new_voters_per_minute: u64,
    /// `PETS_EXPIRES_AT` (Unix seconds): when this pets will be removed, for
    /// a throwaway instance of Pets as a Service; every page counts down.
    pub expires_at: Option<u64>,
    /// `PETS_EXPIRES_AT_FILE`: a file holding a later end (Unix seconds),
    /// written when the service extends this pets; read at each page.
    pub expires_at_file: Option<PathBuf>,
}

impl WebSettings {
    /// Settings for unit tests and the fuzzer: the defaults, the built-in
    /// pages and pictures, chaos off, no limit on new voters.
    #[doc(hidden)]
    pub fn example() -> Self {
        Self {
            options: PetOptions::default(),
            version: "1.0".into(),
            debug: false,
            web_root: "web".into(),
            pictures_dir: "/nonexistent".into(),
            hostname: "example".into(),
            replica: "example-000000".into(),
            metrics_token: None,
            faults: Default::default(),
            chaos: false,
            trusted_proxies: Vec::new(),
            allowed_hosts: Vec::new(),
            public_url: None,
            web_port: 5000,
            login_failures_per_minute: 10,
            new_voters_per_minute: 0,
            expires_at: None,
            expires_at_file: None,
        }
    }

    /// The colour scheme for this version.
    pub fn theme(&self) -> &'static str {
        if self.version.starts_with('2') {
            "night"
        } else {
            "day"
        }
    }
}
