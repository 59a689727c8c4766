//! The fleet: every replica's record of itself, and the store's servers, as
//! the console shows them.
//!
//! A replica's identity is fixed at start (its id, host, the Swarm node,
//! service, slot and task it runs as, its version); its record adds what
//! changes (health, what it counted, when it was last heard from). A store
//! keeps the records of live replicas only: with Consul a record lives as
//! long as its replica's session, and one not renewed for [`GONE_AFTER`] is
//! no longer shown even before Consul removes it.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::clock::now_rfc3339;
use crate::faults::ActiveFaults;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A record this much older than the newest one read belongs to a replica
/// that is gone: every live replica rewrites its record every 2 s. Judged
/// against the newest record rather than the clock, so that while Consul
/// cannot be written (no one's record moves) nobody looks gone.
pub const GONE_AFTER: Duration = Duration::from_secs(8);

/// Who a replica is; fixed for its lifetime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaIdentity {
    /// The name it writes its counters under: host name and a random suffix.
    pub id: String,
    pub host: String,
    /// The Swarm node, service, task slot and task name, when the stack
    /// file passes them (`PETS_NODE`, `PETS_SERVICE`, `PETS_TASK_SLOT`,
    /// `PETS_TASK_NAME`).
    pub node: Option<String>,
    pub service: Option<String>,
    pub slot: Option<String>,
    pub task: Option<String>,
    pub version: String,
    /// RFC 3339.
    pub started_at: String,
}

/// A replica as the fleet shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaRecord {
    #[serde(flatten)]
    pub identity: ReplicaIdentity,
    pub healthy: bool,
    /// RFC 3339: when the replica last wrote this record.
    pub last_seen: String,
    /// Pets this replica served, and votes it recorded.
    pub pets_served: u64,
    pub votes: u64,
    /// Votes it refused because the store could not record them (503).
    #[serde(default)]
    pub votes_refused: u64,
    /// The faults in force on it.
    pub faults: ActiveFaults,
}

impl ReplicaRecord {
    /// When it was last written.
    pub fn seen(&self) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(&self.last_seen, &Rfc3339).ok()
    }

    /// Whether it was written within [`GONE_AFTER`] of `newest`.
    pub fn is_live(&self, newest: OffsetDateTime) -> bool {
        self.seen().is_some_and(|seen| newest - seen < GONE_AFTER)
    }
}

/// A Consul server, as the cluster's Raft configuration lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub name: String,
    pub address: String,
    pub voter: bool,
    pub leader: bool,
}

/// The store's side of the fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FleetStore {
    pub kind: crate::snapshot::StoreKind,
    pub leader: Option<String>,
    pub servers: Vec<ServerInfo>,
    /// Whether the cluster has a quorum: false once no server pets reaches
    /// has named a leader for longer than an election takes (a cluster
    /// without a quorum elects none, and votes are then refused); `None`
    /// while it is not known: before the first look, and while no server
    /// answers. The embedded store always has one.
    pub quorum: Option<bool>,
    /// True while no server names a leader, for less time than an election
    /// takes: votes wait for the new leader. `leader` is `None` meanwhile.
    pub electing: bool,
}

/// `GET /api/fleet`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Fleet {
    /// Sorted by node, then slot, then id.
    pub replicas: Vec<ReplicaRecord>,
    pub store: FleetStore,
}

impl Fleet {
    pub fn sort(&mut self) {
        self.replicas.sort_by(|a, b| {
            let key = |r: &ReplicaRecord| {
                (
                    r.identity.node.clone(),
                    r.identity
                        .slot
                        .as_deref()
                        .and_then(|s| s.parse::<u64>().ok()),
                    r.identity.id.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
    }
}

/// How this replica is now, as the web layer says: its health and the
/// faults in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    pub healthy: bool,
    pub faults: ActiveFaults,
}

impl Default for ReplicaState {
    fn default() -> Self {
        Self {
            healthy: true,
            faults: ActiveFaults::default(),
        }
    }
}

/// The web layer's side of this replica's record: it pushes each change of
/// health or faults here, and the store, which holds the other end, writes
/// the record again at once. Cheap to clone; every clone pushes to the same.
#[derive(Clone)]
pub struct Presence(Arc<watch::Sender<ReplicaState>>);

impl Default for Presence {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(ReplicaState::default())))
    }
}

impl Presence {
    pub fn set_healthy(&self, healthy: bool) {
        self.0
            .send_if_modified(|s| std::mem::replace(&mut s.healthy, healthy) != healthy);
    }

    pub fn set_faults(&self, faults: ActiveFaults) {
        self.0.send_if_modified(|s| {
            let changed = s.faults != faults;
            s.faults = faults;
            changed
        });
    }

    /// As last pushed.
    pub fn current(&self) -> ReplicaState {
        self.0.borrow().clone()
    }

    /// The store's end.
    pub fn subscribe(&self) -> watch::Receiver<ReplicaState> {
        self.0.subscribe()
    }
}

/// What a store needs to keep this replica's record: who it is, and how it
/// is, changing as the web layer pushes it.
#[derive(Clone)]
pub struct Registration {
    pub identity: ReplicaIdentity,
    pub state: watch::Receiver<ReplicaState>,
}

impl Registration {
    /// The record as of now: pets served, votes recorded and votes refused.
    pub fn record(&self, pets_served: u64, votes: u64, votes_refused: u64) -> ReplicaRecord {
        let state = self.state.borrow().clone();
        ReplicaRecord {
            identity: self.identity.clone(),
            healthy: state.healthy,
            last_seen: now_rfc3339(),
            pets_served,
            votes,
            votes_refused,
            faults: state.faults,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, node: &str, slot: &str) -> ReplicaRecord {
        let registration = Registration {
            identity: ReplicaIdentity {
                id: id.into(),
                node: Some(node.into()),
                slot: Some(slot.into()),
                ..ReplicaIdentity::default()
            },
            state: Presence::default().subscribe(),
        };
        registration.record(0, 0, 0)
    }

    #[test]
    fn a_record_is_live_until_it_is_old() {
        let r = record("a", "n1", "1");
        let now = OffsetDateTime::now_utc();
        assert!(r.is_live(now));
        assert!(r.is_live(now + Duration::from_secs(7)));
        assert!(!r.is_live(now + Duration::from_secs(9)));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["id"], "a", "the identity is flattened");
        assert_eq!(json["faults"], serde_json::json!({}));
    }

    #[test]
    fn a_change_pushed_reaches_the_store_and_a_repeat_does_not() {
        let presence = Presence::default();
        let mut store_end = presence.subscribe();
        presence.set_healthy(true);
        assert!(!store_end.has_changed().unwrap(), "already healthy");
        presence.set_healthy(false);
        assert!(store_end.has_changed().unwrap());
        assert!(!store_end.borrow_and_update().healthy);
        let faults = ActiveFaults {
            cpu_until: Some("soon".into()),
            ..ActiveFaults::default()
        };
        presence.clone().set_faults(faults.clone());
        assert!(
            store_end.has_changed().unwrap(),
            "a clone pushes to the same"
        );
        assert_eq!(presence.current().faults, faults);
    }

    #[test]
    fn replicas_sort_by_node_then_slot() {
        let mut fleet = Fleet {
            replicas: vec![
                record("c", "n2", "1"),
                record("b", "n1", "10"),
                record("a", "n1", "2"),
            ],
            ..Fleet::default()
        };
        fleet.sort();
        let ids: Vec<_> = fleet
            .replicas
            .iter()
            .map(|r| r.identity.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }
}
