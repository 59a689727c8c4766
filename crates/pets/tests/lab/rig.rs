//! The rig: three Swarm nodes on this machine, made from nothing and
//! removed again.
//!
//! [`Lab::start`] removes whatever an interrupted run left (by the suite's
//! label), makes the lab's bridge network and three node containers from
//! `pets-lab-node:bookworm`, routes this machine to each node's tasks, loads
//! the project's images into each engine (nothing can be pulled), and forms
//! a Swarm of three managers, so that losing any one node keeps the Swarm's
//! own quorum. Dropping the [`Lab`] removes it all; `PETS_LAB_KEEP=1` keeps
//! it for a look after a failure (the next run removes it).

use std::process::Command;
use std::sync::{Arc, LazyLock};
use std::thread;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::node::{Node, SUBNET};
use crate::support::{docker, try_docker, workspace, Task, TEST_LABEL};

/// The value of [`TEST_LABEL`] on everything the lab makes.
const LABEL_VALUE: &str = "lab";
/// The lab's bridge network.
const NETWORK: &str = "petslab";
/// What the stacks need on every node.
const IMAGES: [&str; 6] = [
    "pets:1.0",
    "pets:2.0",
    "pets:broken",
    "consul-local:1.8.7",
    "haproxy-local:2.6",
    // bash, for probes on a network of the lab's (the PaaS instances').
    "pets-debian-local:bookworm",
];
const NODE_IMAGE: &str = "pets-lab-node:bookworm";

/// One rig at a time: the tests of this binary run in parallel, and every
/// one of them would make the same nodes.
static ONE_RIG: LazyLock<Arc<Mutex<()>>> = LazyLock::new(Arc::default);

pub struct Lab {
    pub nodes: Vec<Node>,
    _only: OwnedMutexGuard<()>,
}

impl Lab {
    /// Three nodes in one Swarm, every one a manager, with the images.
    /// Waits while another test holds the rig. Call it off the runtime's
    /// threads (`spawn_blocking`).
    pub fn start() -> Self {
        let only = ONE_RIG.clone().blocking_lock_owned();
        root_for_routes();
        remove_leftovers();
        let label = format!("{TEST_LABEL}={LABEL_VALUE}");
        docker(&[
            "network", "create", "--subnet", SUBNET, "--label", &label, NETWORK,
        ]);
        let nodes: Vec<Node> = (1..=3).map(Node::new).collect();
        for node in &nodes {
            start_node(node, &label);
        }
        let lab = Self { nodes, _only: only };
        for node in &lab.nodes {
            node.wait_up(Duration::from_secs(60));
        }
        lab.load_images();
        lab.form_swarm();
        lab
    }

    /// A node whose engine answers and can manage the Swarm (it is a
    /// manager and the managers have a quorum).
    pub fn manager(&self) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.docker(&["node", "ls", "-q"]).is_ok())
            .expect("no manager of the lab's Swarm answers")
    }

    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no lab node called {name}"))
    }

    /// The running tasks of a service (full name) on every node that
    /// answers, each with its node's index. An error means "not yet".
    pub fn tasks(&self, service: &str) -> Result<Vec<(usize, Task)>, String> {
        let mut all = Vec::new();
        for node in self.nodes.iter().filter(|n| n.up()) {
            all.extend(node.tasks(service)?.into_iter().map(|t| (node.index, t)));
        }
        Ok(all)
    }

    /// `docker save` once, `docker load` into the three engines at once.
    fn load_images(&self) {
        let archive = workspace().join("target/lab-images.tar");
        let archive = archive.to_str().expect("a UTF-8 path");
        let mut save = vec!["save", "-o", archive];
        save.extend(IMAGES);
        docker(&save);
        thread::scope(|scope| {
            for node in &self.nodes {
                scope.spawn(move || {
                    node.docker(&["load", "-q", "-i", archive])
                        .unwrap_or_else(|e| panic!("loading the images into {}: {e}", node.name))
                });
            }
        });
        let _ = std::fs::remove_file(archive);
    }

    fn form_swarm(&self) {
        let first = &self.nodes[0];
        first
            .docker(&["swarm", "init", "--advertise-addr", &first.ip])
            .unwrap_or_else(|e| panic!("swarm init on {}: {e}", first.name));
        let token = first
            .docker(&["swarm", "join-token", "-q", "manager"])
            .expect("the manager join token");
        let join = format!("{}:2377", first.ip);
        for node in &self.nodes[1..] {
            node.docker(&[
                "swarm",
                "join",
                "--advertise-addr",
                &node.ip,
                "--token",
                &token,
                &join,
            ])
            .unwrap_or_else(|e| panic!("{} joining the Swarm: {e}", node.name));
        }
        let started = std::time::Instant::now();
        loop {
            let ready = first
                .docker(&["node", "ls", "--format", "{{.Status}}"])
                .unwrap_or_default();
            if ready.lines().filter(|s| *s == "Ready").count() == 3 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "three Ready nodes within 60 s; the Swarm says:\n{ready}"
            );
            thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::env::var_os("PETS_LAB_KEEP").is_some_and(|v| v == "1") {
            eprintln!(
                "PETS_LAB_KEEP=1: the lab's nodes are left running (the next run removes them)"
            );
            return;
        }
        remove_leftovers();
    }
}

/// One node container: a Docker engine that needs most of the privileges
/// `--privileged` would give (refused on this machine), its own volume for
/// /var/lib/docker (overlay2 must not sit on the outer overlay), and its own
/// address pool; then this machine's route to that pool.
fn start_node(node: &Node, label: &str) {
    let volume = format!("{}:/var/lib/docker", node.container());
    let pool = format!("base={},size=24", node.address_pool());
    docker(&["volume", "create", "--label", label, &node.container()]);
    docker(&[
        "run",
        "-d",
        "--name",
        &node.container(),
        "--hostname",
        &node.name,
        "--label",
        label,
        "--network",
        NETWORK,
        "--ip",
        &node.ip,
        "--cap-add=ALL",
        "--cap-drop=SYS_RESOURCE",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "apparmor=unconfined",
        "--device",
        "/dev/fuse",
        "-v",
        "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "--tmpfs",
        "/run",
        "-v",
        &volume,
        NODE_IMAGE,
        "--default-address-pool",
        &pool,
    ]);
    let route = Command::new("ip")
        .args(["route", "replace", &node.address_pool(), "via", &node.ip])
        .output()
        .expect("`ip` (iproute2) runs");
    assert!(
        route.status.success(),
        "routing {} to {}: {}",
        node.address_pool(),
        node.name,
        String::from_utf8_lossy(&route.stderr)
    );
}

/// The routes to the nodes' tasks are this machine's: only root adds them.
fn root_for_routes() {
    let uid = Command::new("id").arg("-u").output().expect("`id` runs");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "the multi-node lab routes this machine to its nodes' tasks (`ip route`), which needs \
         root: run the suite as root, as CI does"
    );
}

/// The nodes, their volumes and the network, from this run or an
/// interrupted one. The routes go with the network's bridge.
fn remove_leftovers() {
    let filter = format!("label={TEST_LABEL}={LABEL_VALUE}");
    for id in try_docker(&["ps", "-aq", "--filter", &filter])
        .unwrap_or_default()
        .lines()
    {
        let _ = try_docker(&["rm", "-f", "-v", id]);
    }
    for volume in try_docker(&["volume", "ls", "-q", "--filter", &filter])
        .unwrap_or_default()
        .lines()
    {
        let _ = try_docker(&["volume", "rm", "-f", volume]);
    }
    let _ = try_docker(&["network", "rm", NETWORK]);
}
