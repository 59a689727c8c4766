//! The lab guide: the steps of `docs/LAB.md`, each ticked off by itself when
//! the cluster shows it happened, with the time and the evidence.
//!
//! [`STEPS`] is the one list of steps: the console's Lab panel, `/present`
//! and `GET /api/lab` all read it. Every replica runs a [`keeper`]: each
//! look it turns what the console already watches (the fleet, the tally,
//! the meter) into an [`Observation`], lets [`Progress::observe`] decide
//! which steps are now done (the conditions are in [`conditions`]), and
//! shares the progress through the store's lab document, check-and-set, so
//! that it survives any replica. "Start the lab again" writes a fresh one.

mod conditions;
pub mod keeper;
#[cfg(test)]
mod merge_tests;
mod observation;
mod progress;
#[cfg(test)]
mod replace_tests;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use tokio::sync::watch;

pub use observation::{ConsulSeen, LoadSeen, Observation, Seen};
pub use progress::{Done, Progress};

/// What a step needs before it can happen at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Consul: votes shared by replicas, and a quorum to lose.
    Consul,
    /// Replicas on three Swarm nodes.
    ThreeNodes,
}

/// One step of the lab, as `docs/LAB.md` has it.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub id: &'static str,
    /// A few words, for the projector.
    pub short: &'static str,
    pub title: &'static str,
    /// Where `docs/LAB.md` has it.
    pub lab: &'static str,
    pub needs: Needs,
}

/// The lab's steps, in the order the lab takes them.
pub const STEPS: [Step; 8] = [
    Step {
        id: "deployed",
        short: "Deployed",
        title: "Deployed: two healthy replicas and three Consul voters with a leader",
        lab: "part 1 step 1, part 2 step 1",
        needs: Needs::Consul,
    },
    Step {
        id: "votes_everywhere",
        short: "Votes through two replicas",
        title: "Votes recorded through two replicas or more",
        lab: "part 2 step 2",
        needs: Needs::Consul,
    },
    Step {
        id: "replaced",
        short: "A replica replaced",
        title: "A replica killed and replaced, the tally unmoved",
        lab: "part 1 step 2, part 2 step 3",
        needs: Needs::Consul,
    },
    Step {
        id: "traffic",
        short: "Traffic on the meter",
        title: "Traffic on the meter from pets load",
        lab: "part 1 step 4",
        needs: Needs::Consul,
    },
    Step {
        id: "node_lost",
        short: "A node lost",
        title: "A node lost: its replicas gone, votes going on, Consul's quorum kept",
        lab: "part 2 steps 3 and 4",
        needs: Needs::ThreeNodes,
    },
    Step {
        id: "rolled_forward",
        short: "Rolled forward",
        title: "Rolled forward: every replica on a newer version",
        lab: "part 1 step 5, part 2 step 5",
        needs: Needs::Consul,
    },
    Step {
        id: "rolled_back",
        short: "Rolled back",
        title: "A bad release rolled back by itself",
        lab: "part 1 step 6, part 2 step 5",
        needs: Needs::Consul,
    },
    Step {
        id: "quorum",
        short: "Quorum lost and regained",
        title: "Quorum lost and regained, no refused vote counted",
        lab: "part 2 step 6",
        needs: Needs::Consul,
    },
];

/// This replica's view of the guide, as its keeper last left it: what the
/// handlers read, without I/O.
#[derive(Clone)]
pub struct LabGuide(Arc<watch::Sender<Progress>>);

impl Default for LabGuide {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(Progress::default())))
    }
}

impl LabGuide {
    pub fn current(&self) -> Progress {
        self.0.borrow().clone()
    }

    /// Changes whenever the keeper's progress does.
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.0.subscribe()
    }

    fn publish(&self, progress: &Progress) {
        self.0.send_if_modified(|p| {
            let changed = p != progress;
            if changed {
                *p = progress.clone();
            }
            changed
        });
    }
}
