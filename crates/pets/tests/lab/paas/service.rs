//! `pets paas` as the lab runs it: in a container on a manager, with the
//! engine's socket, reached at that node's port 8000; and what Swarm says
//! of its instances (where each task runs, at which address), read with
//! the Docker CLI on the manager.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::node::Node;
use crate::rig::Lab;
use crate::support::{first_cookie, password_on, try_docker};

pub const DOMAIN: &str = "paas.test";
pub const CONTAINER: &str = "petslab-paas";
pub const INSTANCES: u8 = 9;
/// Long enough for every step before the expiry, which waits for it.
pub const TTL: Duration = Duration::from_secs(180);
/// The operator console's password, in a file on the node.
pub const OPERATOR_PASSWORD: &str = "operator passphrase";
/// Where that file is, on the node and in `pets paas`'s container.
const OPERATOR_FILE: &str = "/run/paas-operator-password";

/// `pets paas` as it runs on node1, reached at node1's port 8000.
pub struct SwarmPaas {
    /// The node it runs on, for its logs.
    pub node: Node,
    pub base: String,
    client: reqwest::Client,
}

impl SwarmPaas {
    /// Starts `pets paas` (PAAS_MODE=swarm) in a container on `node`, with
    /// the engine's socket, and waits for its landing page.
    pub async fn start(node: &Node) -> Self {
        // As docs/PAAS.md runs it: the image's user, in the socket's group.
        let group = try_docker(&[
            "exec",
            &node.container(),
            "stat",
            "-c",
            "%g",
            "/var/run/docker.sock",
        ])
        .expect("the node's engine socket");
        // The operator's password, readable by the image's user.
        let write = format!("umask 022; printf %s '{OPERATOR_PASSWORD}' > {OPERATOR_FILE}");
        try_docker(&["exec", &node.container(), "sh", "-c", &write])
            .expect("the operator's password file on the node");
        node.docker(&[
            "run",
            "-d",
            "--name",
            CONTAINER,
            "--group-add",
            group.trim(),
            "--no-healthcheck",
            "-p",
            "8000:8000",
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock",
            "-v",
            &format!("{OPERATOR_FILE}:{OPERATOR_FILE}:ro"),
            "-e",
            &format!("ADMIN_PASSWORD_FILE={OPERATOR_FILE}"),
            "-e",
            "PAAS_MODE=swarm",
            "-e",
            &format!("PAAS_DOMAIN={DOMAIN}"),
            "-e",
            "PAAS_MAX_INSTANCES=12",
            "-e",
            "PAAS_MAX_PER_NODE=4",
            "-e",
            &format!("PAAS_TTL={}s", TTL.as_secs()),
            "-e",
            "PAAS_CREATIONS_PER_MINUTE=100",
            "-e",
            "PAAS_TRUSTED_PROXIES=10.0.0.0/8",
            "pets:1.0",
            "paas",
        ])
        .unwrap_or_else(|e| panic!("pets paas on {}: {e}", node.name));
        let paas = Self {
            node: node.clone(),
            base: format!("http://{}:8000", node.ip),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        };
        paas.wait_landing(node).await;
        paas
    }

