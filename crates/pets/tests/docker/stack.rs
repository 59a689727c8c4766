//! The dev stack deployed as `petstest`, and how the tests reach its tasks.
//!
//! A stack an interrupted run left behind is removed before deploying, and
//! the stack, its network and its volumes are removed again when the test
//! ends, pass or fail. This engine's kernel has no IPVS, so published ports
//! and VIPs do not work: each task is reached at its sandbox's address on
//! `docker_gwbridge`, a network the engine makes only when the first task
//! needs it (so until then there are simply no tasks to reach).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{docker_with, try_docker};

pub const STACK: &str = "petstest";

/// The deployed stack; removed when dropped.
pub struct Stack(());

/// A running task: its container and the address the host reaches it at.
#[derive(Clone, Debug)]
pub struct Task {
    pub id: String,
    pub ip: String,
}

impl Stack {
    pub fn deploy() -> Self {
        if try_docker(&["stack", "ps", "-q", STACK]).is_ok_and(|ps| !ps.is_empty()) {
            eprintln!("removing stack {STACK} left by an interrupted run");
        }
        remove();
        let env = [
            ("PETS_IMAGE", "pets:1.0"),
            ("CONSUL_IMAGE", "consul-local:1.8.7"),
            ("PROMETHEUS_IMAGE", "prometheus-local:bookworm"),
            ("PETS_PROMETHEUS_PUBLISH", "29090"),
            ("PETS_WEB_PUBLISH", "25000"),
            ("PETS_ADMIN_PUBLISH", "27000"),
            ("PETS_CONSUL_PUBLISH", "28500"),
        ];
        let args = [
            "stack",
            "deploy",
            "--resolve-image",
            "never",
            "-c",
            "compose/pets-stack.yml",
            "-c",
            "compose/pets-dev-compose.yml",
            STACK,
        ];
        docker_with(&env, &args).unwrap_or_else(|e| panic!("{e}"));
        Self(())
    }

    pub fn service(name: &str) -> String {
        format!("{STACK}_{name}")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        remove();
    }
}

/// Removes the stack, waits for its containers and network to go, then
/// removes its volumes. Does nothing where there is no such stack.
fn remove() {
    let _ = try_docker(&["stack", "rm", STACK]);
    let containers = format!("label=com.docker.stack.namespace={STACK}");
    let network = format!("name={STACK}_");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(90) {
        let left = try_docker(&["ps", "-aq", "--filter", &containers]).unwrap_or_default();
        let networks = try_docker(&["network", "ls", "-q", "--filter", &network]);
        if left.is_empty() && networks.is_ok_and(|n| n.is_empty()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let volumes = try_docker(&["volume", "ls", "-q", "--filter", &network]).unwrap_or_default();
    for volume in volumes.lines() {
        let _ = try_docker(&["volume", "rm", volume]);
    }
}

/// The running tasks of a service that have an address. An error (say,
/// `docker_gwbridge` not made yet, or a container gone between two commands)
/// means "not yet".
pub fn tasks(service: &str) -> Result<Vec<Task>, String> {
    let label = format!(
        "label=com.docker.swarm.service.name={}",
        Stack::service(service)
    );
    let ids = try_docker(&["ps", "-q", "--no-trunc", "--filter", &label])?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let bridge: Value =
        serde_json::from_str(&try_docker(&["network", "inspect", "docker_gwbridge"])?)
            .map_err(|e| format!("docker_gwbridge: {e}"))?;
    let endpoints = bridge[0]["Containers"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut found = Vec::new();
    for id in ids.lines() {
        // The bridge endpoint is named after the container's network sandbox.
        let sandbox = try_docker(&["inspect", "-f", "{{.NetworkSettings.SandboxID}}", id])?;
        let endpoint = format!("gateway_{}", &sandbox[..sandbox.len().min(12)]);
        // A task just started may not be on the bridge yet: not listed.
        if let Some(ip) = endpoints
            .values()
            .find(|c| c["Name"] == endpoint.as_str())
            .and_then(|c| c["IPv4Address"].as_str())
        {
            found.push(Task {
                id: id.to_owned(),
                ip: ip.split('/').next().unwrap_or(ip).to_owned(),
            });
        }
    }
    Ok(found)
}

/// The state of the service's last update (`updating`, `completed`,
/// `rollback_completed`, …), empty if none.
pub fn update_state(service: &str) -> String {
    try_docker(&[
        "service",
        "inspect",
        "-f",
        "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
        &Stack::service(service),
    ])
    .unwrap_or_default()
}
