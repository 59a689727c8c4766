//! The engine's Swarm, as the tests find it and leave it.
//!
//! An engine not in a Swarm gets one, marked with [`TEST_LABEL`] on its node
//! and left again at the end. A Swarm this suite made in a run that was
//! interrupted (the mark is still there) is reused and left at the end. A
//! Swarm someone else made is used as it is and never left. An engine that
//! is a worker, or whose Swarm is locked or broken, cannot deploy a stack:
//! the test stops and says what to do, without touching it.

use crate::support::{docker, try_docker, TEST_LABEL};

/// Whose Swarm the engine is in, decided once at the start of a test.
pub struct Swarm {
    /// True when this suite made the Swarm, now or in an interrupted run:
    /// it leaves it at the end.
    ours: bool,
}

impl Swarm {
    /// A Swarm manager to deploy on; fails the test, changing nothing, when
    /// the engine is in a state no test should change.
    pub fn join() -> Self {
        let info = docker(&[
            "info",
            "-f",
            "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}",
        ]);
        match info.split_whitespace().collect::<Vec<_>>()[..] {
            ["inactive", ..] => Self::init(),
            ["active", "true"] => {
                let ours = node_label().is_some();
                if ours {
                    eprintln!("reusing the Swarm an interrupted run of this suite made");
                } else {
                    eprintln!(
                        "deploying on this engine's existing Swarm; it will be left as it is"
                    );
                }
                Self { ours }
            }
            ["active", _] => panic!(
                "this engine is a worker in another Swarm, and stacks can only be deployed from \
                 a manager. Run the tests on an engine that is not in a Swarm (or is a manager \
                 of one), or leave that Swarm with `docker swarm leave` if it is not needed."
            ),
            ["locked", ..] => panic!(
                "this engine's Swarm is locked: unlock it with `docker swarm unlock`, then run \
                 the tests again"
            ),
            _ => panic!(
                "this engine's Swarm is in state `{info}`, where no stack can be deployed: \
                 repair it, or leave it with `docker swarm leave --force` if it is not needed"
            ),
        }
    }

    fn init() -> Self {
        if let Err(e) = try_docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]) {
            panic!("this engine refuses swarm mode: {e}");
        }
        // Marked before anything else, so an interrupted run's Swarm is
        // recognised (and left) by the next run or the reset script.
        let node = docker(&["info", "-f", "{{.Swarm.NodeID}}"]);
        docker(&[
            "node",
            "update",
            "--label-add",
            &format!("{TEST_LABEL}=made-by-suite"),
            &node,
        ]);
        Self { ours: true }
    }
}

/// This node's test label, if this suite made its Swarm.
fn node_label() -> Option<String> {
    let format = format!("{{{{index .Spec.Labels \"{TEST_LABEL}\"}}}}");
    try_docker(&["node", "inspect", "self", "-f", &format])
        .ok()
        .filter(|label| !label.is_empty() && label != "<no value>")
}

impl Drop for Swarm {
    fn drop(&mut self) {
        if self.ours {
            let _ = try_docker(&["swarm", "leave", "--force"]);
        }
    }
}
