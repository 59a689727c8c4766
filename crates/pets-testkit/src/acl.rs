//! A real Consul server with ACLs on and a default-deny policy, as the prod
//! stack runs it, on 127.0.0.21 (apart from [`Cluster`](crate::Cluster)'s
//! addresses): one per test binary, shared by the tests of pets' roles, each
//! under its own KV prefix. It runs in Consul's dev mode (one server, its
//! data in memory), which enforces ACLs as a production cluster does.

use std::process::Child;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::cluster::{consul_binary, spawn};

/// Where the server listens.
pub const ACL_SERVER: &str = "127.0.0.21";

pub struct AclConsul {
    _server: Child,
    /// The management token (the operator's).
    pub management: String,
}

static SHARED: OnceLock<AclConsul> = OnceLock::new();

impl AclConsul {
    /// The shared server, started on first use, once it knows its
    /// management token.
    pub async fn shared() -> &'static AclConsul {
        let consul = SHARED.get_or_init(AclConsul::start);
        consul.wait_ready(Duration::from_secs(60)).await;
        consul
    }

    fn start() -> Self {
        // A server left over from a run that was killed holds the ports.
        let _ = std::process::Command::new("pkill")
            .args(["-f", "pets-consul-acl-[0-9]+"])
            .status();
        std::thread::sleep(Duration::from_millis(300));
        let management = "5e1f0c7a-0d1e-4c53-9b5e-ac1000000001".to_owned();
        let dir = std::env::temp_dir().join(format!("pets-consul-acl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("acl.hcl");
        std::fs::write(
            &config,
            format!(
                "acl {{\n  enabled = true\n  default_policy = \"deny\"\n  \
                 down_policy = \"extend-cache\"\n  tokens {{ master = \"{management}\" }}\n}}\n"
            ),
        )
        .unwrap();
        let mut command = std::process::Command::new(consul_binary());
        command
            .args([
                "agent",
                "-dev",
                "-log-level=warn",
                "-dns-port=-1",
                "-grpc-port=-1",
            ])
            .arg(format!("-bind={ACL_SERVER}"))
            .arg(format!("-client={ACL_SERVER}"))
            .arg(format!("-config-file={}", config.display()));
        Self {
            _server: spawn(command),
            management,
        }
    }

    /// `DB` for pets.
    pub fn db(&self) -> String {
        format!("{ACL_SERVER}:8500")
    }

    /// Waits until the server answers the management token.
    async fn wait_ready(&self, limit: Duration) {
        let started = Instant::now();
        loop {
            let (status, _) = self
                .call("GET", "/v1/acl/token/self", &self.management, None)
                .await;
            if status == 200 {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "Consul with ACLs not ready after {limit:?} (last answer {status})"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// One call with `token` (empty: none): the status (0 when no answer)
    /// and the body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> (u16, String) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = http.request(method, format!("http://{}{path}", self.db()));
        if !token.is_empty() {
            request = request.header("X-Consul-Token", token);
        }
        if let Some(body) = body {
            request = request.body(body.to_owned());
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        }
    }
}
