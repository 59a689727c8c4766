//! The guide's progress: which steps are done, when and on what evidence,
//! and what the conditions remember between looks. It is what the store
//! keeps (as JSON), so any replica can carry it on.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::conditions;
use super::observation::{Observation, Seen};

/// Replicas see a leader go within this many seconds of each other.
const OUTAGE_SLACK_S: u64 = 3;

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
    /// Which lab this is: 0 for the first, one more each time it is started
    /// again. Of two progresses, the higher epoch wins whole.
    #[serde(default)]
    pub epoch: u64,
    /// When the lab (re)started, Unix seconds; 0 until it is first written.
    pub started_at: u64,
    /// By step id.
    pub done: BTreeMap<String, Done>,
    #[serde(default)]
    pub(super) memory: Memory,
}

/// What the conditions remember between looks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Memory {
    /// Every replica at the last look, by id (their vote counts left out:
    /// they move with every vote and no condition reads them from here).
    pub last: BTreeMap<String, Seen>,
    /// The nodes replicas were ever seen on.
    pub nodes: BTreeSet<String>,
    /// The one version every replica ran at the last look that agreed,
    /// when the update that brought it began, the version before it, and
    /// whether one of its replicas turned unhealthy soon after.
    pub version: Option<String>,
    pub version_since: u64,
    pub previous: Option<String>,
    pub version_failed: bool,
    /// Whether Consul was ever seen with a leader in this lab.
    pub leader_seen: bool,
    pub lost: Vec<Lost>,
    pub rollout: Option<Rollout>,
    pub node_gone: Vec<NodeGone>,
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
    /// Each replica's refused votes when the leader went.
    #[serde(default)]
    pub refused: BTreeMap<String, u64>,
    /// The most refused votes each replica was seen with since: a
    /// survivor's own count, kept through the outage, counts even when
    /// the replica that finishes the step does not see its record yet
    /// (a record not rewritten since the outage is not live to others).
    #[serde(default)]
    pub refused_seen: BTreeMap<String, u64>,
    pub back: Option<u64>,
    pub tally_back: u64,
}

impl Progress {
    /// Lab number `epoch`, starting at `at`.
    pub fn fresh(epoch: u64, at: u64) -> Self {
        Self {
            epoch,
            started_at: at,
            ..Self::default()
        }
    }

    /// Takes one look: ticks off every step whose condition now holds, and
    /// remembers what later looks need. A partial look is not taken: a
    /// replica just started, alone in its own view, would have the guide
    /// remember its version as everyone's (and the update that brought it
    /// never seen as a rollout) or the others as gone.
    pub fn observe(&mut self, o: &Observation) {
        if o.partial {
            return;
        }
        let done: BTreeSet<String> = self.done.keys().cloned().collect();
        let finished = conditions::look(&mut self.memory, &done, o);
        for (id, evidence) in finished {
            self.done
                .entry(id.to_owned())
                .or_insert(Done { at: o.at, evidence });
        }
        let m = &mut self.memory;
        m.last = o
            .replicas
            .iter()
            .map(|r| (r.id.clone(), r.kept()))
            .collect();
        m.nodes.extend(o.nodes());
    }

    /// This replica's progress, with what the store holds now: the one of
    /// the later lab when they differ; otherwise the store's memory with
    /// every step either has done (the earlier time kept) and any event this
    /// replica saw that the store's lacks (an outage only a survivor saw).
    pub fn merged_into(self, stored: Progress) -> Progress {
        if stored.epoch != self.epoch {
            return if stored.epoch > self.epoch {
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
        if merged.started_at == 0 {
            merged.started_at = self.started_at;
        }
        let m = &mut merged.memory;
        let mine = self.memory;
        for lost in mine.lost {
            if !m.lost.iter().any(|l| l.replica.id == lost.replica.id) {
                m.lost.push(lost);
            }
        }
        for gone in mine.node_gone {
            if !m.node_gone.iter().any(|g| g.node == gone.node) {
                m.node_gone.push(gone);
            }
        }
        m.rollout = m.rollout.take().or(mine.rollout);
        // An outage the store saw from its start to its end is over; one
        // the store's replicas joined late (started while it lasted) is not.
        let seen_whole = |q: &NoQuorum| {
            m.last_election
                .is_some_and(|(since, until)| since <= q.since + OUTAGE_SLACK_S && until >= q.since)
        };
        let mine_open = mine.no_quorum.filter(|q| !seen_whole(q));
        m.no_quorum = match (m.no_quorum.take(), mine_open) {
            (Some(mut stored), Some(mine)) => {
                for (id, n) in mine.refused_seen {
                    let seen = stored.refused_seen.entry(id).or_default();
                    *seen = (*seen).max(n);
                }
                Some(stored)
            }
            (stored, mine) => stored.or(mine),
        };
        m.leader_seen |= mine.leader_seen;
        m.nodes.extend(mine.nodes);
        merged
    }

    /// Whether the lab has seen replicas on three nodes.
    pub fn three_nodes(&self) -> bool {
        self.memory.nodes.len() >= 3
    }
}
