//! A real three-server Consul cluster on 127.0.0.11-13 with Consul's default
//! ports, for the tests and the benchmark.
//!
//! Tests share one cluster per test binary through [`Cluster::lock`], held
//! for a whole test, so one that kills servers never disturbs another; each
//! uses its own KV prefix. The benchmark starts its own with
//! [`Cluster::start`]. The servers are children of a thread that lives as
//! long as the process, with a parent-death signal, so none outlives it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const SERVERS: [&str; 3] = ["127.0.0.11", "127.0.0.12", "127.0.0.13"];
/// Where a server may be moved to, as Swarm restarts a task on a new
/// address ([`Cluster::move_server`]).
pub const SPARE: &str = "127.0.0.14";

pub struct Cluster {
    data: PathBuf,
    children: [Option<Child>; 3],
    /// Each server's address now: its home in [`SERVERS`], unless moved.
    addresses: [&'static str; 3],
}

static CLUSTER: OnceLock<tokio::sync::Mutex<Cluster>> = OnceLock::new();

/// Where the Consul binary is: `CONSUL_BIN`, `.tools/consul` (what
/// `scripts/install-deps.sh` installs) or `consul` on the PATH.
pub fn consul_binary() -> PathBuf {
    if let Ok(bin) = std::env::var("CONSUL_BIN") {
        return PathBuf::from(bin);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tools = workspace.join(".tools/consul/usr/bin/consul");
    if tools.exists() {
        return tools;
    }
    if let Some(found) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("consul"))
            .find(|p| p.exists())
    }) {
        return found;
    }
    panic!(
        "Consul is not installed: these tests need a real cluster. \
         Run scripts/install-deps.sh (or set CONSUL_BIN)."
    );
}

/// Spawns processes from one thread that never exits, so the children's
/// parent-death signal fires only when the test binary ends.
pub(crate) fn spawn(mut command: Command) -> Child {
    type Request = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::spawn(move || {
            for (mut command, reply) in rx {
                // SAFETY: prctl is async-signal-safe and touches no memory.
                unsafe {
                    command.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        Ok(())
                    });
                }
                let _ = reply.send(command.spawn());
            }
        });
        Mutex::new(tx)
    });
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let (reply, answer) = mpsc::channel();
    spawner.lock().unwrap().send((command, reply)).unwrap();
    answer.recv().unwrap().expect("consul starts")
}

