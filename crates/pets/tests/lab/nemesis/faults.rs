//! The nemesis's hands on the rig: partitions with the nodes' own packet
//! filters, pauses with the nodes' engines (`docker pause` freezes every
//! process of a task, as SIGSTOP would, and cannot be caught), and power
//! cuts with the rig's containers.
//!
//! Every cut goes into two chains of the node's own, `PETS-NEMESIS-IN` and
//! `-OUT`, jumped to first from INPUT and OUTPUT; healing flushes them. The
//! traffic between nodes (Swarm's, Consul's, the overlay's VXLAN) runs
//! between the nodes' addresses, so a rule on an address cuts all of it,
//! while this machine (the nodes' clients) still reaches every node.
//! [`Hands`] remembers what it froze and killed, and heals everything when
//! dropped, also when the test fails.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::node::Node;
use crate::prod::service;
use crate::rig::Lab;
use crate::support::try_docker;

const CHAIN_IN: &str = "PETS-NEMESIS-IN";
const CHAIN_OUT: &str = "PETS-NEMESIS-OUT";
/// Which built-in chain jumps to which of ours: the node's own traffic, and
/// what its tasks send through it.
const HOOKS: [(&str, &str); 4] = [
    (CHAIN_IN, "INPUT"),
    (CHAIN_OUT, "OUTPUT"),
    (CHAIN_IN, "FORWARD"),
    (CHAIN_OUT, "FORWARD"),
];

pub struct Hands {
    lab: Arc<Lab>,
    /// Tasks frozen: the node and the container.
    frozen: Mutex<Vec<(usize, String)>>,
    killed: Mutex<Vec<usize>>,
}

/// Whether a `docker` error says its container is not running or no longer
/// exists: what Swarm's stopping or removing a task looks like to the
/// nemesis.
pub fn stopped_or_gone(error: &str) -> bool {
    error.contains("is not running") || error.contains("No such")
}

impl Hands {
    /// Makes the chains on every node (empty: nothing is cut).
    pub fn on(lab: Arc<Lab>) -> Self {
        for node in &lab.nodes {
            hook_chains(node)
                .unwrap_or_else(|e| panic!("the nemesis's chains on {}: {e}", node.name));
        }
        Self {
            lab,
            frozen: Mutex::default(),
            killed: Mutex::default(),
        }
    }

    /// `node` hears nothing from the other two and sends them nothing.
    pub fn isolate(&self, node: usize) -> Result<(), String> {
        for other in self.lab.nodes.iter().filter(|n| n.index != node) {
            self.cut(node, other.index)?;
            self.cut(other.index, node)?;
        }
        Ok(())
    }

    /// Packets from `from` to `to` are dropped (on `from`'s way out and on
    /// `to`'s way in, so neither side's conntrack lets one through).
    pub fn cut(&self, from: usize, to: usize) -> Result<(), String> {
        let (sender, receiver) = (self.lab.node(&name(from)), self.lab.node(&name(to)));
        iptables(sender, &["-A", CHAIN_OUT, "-d", &receiver.ip, "-j", "DROP"])?;
        iptables(receiver, &["-A", CHAIN_IN, "-s", &sender.ip, "-j", "DROP"])?;
        Ok(())
    }