    pub async fn wait_landing(&self, node: &Node) {
        let started = Instant::now();
        while self.get(DOMAIN, "/").await.map(|(s, _)| s) != Ok(200) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "pets paas on {} never served its landing page: {}",
                node.name,
                node.docker(&["logs", "--tail", "30", CONTAINER])
                    .unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub fn logs(&self) -> String {
        self.node
            .docker(&["logs", "--tail", "30", CONTAINER])
            .unwrap_or_default()
    }

    pub async fn get(&self, host: &str, path: &str) -> Result<(u16, String), String> {
        let answer = self
            .client
            .get(format!("{}{path}", self.base))
            .header("host", host)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = answer.status().as_u16();
        Ok((status, answer.text().await.unwrap_or_default()))
    }

    /// Makes an instance for visitor `n` (an address of its own, through
    /// the trusted proxy's header); its id and console password.
    pub async fn create(&self, n: u8) -> (String, String) {
        let visitor = format!("192.0.2.{n}");
        let answer = self
            .client
            .post(format!("{}/instances", self.base))
            .header("host", DOMAIN)
            .header("x-forwarded-for", &visitor)
            .form(&[("version", "1.0")])
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let cookie = first_cookie(&answer);
        let location = answer
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let body = answer.text().await.unwrap_or_default();
        assert_eq!(
            status,
            303,
            "creation {n}: {body}\npets paas:\n{}",
            self.logs()
        );
        let location = location.expect("a 303 has a location");
        let id = location.trim_start_matches("/instances/").to_owned();
        let page = self
            .client
            .get(format!("{}{location}", self.base))
            .header("host", DOMAIN)
            .header("x-forwarded-for", &visitor)
            .header("cookie", cookie.expect("a claim cookie"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (id, password_on(&page).expect("the password, once"))
    }

    /// Logs in to an instance's console; whether the password was taken.
    pub async fn login(&self, id: &str, password: &str) -> bool {
        let answer = self
            .client
            .post(format!("{}/login", self.base))
            .header("host", format!("{id}-admin.{DOMAIN}"))
            .form(&[("password", password)])
            .send()
            .await
            .unwrap();
        answer.status() == 303
    }
}

/// The node each instance's running task is on, as Swarm says.
pub fn placement(lab: &Lab, ids: &[String]) -> BTreeMap<String, String> {
    let manager = lab.manager();
    ids.iter()
        .filter_map(|id| {
            let service = format!("pets-paas-{id}");
            let nodes = manager
                .docker(&[
                    "service",
                    "ps",
                    &service,
                    "--filter",
                    "desired-state=running",
                    "--format",
                    "{{.Node}} {{.CurrentState}}",
                ])
                .ok()?;
            let running = nodes.lines().find(|l| l.contains("Running"))?;
            Some((id.clone(), running.split(' ').next()?.to_owned()))
        })
        .collect()
}

/// The address of `id`'s running task on its own network, as Swarm says.
pub fn task_address(lab: &Lab, id: &str) -> String {
    let manager = lab.manager();
    let service = format!("pets-paas-{id}");
    let task = manager
        .docker(&[
            "service",
            "ps",
            "-q",
            "--filter",
            "desired-state=running",
            &service,
        ])
        .expect("the instance's task");
    let task = task.lines().next().expect("one running task");
    let format = "{{range .NetworksAttachments}}{{range .Addresses}}{{.}} {{end}}{{end}}";
    let addresses = manager
        .docker(&["inspect", "--type", "task", "-f", format, task])
        .expect("the task's addresses");
    let address = addresses.split_whitespace().next().expect("an address");
    address.split('/').next().unwrap().to_owned()
}

/// Whether a probe container on `node`, on `id`'s network, opens a TCP
/// connection to `ip:5000` within 3 s.
pub fn reaches(node: &Node, id: &str, ip: &str) -> bool {
    let network = format!("pets-paas-{id}");
    let script = format!("timeout 3 bash -c '</dev/tcp/{ip}/5000'");
    node.docker(&[
        "run",
        "--rm",
        "--network",
        &network,
        "pets-debian-local:bookworm",
        "bash",
        "-c",
        &script,
    ])
    .is_ok()
}

/// Waits until every instance's site answers 200 through the proxy.
pub async fn all_serve(paas: &SwarmPaas, ids: &[String], within: Duration) {
    let started = Instant::now();
    for id in ids {
        let host = format!("{id}.{DOMAIN}");
        loop {
            match paas.get(&host, "/vote").await {
                Ok((200, page)) if page.contains("<form") => break,
                other => assert!(
                    started.elapsed() < within,
                    "{host} never served its page: {other:?}\npets paas said:\n{}",
                    paas.logs()
                ),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
