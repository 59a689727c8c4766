//! The dev stack deployed as `petstest`, and how the tests reach its tasks.
//!
//! A stack an interrupted run left behind is removed before deploying, and
//! the stack, its network and its volumes are removed again when the test
//! ends, pass or fail. This engine's kernel has no IPVS, so published ports
//! and VIPs do not work: each task is reached at its sandbox's address on
//! `docker_gwbridge`, a network the engine makes only when the first task
//! needs it (so until then there are simply no tasks to reach).

use std::time::{Duration, Instant};

pub use crate::support::Task;
use crate::support::{docker_with, stack_deploy_args, tasks_on, try_docker, Engine};

pub const STACK: &str = "petstest";

/// The deployed stack; removed when dropped.
pub struct Stack(());

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
            // The test's voters are anonymous first votes from this one
            // address, a flood by design: no limit on new voters.
            ("PETS_NEW_VOTERS_PER_MINUTE", "0"),
        ];
        let args = stack_deploy_args("compose/pets-dev-compose.yml", STACK);
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

/// The running tasks of a service of the stack that have an address.
pub fn tasks(service: &str) -> Result<Vec<Task>, String> {
    tasks_on(&Engine::local(), &Stack::service(service))
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
