//! The guide's progress: which steps are done, when and on what evidence,
//! and what the conditions remember between looks. It is what the store
//! keeps (as JSON), so any replica can carry it on.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::conditions;
use super::observation::{Observation, Seen};

/// Replicas that left, remembered so that one coming back is not new.
const GONE_KEPT: usize = 256;

/// A step done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    /// Unix seconds.
    pub at: u64,
    pub evidence: String,
}

/// The whole of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// When the lab (re)started, Unix seconds; 0 before any look.
    pub started_at: u64,
    /// By step id.
    pub done: BTreeMap<String, Done>,
    #[serde(default)]
    pub(super) memory: Memory,
}

/// What the conditions remember between looks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Memory {
    /// Every replica at the last look, by id.
    pub last: BTreeMap<String, Seen>,
    /// Ids that left, newest last.
    pub gone: VecDeque<String>,
    /// The nodes replicas were ever seen on.
    pub nodes: BTreeSet<String>,
    /// The one version every replica ran at the last look that agreed.
    pub version: Option<String>,
    pub lost: Option<Lost>,
    pub rollout: Option<Rollout>,
    pub node_gone: Option<NodeGone>,
    pub no_quorum: Option<NoQuorum>,
    /// Since when Consul has had no leader, while it has none.
    pub leaderless: Option<u64>,
    /// The last time without a leader that ended: from, to.
    pub last_election: Option<(u64, u64)>,
}

/// A replica that turned unhealthy or left, waiting for its replacement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Lost {
    pub replica: Seen,
    /// "turned unhealthy" or "left the fleet".
    pub how: String,
    pub at: u64,
    pub tally: u64,
    /// Every replica id there then: a replacement is none of them.
    pub before: BTreeSet<String>,
}

/// Versions mixed: an update under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Rollout {
    /// The version every replica ran before it; `None` if the guide never
    /// saw them agree.
    pub from: Option<String>,
    pub started: u64,
    /// Versions that had a replica turn unhealthy.
    pub failed: BTreeSet<String>,
}

/// A node whose replicas all left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct NodeGone {
    pub node: String,
    pub at: u64,
    pub tally: u64,
    /// The longest time without a leader around the loss.
    pub election_s: u64,
}

/// Consul without a leader, and when it came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct NoQuorum {
    pub since: u64,
    pub tally: u64,
    pub back: Option<u64>,
    pub tally_back: u64,
}

impl Progress {
    /// A lab that starts now.
    pub fn fresh(at: u64) -> Self {
        Self {
            started_at: at,
            ..Self::default()
        }
    }

    /// Takes one look: ticks off every step whose condition now holds, and
    /// remembers what later looks need.
    pub fn observe(&mut self, o: &Observation) {
        if self.started_at == 0 {
            self.started_at = o.at;
        }
        let done: BTreeSet<String> = self.done.keys().cloned().collect();
        let finished = conditions::look(&mut self.memory, &done, o);
        for (id, evidence) in finished {
            self.done
                .entry(id.to_owned())
                .or_insert(Done { at: o.at, evidence });
        }
        let m = &mut self.memory;
        for id in m.last.keys() {
            if !o.replicas.iter().any(|r| &r.id == id) {
                m.gone.push_back(id.clone());
            }
        }
        while m.gone.len() > GONE_KEPT {
            m.gone.pop_front();
        }
        m.last = o
            .replicas
            .iter()
            .map(|r| (r.id.clone(), r.clone()))
            .collect();
        m.nodes.extend(o.nodes());
    }

    /// This replica's progress, with what the store holds now: the store's
    /// when the lab restarted since, and otherwise the store's memory with
    /// every step either has done (the earlier time kept) and any event this
    /// replica saw that the store's lacks (an outage only the survivors saw).
    pub fn merged_into(self, stored: Progress) -> Progress {
        if stored.started_at != self.started_at {
            return if stored.started_at > self.started_at {
                stored
            } else {
                self
            };
        }
        let mut merged = stored;
        for (id, done) in self.done {
            let entry = merged.done.entry(id).or_insert(done.clone());
            if done.at < entry.at {
                *entry = done;
            }
        }
        let m = &mut merged.memory;
        let mine = self.memory;
        m.lost = m.lost.take().or(mine.lost);
        m.rollout = m.rollout.take().or(mine.rollout);
        m.node_gone = m.node_gone.take().or(mine.node_gone);
        m.no_quorum = m.no_quorum.take().or(mine.no_quorum);
        m.nodes.extend(mine.nodes);
        merged
    }

    /// Whether the lab has seen replicas on three nodes.
    pub fn three_nodes(&self) -> bool {
        self.memory.nodes.len() >= 3
    }
}
