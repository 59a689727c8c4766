//! The prod stack on the lab (`petslab`), as an operator deploys it: the
//! `admin_password` secret, the router's certificate and key (from the
//! lab's CA) and Consul's secrets ([`ConsulSecrets`]) created on a manager, then `docker stack deploy` of
//! `pets-stack.yml`, `pets-prod-compose.yml` and `pets-prod-haproxy.yml`
//! with the local images.
//! Also how the tests talk to it: a console session, and Consul's own view
//! of its servers (asked with the management token).

use std::time::Duration;

use serde_json::Value;

use crate::acl::{consul_get, ConsulSecrets};
use crate::rig::Lab;
use crate::routers::{LabCa, DOMAIN};
use crate::support::{http, try_get_json, Task};

pub const STACK: &str = "petslab";

pub fn service(name: &str) -> String {
    format!("{STACK}_{name}")
}

/// The deployed stack, the console password its secret holds, and the
/// lab's CA, which signed the routers' certificate.
pub struct Prod {
    pub password: String,
    pub ca: LabCa,
    pub consul: ConsulSecrets,
}

impl Prod {
    pub fn deploy(lab: &Lab) -> Self {
        let password = format!("lab-{:016x}", rand::random::<u64>());
        let ca = LabCa::make();
        let manager = lab.manager();
        secret_create(manager, "admin_password", password.as_bytes());
        let read = |name: &str| std::fs::read(ca.dir.join(name)).expect("the lab CA's files");
        secret_create(manager, "pets_tls_cert", &read("site.pem"));
        secret_create(manager, "pets_tls_key", &read("site.key"));
        let consul = ConsulSecrets::make(manager);
        let nodes: Vec<String> = lab.nodes.iter().map(|n| n.ip.clone()).collect();
        let env = [
            // Consul's servers, one per node at the node's own address.
            ("PETS_CONSUL_1", nodes[0].as_str()),
            ("PETS_CONSUL_2", nodes[1].as_str()),
            ("PETS_CONSUL_3", nodes[2].as_str()),
            ("PETS_IMAGE", "pets:1.0"),
            ("CONSUL_IMAGE", "consul-local:1.8.7"),
            ("ROUTER_IMAGE", "haproxy-local:2.6"),
            ("PETS_DOMAIN", DOMAIN),
            // Its image cannot be had here; see docs/LAB.md.
            ("PETS_VISUALIZER_REPLICAS", "0"),
            // The lab's voters are anonymous first votes from this machine's
            // one address, a flood by design: no limit on new voters.
            ("PETS_NEW_VOTERS_PER_MINUTE", "0"),
        ];
        let mut deploy = vec!["stack", "deploy", "--resolve-image", "never"];
        for file in [
            "compose/pets-stack.yml",
            "compose/pets-prod-compose.yml",
            "compose/pets-prod-haproxy.yml",
        ] {
            deploy.extend(["-c", file]);
        }
        deploy.push(STACK);
        manager
            .docker_with(&env, &deploy)
            .unwrap_or_else(|e| panic!("{e}"));
        Self {
            password,
            ca,
            consul,
        }
    }

    /// Logs in on a task's console and returns the session cookie.
    pub async fn login(&self, task: &Task) -> Result<String, String> {
        login_as(task, &self.password).await
    }
}

