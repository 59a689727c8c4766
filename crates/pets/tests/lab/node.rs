//! One Swarm node of the lab: a Docker engine in a container named
//! `petslab-nodeN`, at a fixed address on the lab's bridge network, driven
//! over TCP. Killing its container is the node's power cut; starting it
//! again brings the same engine, its Swarm state and its volumes back.

use std::time::{Duration, Instant};

use crate::support::{docker, tasks_on, try_docker, Engine, Task};

/// The lab's private network for the nodes, and the first of their addresses.
pub const SUBNET: &str = "10.200.0.0/24";

#[derive(Clone, Debug)]
pub struct Node {
    /// 1, 2 or 3.
    pub index: usize,
    /// The node's host name, which is its name in the Swarm (`node1`).
    pub name: String,
    /// Its address on the lab's network.
    pub ip: String,
    engine: Engine,
}

impl Node {
    pub fn new(index: usize) -> Self {
        let ip = format!("10.200.0.{}", 10 + index);
        Self {
            index,
            name: format!("node{index}"),
            engine: Engine::at(format!("tcp://{ip}:2375")),
            ip,
        }
    }

    /// The container that is this node.
    pub fn container(&self) -> String {
        format!("petslab-{}", self.name)
    }

    /// The address pool of this node's own networks (docker0,
    /// docker_gwbridge), distinct per node so that this machine can route
    /// to each node's tasks.
    pub fn address_pool(&self) -> String {
        format!("10.{}.0.0/16", 200 + self.index)
    }

    /// `docker args` on this node's engine.
    pub fn docker(&self, args: &[&str]) -> Result<String, String> {
        self.engine.run(args)
    }

    pub fn docker_with(&self, env: &[(&str, &str)], args: &[&str]) -> Result<String, String> {
        self.engine.run_with(env, args)
    }

    /// Whether the node runs (asked of this machine's engine, which answers
    /// at once even for a node that was killed) and its engine answers.
    pub fn up(&self) -> bool {
        try_docker(&["inspect", "-f", "{{.State.Running}}", &self.container()])
            .is_ok_and(|running| running == "true")
            && self
                .docker(&["version", "-f", "{{.Server.Version}}"])
                .is_ok()
    }

    /// Waits for the engine to answer, failing the test after `limit`.
    pub fn wait_up(&self, limit: Duration) {
        let started = Instant::now();
        while !self.up() {
            assert!(
                started.elapsed() < limit,
                "{}'s engine did not answer within {limit:?}: {}",
                self.name,
                try_docker(&["logs", "--tail", "20", &self.container()]).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The node's power cut: its engine and every task on it stop at once.
    pub fn kill(&self) {
        docker(&["kill", &self.container()]);
    }

    /// The node comes back: the same engine, Swarm state and volumes.
    pub fn start(&self) {
        docker(&["start", &self.container()]);
        self.wait_up(Duration::from_secs(60));
    }

    /// The task slots of a service (full name) running on this node, as
    /// Swarm numbers them (`petslab_db.2` is slot 2).
    pub fn slots(&self, service: &str) -> Vec<String> {
        let label = format!("label=com.docker.swarm.service.name={service}");
        let format = "{{.Label \"com.docker.swarm.task.name\"}}";
        let names = self
            .docker(&["ps", "--filter", &label, "--format", format])
            .unwrap_or_default();
        names
            .lines()
            .filter_map(|task| task.rsplit_once('.').map(|(slot, _)| slot.to_owned()))
            .collect()
    }

    /// The running tasks of a service (full name) on this node.
    pub fn tasks(&self, service: &str) -> Result<Vec<Task>, String> {
        tasks_on(&self.engine, service)
    }
}
