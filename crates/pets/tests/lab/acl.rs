//! The prod stack's Consul secrets, made as an operator makes them
//! (`scripts/consul-secrets.sh` against the lab's manager), and how the
//! tests speak to a Consul with ACLs on: with the management token, which
//! only the operator (and the `consul-acl` job) holds.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

use crate::node::Node;
use crate::support::{try_get_json_with, workspace};

/// The secrets' copies: `management.token`, `web.token`, `load.token`, `agent.token`,
/// `gossip.key`, `consul-server.hcl`.
pub struct ConsulSecrets {
    pub dir: PathBuf,
}

/// The management token of the rig's current Consul (each test that
/// deploys the prod stack makes new secrets).
static MANAGEMENT: Mutex<String> = Mutex::new(String::new());

impl ConsulSecrets {
    /// Runs `scripts/consul-secrets.sh` against `manager`'s engine.
    pub fn make(manager: &Node) -> Self {
        let dir = workspace().join("target/lab-consul-secrets");
        let _ = std::fs::remove_dir_all(&dir);
        let made = Command::new(workspace().join("scripts/consul-secrets.sh"))
            .arg(&dir)
            .env("DOCKER_HOST", format!("tcp://{}:2375", manager.ip))
            .output()
            .expect("scripts/consul-secrets.sh runs");
        assert!(
            made.status.success(),
            "scripts/consul-secrets.sh: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let secrets = Self { dir };
        *MANAGEMENT.lock().unwrap() = secrets.read("management.token");
        secrets
    }

    /// A copy's first line.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name))
            .expect("the secrets' copies")
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// The management token, once the secrets are made.
pub fn management() -> String {
    MANAGEMENT.lock().unwrap().clone()
}

/// `GET url` from Consul with the management token, as JSON.
pub async fn consul_get(url: &str) -> Result<Value, String> {
    try_get_json_with(url, &[("X-Consul-Token", &management())]).await
}
