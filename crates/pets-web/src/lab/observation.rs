//! What the lab guide looks at: one moment of the fleet, the tally and the
//! meter, reduced to what the steps' conditions read.

use pets_store::{Fleet, Meter, StoreKind};
use serde::{Deserialize, Serialize};

/// A replica, as a step sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub id: String,
    /// Its task name when Swarm runs it, its id otherwise.
    pub name: String,
    pub node: Option<String>,
    pub version: String,
    pub healthy: bool,
    /// When it started, Unix seconds (0 when its record does not say).
    #[serde(default)]
    pub started: u64,
    /// Votes it recorded since it started, and refused.
    #[serde(skip)]
    pub votes: u64,
    #[serde(skip)]
    pub refused: u64,
}

impl Seen {
    /// As the guide keeps it between looks: without its vote counts.
    pub fn kept(&self) -> Self {
        Self {
            votes: 0,
            refused: 0,
            ..self.clone()
        }
    }
}

/// Consul's side, when the store is Consul.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsulSeen {
    pub voters: usize,
    pub leader: Option<String>,
    /// Whether a leader is elected; `None` while nobody answers.
    pub quorum: Option<bool>,
}

/// What `pets load` published: whether it runs, and per second (Unix
/// second, requests, failed), every driver added up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadSeen {
    pub running: bool,
    pub rate: u64,
    pub seconds: Vec<(u64, u64, u64)>,
}

impl LoadSeen {
    /// Requests and failures in the seconds from `from` to `to`, inclusive.
    pub fn between(&self, from: u64, to: u64) -> (u64, u64) {
        self.seconds
            .iter()
            .filter(|(at, _, _)| (from..=to).contains(at))
            .fold((0, 0), |(r, f), (_, req, fail)| (r + req, f + fail))
    }
}

/// One look.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observation {
    /// Unix seconds.
    pub at: u64,
    pub replicas: Vec<Seen>,
    /// `None` with the embedded store.
    pub consul: Option<ConsulSeen>,
    /// Votes in the tally.
    pub tally: u64,
    pub load: LoadSeen,
    /// Taken before this replica had read the store once (it sees itself
    /// alone then, and a tally of nothing): the guide does not take it.
    pub partial: bool,
}

impl Observation {
    pub fn new(at: u64, fleet: &Fleet, tally: u64, meter: &Meter, caught_up: bool) -> Self {
        let replicas = fleet
            .replicas
            .iter()
            .map(|r| Seen {
                id: r.identity.id.clone(),
                name: r
                    .identity
                    .task
                    .clone()
                    .unwrap_or_else(|| r.identity.id.clone()),
                node: r.identity.node.clone(),
                version: r.identity.version.clone(),
                healthy: r.healthy,
                started: started(&r.identity.started_at),
                votes: r.votes,
                refused: r.votes_refused,
            })
            .collect();
        let consul = (fleet.store.kind == StoreKind::Consul).then(|| ConsulSeen {
            voters: fleet.store.servers.iter().filter(|s| s.voter).count(),
            leader: fleet.store.leader.clone(),
            // The steps follow the leader itself: an election is a time
            // without one too.
            quorum: fleet.store.quorum.map(|q| q && !fleet.store.electing),
        });
        let seconds = meter.per_second(at);
        let load = LoadSeen {
            running: meter.current(at).any(|d| d.running(at)),
            rate: pets_store::meter::rate_now(&seconds),
            seconds: seconds
                .iter()
                .filter(|s| s.requests > 0)
                .map(|s| (s.at, s.requests, s.failed))
                .collect(),
        };
        Self {
            at,
            replicas,
            consul,
            tally,
            load,
            partial: !caught_up,
        }
    }

    /// The nodes replicas run on now (replicas without one left out).
    pub fn nodes(&self) -> std::collections::BTreeSet<String> {
        self.replicas
            .iter()
            .filter_map(|r| r.node.clone())
            .collect()
    }
}

/// An RFC 3339 time as Unix seconds; 0 when it is not one.
fn started(rfc3339: &str) -> u64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| u64::try_from(t.unix_timestamp()).ok())
        .unwrap_or(0)
}