/// Logs in on a task's console with `password`; the session cookie.
pub async fn login_as(task: &Task, password: &str) -> Result<String, String> {
    let answer = http()
        .post(format!("http://{}:7000/login", task.ip))
        .form(&[("password", password)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if answer.status() != 303 {
        return Err(format!("login answered {}", answer.status()));
    }
    crate::support::session_cookie(&answer).ok_or_else(|| "no session cookie".to_owned())
}

pub fn secret_create(manager: &crate::node::Node, name: &str, value: &[u8]) {
    use std::io::Write;
    let mut child = std::process::Command::new("docker")
        .args(["secret", "create", name, "-"])
        .env("DOCKER_HOST", format!("tcp://{}:2375", manager.ip))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("docker runs");
    child.stdin.take().unwrap().write_all(value).unwrap();
    assert!(
        child.wait().unwrap().success(),
        "docker secret create {name}"
    );
}

/// `GET` a console API with a session.
pub async fn console_json(task: &Task, path: &str, cookie: &str) -> Result<Value, String> {
    let url = format!("http://{}:7000{path}", task.ip);
    let answer = http()
        .get(&url)
        .header("cookie", cookie)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if answer.status() != 200 {
        return Err(format!("GET {url}: {}", answer.status()));
    }
    answer.json().await.map_err(|e| format!("GET {url}: {e}"))
}

pub fn votes(results: &Value) -> [u64; 3] {
    [0, 1, 2].map(|i| results["options"][i]["votes"].as_u64().unwrap_or(0))
}

/// The tally on a task's console, once it is readable.
pub async fn tally(task: &Task, cookie: &str) -> Result<[u64; 3], String> {
    Ok(votes(&console_json(task, "/api/results", cookie).await?))
}

/// Consul's servers as one Consul task sees them.
pub struct Consul;

impl Consul {
    /// The Raft configuration: each server's node name, whether it votes,
    /// whether it leads.
    pub async fn raft(task: &Task) -> Result<Vec<(String, bool, bool)>, String> {
        let url = format!("http://{}:8500/v1/operator/raft/configuration", task.ip);
        let config = consul_get(&url).await?;
        Ok(config["Servers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                (
                    s["Node"].as_str().unwrap_or_default().to_owned(),
                    s["Voter"] == true,
                    s["Leader"] == true,
                )
            })
            .collect())
    }

    /// Autopilot's health: healthy overall, and the servers it counts healthy.
    pub async fn health(task: &Task) -> Result<(bool, usize, Value), String> {
        let url = format!("http://{}:8500/v1/operator/autopilot/health", task.ip);
        let client = http();
        let answer = client
            .get(&url)
            .header("X-Consul-Token", crate::acl::management())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        // 429 means "not healthy", with the same body; with no leader,
        // Consul answers 500 and says so in words.
        let status = answer.status();
        let body = answer.text().await.map_err(|e| e.to_string())?;
        let health: Value = serde_json::from_str(&body)
            .map_err(|_| format!("autopilot health: {status} {}", body.trim()))?;
        let healthy = health["Servers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["Healthy"] == true && s["Voter"] == true)
            .count();
        Ok((health["Healthy"] == true, healthy, health))
    }

    /// Autopilot's word on each server, on one line: what a wait for a
    /// healthy cluster that failed should have shown.
    pub fn servers_health(health: &Value) -> String {
        health["Servers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                format!(
                    "{} {} healthy {} voter {} leader {} serf {} contact {} term {} index {}",
                    s["Name"],
                    s["Address"],
                    s["Healthy"],
                    s["Voter"],
                    s["Leader"],
                    s["SerfStatus"],
                    s["LastContact"],
                    s["LastTerm"],
                    s["LastIndex"]
                )
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// This server's node name and its address in the cluster.
    pub async fn who(task: &Task) -> Result<(String, String), String> {
        let me = consul_get(&format!("http://{}:8500/v1/agent/self", task.ip)).await?;
        Ok((
            me["Config"]["NodeName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            me["Member"]["Addr"].as_str().unwrap_or_default().to_owned(),
        ))
    }

    /// What each of `db`'s servers says of the leader and its peers, on
    /// one line: what a wait that failed should have shown.
    pub async fn views(db: &[(usize, Task)]) -> String {
        let mut views = Vec::new();
        for (node, task) in db {
            let url = |path: &str| format!("http://{}:8500{path}", task.ip);
            let leader = try_get_json(&url("/v1/status/leader"))
                .await
                .map(|v| v.to_string());
            let peers = try_get_json(&url("/v1/status/peers"))
                .await
                .map(|v| v.to_string());
            let who = Consul::who(task).await.map(|w| w.1);
            views.push(format!(
                "node{node} ({}): leader {}, peers {}",
                who.unwrap_or_else(|e| e),
                leader.unwrap_or_else(|e| e),
                peers.unwrap_or_else(|e| e)
            ));
        }
        views.join("; ")
    }

    /// The leader's address (`10.200.0.11:8300`), empty when there is none.
    pub async fn leader(task: &Task) -> Result<String, String> {
        let leader = try_get_json(&format!("http://{}:8500/v1/status/leader", task.ip)).await?;
        Ok(leader.as_str().unwrap_or_default().to_owned())
    }
}
