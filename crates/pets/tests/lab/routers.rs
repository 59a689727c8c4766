//! The prod stack's front door as a visitor outside the cluster meets it:
//! HAProxy on every node (`compose/pets-prod-haproxy.yml`), on 80 and 443,
//! with a certificate from the lab's own CA (`scripts/lab-ca.sh`, as
//! `docs/LAB.md` has a workshop run it). [`through`] reaches one node's
//! router by name; [`RoutedLoad`] is `pets load` run on this machine, as a
//! user types it, sending through the routers of all three nodes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::node::Node;
use crate::rig::Lab;
use crate::support::workspace;
use crate::voters::Count;

pub use pets_web::figures::thousands;

/// The lab's domain: the site is `pets.petslab.test`, the console
/// `admin.petslab.test`.
pub const DOMAIN: &str = "petslab.test";

pub fn pets_host() -> String {
    format!("pets.{DOMAIN}")
}

pub fn admin_host() -> String {
    format!("admin.{DOMAIN}")
}

/// This machine's address on the lab's network: the client every router
/// sees, and so the one pets must see.
pub const CLIENT_ADDRESS: &str = "10.200.0.1";

/// The lab's CA and the site's certificate, made by `scripts/lab-ca.sh`.
pub struct LabCa {
    pub dir: PathBuf,
}

impl LabCa {
    pub fn make() -> Self {
        let dir = workspace().join("target/lab-ca");
        let _ = std::fs::remove_dir_all(&dir);
        let made = Command::new(workspace().join("scripts/lab-ca.sh"))
            .arg(DOMAIN)
            .arg(&dir)
            .output()
            .expect("scripts/lab-ca.sh runs");
        assert!(
            made.status.success(),
            "scripts/lab-ca.sh: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        Self { dir }
    }

    pub fn file(&self, name: &str) -> String {
        self.dir.join(name).to_str().expect("UTF-8").to_owned()
    }

    fn certificate(&self) -> reqwest::Certificate {
        let pem = std::fs::read(self.dir.join("ca.pem")).expect("the lab's CA");
        reqwest::Certificate::from_pem(&pem).expect("a PEM certificate")
    }
}

/// A client that reaches both of the site's names at `node`'s router (on
/// 80 and 443), trusting the lab's CA, following no redirect, keeping no
/// connection (a new one per request, as a router is killed under it).
pub fn through(node: &Node, ca: &LabCa) -> reqwest::Client {
    let ip: std::net::IpAddr = node.ip.parse().expect("a node address");
    reqwest::Client::builder()
        .resolve(&pets_host(), (ip, 0).into())
        .resolve(&admin_host(), (ip, 0).into())
        .add_root_certificate(ca.certificate())
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

/// Waits until every node's router serves the site's health check.
pub async fn every_router_serves(lab: &Lab, ca: &LabCa) {
    for node in &lab.nodes {
        let client = through(node, ca);
        crate::support::eventually(Duration::from_secs(60), "the router serving", || async {
            let answer = client
                .get(format!("https://{}/health", pets_host()))
                .send()
                .await
                .map_err(|e| format!("{}'s router: {e:?}", node.name))?;
            pets_testkit::holds(answer.status(), |s| *s == 200)
        })
        .await;
    }
}

/// Adds `counts`' requests and failures by address (`sent_to`,
/// `failed_at`) to `by`, by the router's address.
fn add(by: &mut BTreeMap<String, (u64, u64)>, counts: &Value) {
    for (addr, n) in counts["sent_to"].as_object().into_iter().flatten() {
        let node = addr.rsplit_once(':').map_or(addr.as_str(), |(ip, _)| ip);
        let entry = by.entry(node.to_owned()).or_default();
        entry.0 += n.as_u64().unwrap_or(0);
        entry.1 += counts["failed_at"][addr].as_u64().unwrap_or(0);
    }
}

/// `pets load` on this machine, through the routers of all three nodes:
/// `--target https://pets.petslab.test --resolve
/// pets.petslab.test:443:<the nodes> --ca-cert ca.pem --json`.
pub struct RoutedLoad {
    child: Child,
    pub started: Instant,
}

/// What a routed load measured: its per-second lines and final report.
pub struct Routed {
    pub seconds: Vec<Value>,
    pub report: Value,
}

impl RoutedLoad {
    /// Starts the driver at `rate` requests a second; with `db` (Consul's
    /// addresses and the file of the load role's token), it publishes to the
    /// console's meter.
    pub fn start(lab: &Lab, ca: &LabCa, rate: u32, db: Option<(&str, &str)>) -> Self {
        let nodes: Vec<&str> = lab.nodes.iter().map(|n| n.ip.as_str()).collect();
        let resolve = format!("{}:443:{}", pets_host(), nodes.join(","));
        let mut command = Command::new(env!("CARGO_BIN_EXE_pets"));
        command
            .args(["load", "--target", &format!("https://{}", pets_host())])
            .args(["--resolve", &resolve, "--ca-cert", &ca.file("ca.pem")])
            .args(["--rate", &rate.to_string(), "--voters", "300", "--json"])
            .env_remove("DB")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some((db, token_file)) = db {
            command.args(["--db", db, "--consul-token-file", token_file]);
        }
        let child = command.spawn().expect("pets load starts");
        Self {
            child,
            started: Instant::now(),
        }
    }

    /// SIGTERM, as Ctrl-C would: the driver waits for answers in flight
    /// and reports.
    pub async fn stop(mut self) -> Routed {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let stdout = self.child.stdout.take().expect("piped");
        tokio::task::spawn_blocking(move || {
            let mut seconds = Vec::new();
            let mut report = Value::Null;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if value["final"] == true {
                    report = value;
                } else {
                    seconds.push(value);
                }
            }
            let status = self.child.wait().expect("pets load ends");
            assert!(status.success(), "pets load: {status}");
            assert!(report.is_object(), "pets load gave its final report");
            Routed { seconds, report }
        })
        .await
        .unwrap()
    }
}

/// A test that fails before [`RoutedLoad::stop`] leaves no driver behind.
impl Drop for RoutedLoad {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Routed {
    pub fn requests(&self) -> u64 {
        self.report["requests"].as_u64().unwrap_or(0)
    }