impl Cluster {
    /// The shared cluster, started on first use, for this test alone.
    pub async fn lock() -> tokio::sync::MutexGuard<'static, Cluster> {
        let cluster = CLUSTER.get_or_init(|| tokio::sync::Mutex::new(Cluster::start()));
        let mut guard = cluster.lock().await;
        guard.start_missing();
        guard.wait_for_leader(Duration::from_secs(60)).await;
        guard.wait_for_three_voters(Duration::from_secs(120)).await;
        guard
    }

    /// Starts three fresh servers (killing any an earlier run left behind).
    pub fn start() -> Self {
        let data = std::env::temp_dir().join(format!("pets-consul-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        // Servers left over from an earlier run that was killed hold the ports.
        let _ = Command::new("pkill")
            .args(["-f", "pets-consul-[0-9]+/s"])
            .status();
        std::thread::sleep(Duration::from_millis(300));
        let mut cluster = Self {
            data,
            children: [None, None, None],
            addresses: SERVERS,
        };
        cluster.start_missing();
        cluster
    }

    /// Starts every server that is down, each at its home address (a moved
    /// one goes back).
    pub fn start_missing(&mut self) {
        for (i, home) in SERVERS.into_iter().enumerate() {
            if self.addresses[i] != home {
                self.kill(i);
                self.addresses[i] = home;
            }
            if self.children[i].is_none() {
                self.start_server(i);
            }
        }
    }

    /// Kills server `i` and starts it again at `address`, with its name and
    /// its data: a task Swarm restarted elsewhere on the network.
    pub fn move_server(&mut self, i: usize, address: &'static str) {
        self.kill(i);
        self.addresses[i] = address;
        self.start_server(i);
    }

    /// Each server's address now.
    pub fn addresses(&self) -> [&'static str; 3] {
        self.addresses
    }

    pub fn start_server(&mut self, i: usize) {
        let dir = self.data.join(format!("s{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut command = Command::new(consul_binary());
        command
            .arg("agent")
            .arg("-server")
            .arg("-bootstrap-expect=3")
            .arg(format!("-node=s{i}"))
            .arg(format!("-bind={}", self.addresses[i]))
            .arg(format!("-client={}", self.addresses[i]))
            .arg("-dns-port=-1")
            .arg(format!("-data-dir={}", dir.display()))
            .arg("-log-level=warn")
            .arg("-hcl=performance { raft_multiplier = 1 }")
            // Every pets here connects from 127.0.0.1, where a fleet has an
            // address per replica: Consul's 200 connections per client
            // address would reset the benchmark's 64 replicas' watches.
            .arg("-hcl=limits { http_max_conns_per_client = 4096 }");
        for peer in SERVERS.iter().chain([&SPARE]) {
            command.arg(format!("-retry-join={peer}"));
        }
        self.children[i] = Some(spawn(command));
    }

    /// Kills server `i` outright, as a crash would.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The running servers' process ids.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().flatten().map(|c| c.id()).collect()
    }

    /// `DB` for pets: all three servers.
    pub fn db(&self) -> String {
        SERVERS.map(|s| format!("{s}:8500")).join(",")
    }

    /// The server that leads now, as seen by the live ones.
    pub async fn leader(&self) -> Option<usize> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        for (i, ip) in self.addresses.iter().enumerate() {
            if self.children[i].is_none() {
                continue;
            }
            let Ok(response) = http
                .get(format!("http://{ip}:8500/v1/status/leader"))
                .send()
                .await
            else {
                continue;
            };
            let leader: String = response.json().await.unwrap_or_default();
            if let Some(at) = self
                .addresses
                .iter()
                .position(|s| leader.starts_with(&format!("{s}:")))
            {
                return Some(at);
            }
        }
        None
    }

    /// Waits until a leader is elected and a write through it commits.
    pub async fn wait_for_leader(&self, limit: Duration) {
        let started = Instant::now();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        loop {
            if let Some(leader) = self.leader().await {
                let url = format!(
                    "http://{}:8500/v1/kv/pets-test-probe",
                    self.addresses[leader]
                );
                if let Ok(r) = http.put(&url).body("ok").send().await {
                    if r.status().is_success() {
                        return;
                    }
                }
            }
            assert!(
                started.elapsed() < limit,
                "no Consul leader after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until autopilot counts three healthy voters, so that a test
    /// starts with a cluster that can lose one server (one killed or moved
    /// by an earlier test rejoins first).
    pub async fn wait_for_three_voters(&self, limit: Duration) {
        let started = Instant::now();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let mut last = String::new();
        loop {
            for ip in self.addresses {
                let url = format!("http://{ip}:8500/v1/operator/autopilot/health");
                let Ok(answer) = http.get(&url).send().await else {
                    continue;
                };
                let Ok(health) = answer.json::<serde_json::Value>().await else {
                    continue;
                };
                let voters = health["Servers"].as_array().map_or(0, |servers| {
                    servers
                        .iter()
                        .filter(|s| s["Voter"] == true && s["Healthy"] == true)
                        .count()
                });
                if health["Healthy"] == true && voters == 3 {
                    return;
                }
                last = health.to_string();
                break;
            }
            assert!(
                started.elapsed() < limit,
                "not three healthy voters after {limit:?}: {last}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Keys under `prefix`, read straight from Consul.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let http = reqwest::Client::new();
        for (i, ip) in self.addresses.iter().enumerate() {
            if self.children[i].is_none() {
                continue;
            }
            let url = format!("http://{ip}:8500/v1/kv/{prefix}?keys");
            if let Ok(response) = http.get(url).send().await {
                if response.status() == 404 {
                    return Vec::new();
                }
                if let Ok(keys) = response.json().await {
                    return keys;
                }
            }
        }
        panic!("no Consul server answered");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..3 {
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