    /// Every cut healed, on every node that runs.
    pub fn heal_network(&self) -> Result<(), String> {
        let mut failed = Vec::new();
        for node in &self.lab.nodes {
            for chain in [CHAIN_IN, CHAIN_OUT] {
                if let Err(e) = iptables(node, &["-F", chain]) {
                    if !self.killed.lock().unwrap().contains(&node.index) {
                        failed.push(format!("{}: {e}", node.name));
                    }
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join("; "))
        }
    }

    /// Freezes the task's container on `node`.
    pub fn freeze(&self, node: usize, container: &str) -> Result<(), String> {
        self.lab.node(&name(node)).docker(&["pause", container])?;
        self.frozen
            .lock()
            .unwrap()
            .push((node, container.to_owned()));
        Ok(())
    }

    /// Thaws every frozen task. A task that is no longer paused is not a
    /// failure: Swarm may have killed it while it was frozen (its health
    /// check timed out), which is what an orchestrator is for.
    pub fn thaw(&self) -> Result<(), String> {
        let frozen = std::mem::take(&mut *self.frozen.lock().unwrap());
        let mut failed = Vec::new();
        for (node, container) in frozen {
            let engine = self.lab.node(&name(node));
            if let Err(e) = engine.docker(&["unpause", &container]) {
                match engine.docker(&["inspect", "-f", "{{.State.Status}}", &container]) {
                    Ok(status) if status.trim() != "paused" => eprintln!(
                        "nemesis: node{node} {container} was {}, not paused, when its \
                         pause ended (Swarm stops a frozen task whose health check fails)",
                        status.trim()
                    ),
                    Err(gone) if stopped_or_gone(&gone) => {
                        eprintln!("nemesis: node{node} {container} was removed while paused")
                    }
                    _ => failed.push(format!("node{node} {container}: {e}")),
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join("; "))
        }
    }

    /// Whether the node is down by this nemesis's hand.
    pub fn killed(&self, node: usize) -> bool {
        self.killed.lock().unwrap().contains(&node)
    }

    /// The node's power cut.
    pub fn kill(&self, node: usize) {
        self.killed.lock().unwrap().push(node);
        self.lab.node(&name(node)).kill();
    }

    /// Every killed node back, its engine answering, its chains made anew
    /// (a container started again has a new network namespace). Never
    /// panics: it runs when a failed test unwinds too.
    pub fn revive(&self) -> Result<(), String> {
        let killed = std::mem::take(&mut *self.killed.lock().unwrap());
        for index in killed {
            let node = self.lab.node(&name(index));
            try_docker(&["start", &node.container()])?;
            let started = Instant::now();
            while !node.up() {
                if started.elapsed() > Duration::from_secs(60) {
                    return Err(format!("{}'s engine did not answer within 60 s", node.name));
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            hook_chains(node)?;
        }
        Ok(())
    }

    /// The container of one running task of `name` on `node`, if any.
    pub fn task_container(&self, node: usize, of: &str) -> Option<String> {
        let label = format!("label=com.docker.swarm.service.name={}", service(of));
        self.lab
            .node(&name(node))
            .docker(&["ps", "-q", "--filter", &label])
            .ok()?
            .lines()
            .next()
            .map(str::to_owned)
    }

    /// What each node holds of the nemesis's rules, and the last lines of
    /// its Consul server's log: what a cluster that did not recover should
    /// be read with.
    pub fn describe(&self) -> String {
        let mut text = String::new();
        for node in &self.lab.nodes {
            let rules = iptables(node, &["-S"]).map(|all| {
                all.lines()
                    .filter(|l| l.contains("NEMESIS"))
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            text += &format!("{}'s rules: {}\n", node.name, rules.unwrap_or_else(|e| e));
            let logs = self
                .task_container(node.index, "db")
                .ok_or_else(|| "no Consul task".to_owned())
                .and_then(|c| node.docker(&["logs", "--tail", "25", &c]));
            text += &format!(
                "{}'s Consul log:\n{}\n",
                node.name,
                logs.unwrap_or_else(|e| e)
            );
        }
        text
    }

    /// Everything healed: uncut, thawed, back. Says what could not be.
    pub fn heal_all(&self) {
        let healed = [self.heal_network(), self.thaw(), self.revive()];
        for problem in healed.into_iter().filter_map(Result::err) {
            eprintln!("nemesis: could not heal: {problem}");
        }
    }
}

impl Drop for Hands {
    fn drop(&mut self) {
        self.heal_all();
        for node in &self.lab.nodes {
            for (chain, hook) in HOOKS {
                let _ = iptables(node, &["-D", hook, "-j", chain]);
            }
            for chain in [CHAIN_IN, CHAIN_OUT] {
                let _ = iptables(node, &["-X", chain]);
            }
        }
    }
}

/// Our two chains on `node`, jumped to first from the built-in ones.
fn hook_chains(node: &Node) -> Result<(), String> {
    for chain in [CHAIN_IN, CHAIN_OUT] {
        let _ = iptables(node, &["-N", chain]);
    }
    for (chain, hook) in HOOKS {
        let _ = iptables(node, &["-D", hook, "-j", chain]);
        iptables(node, &["-I", hook, "1", "-j", chain])?;
    }
    Ok(())
}

fn name(index: usize) -> String {
    format!("node{index}")
}

/// `iptables` in the node's own network namespace (it runs as root there,
/// with the capabilities its engine needs).
fn iptables(node: &Node, args: &[&str]) -> Result<String, String> {
    let container = node.container();
    let mut command = vec!["exec", &container, "iptables", "-w", "5"];
    command.extend(args);
    try_docker(&command)
}