    pub fn failed(&self) -> u64 {
        self.report["failed"].as_u64().unwrap_or(u64::MAX)
    }

    /// Requests and failures by the router they went to (`10.200.0.11`),
    /// over the seconds `from..` of the run, the end included: what the
    /// final report counts beyond the per-second lines (the requests that
    /// finished after the last of them) belongs to the end.
    pub fn by_router(&self, from: u64) -> BTreeMap<String, (u64, u64)> {
        let all = |from: u64| {
            let mut by = BTreeMap::new();
            let seconds = self
                .seconds
                .iter()
                .filter(|s| s["second"].as_u64() >= Some(from));
            for second in seconds {
                add(&mut by, second);
            }
            by
        };
        let mut by = all(from);
        let mut end = BTreeMap::new();
        add(&mut end, &self.report);
        for (node, (sent, failed)) in all(0) {
            let total = end.entry(node).or_default();
            total.0 = total.0.saturating_sub(sent);
            total.1 = total.1.saturating_sub(failed);
        }
        for (node, (sent, failed)) in end {
            let entry = by.entry(node).or_default();
            entry.0 += sent;
            entry.1 += failed;
        }
        by
    }

    /// Its votes as the tally must count them: each visitor's last accepted
    /// vote, by pet; a failed request may have been a vote committed all
    /// the same, so each counts as unknown.
    pub fn count(&self) -> Count {
        let rounds = self.report["rounds"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(rounds.len() <= 1, "one round throughout: {rounds:?}");
        let mut count = Count::default();
        for round in &rounds {
            for (i, pet) in ["a", "b", "c"].into_iter().enumerate() {
                count.accepted[i] += round["votes"][pet].as_u64().unwrap_or(0);
            }
        }
        count.unknown = self.failed();
        count
    }

    /// `failed of requests` through each node's router, on one line.
    pub fn split(lab: &Lab, by: &BTreeMap<String, (u64, u64)>) -> String {
        let parts: Vec<String> = by
            .iter()
            .map(|(ip, (n, failed))| {
                let node = lab.nodes.iter().find(|n| n.ip == *ip);
                let name = node.map_or(ip.as_str(), |n| n.name.as_str());
                format!("{name} {} of {}", thousands(*failed), thousands(*n))
            })
            .collect();
        parts.join(", ")
    }

    /// The requests and failures through every router but `except`'s.
    pub fn others(by: &BTreeMap<String, (u64, u64)>, except: &str) -> (u64, u64) {
        by.iter()
            .filter(|(ip, _)| *ip != except)
            .fold((0, 0), |(n, f), (_, (sent, failed))| (n + sent, f + failed))
    }
}
