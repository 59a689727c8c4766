//! What this replica knows of the cluster, and the tasks that keep it
//! current: blocking queries on `votes/`, `served/`, `replicas/`,
//! `sessions/`, `logins/`, `faults/` and `load/` (and, through [`follow`],
//! the lab guide's key for its copy in `lab.rs`), a look at the leader
//! and servers every few seconds, and a publisher that turns changes into
//! the store's [`Snapshot`] for subscribers, at most every 100 ms.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::consul::client::ConsulClient;
use crate::consul::folders;
use crate::consul::keys::Keys;
use crate::consul::kv::{Kv, KvEntry};
use crate::consul::pace::{fleet_pace, WhenEmpty, EMPTY_PACE, WATCH_PACE, WATCH_RETRY};
use crate::consul::records::ServedValue;
use crate::consul::rounds::{CurrentRound, VotesRead};
use crate::consul::served::ServedCounter;
use crate::consul::sessions::SharedSessions;
use crate::consul::votes::{Leadership, Outage};
use crate::faults::FaultOrders;
use crate::fleet::{ReplicaRecord, ServerInfo};
use crate::meter::Meter;
use crate::snapshot::{Snapshot, StoreKind, StoreStatus, Tally};
use crate::sync::Locked;

/// How often the leader is looked for while there is none (so the console
/// shows the new one as soon as it is elected), and while there is one: any
/// failed call makes it look at once, so a lost leader is noticed as soon as
/// anything fails, and an idle fleet of 16 costs Consul 6 calls a second.
const LEADERLESS_LOOK: Duration = Duration::from_millis(500);
const LEADER_LOOK: Duration = Duration::from_secs(5);
const LOOK_AFTER_FAILURE: Duration = Duration::from_millis(200);
/// Names in `DB` are resolved again every this many looks at the leader.
const RESOLVE_EVERY: u32 = 2;
/// Subscribers hear of changes at most this often, and at least every
/// [`PUBLISH_AT_LEAST`] (the store's state changes without a notification).
const PUBLISH_PACE: Duration = Duration::from_millis(100);
const PUBLISH_AT_LEAST: Duration = Duration::from_secs(1);

/// What the watchers last saw.
#[derive(Default)]
pub struct Known {
    /// The round book and the votes of every round.
    pub votes: VotesRead,
    /// The highest index among the `votes/` entries last read (every commit
    /// at or below it is in `votes`); `None` until the first read.
    pub votes_index: Option<u64>,
    /// Pets served by every other replica.
    pub others_served: u64,
    pub leader: Option<String>,
    /// What the last look at the servers amounts to: `Lost` once no server
    /// pets reaches has named a leader for longer than an election takes;
    /// `None` until the first look, and while no server answers at all
    /// (which says nothing of the cluster, only of pets' way to it).
    pub leadership: Option<Leadership>,
    pub servers: Vec<ServerInfo>,
    /// Every replica's record, as last read.
    pub replicas: Vec<ReplicaRecord>,
    /// Every traffic driver's series, as last read.
    pub meter: Meter,
    /// Whether `replicas/` and `load/` were read at least once.
    pub replicas_read: bool,
    pub meter_read: bool,
}

/// What the store and its watchers share.
pub struct Watched {
    pub client: Arc<ConsulClient>,
    pub keys: Arc<Keys>,
    pub served: Arc<ServedCounter>,
    /// The current round, as this replica knows it.
    pub round: Arc<CurrentRound>,
    /// Notified by anything that may change the snapshot.
    pub changed: Arc<Notify>,
    /// Ended admin sessions and failed logins, shared by replicas.
    pub admin: SharedSessions,
    known: Mutex<Known>,
    snapshots: watch::Sender<Snapshot>,
    /// The fleet's fault order and this replica's.
    pub faults: watch::Sender<FaultOrders>,
    /// Told by the cluster watcher whether there is a leader, so that votes
    /// are refused at once without a quorum.
    outage: Outage,
    /// How many watchers' last blocking query failed: while any has, what
    /// they last saw may be old.
    failing_watches: AtomicUsize,
}

impl Watched {
    /// Starts the watchers; they stop when `stop` is cancelled.
    pub fn start(
        client: Arc<ConsulClient>,
        keys: Arc<Keys>,
        served: Arc<ServedCounter>,
        round: Arc<CurrentRound>,
        changed: Arc<Notify>,
        outage: Outage,
        stop: &CancellationToken,
    ) -> Arc<Self> {
        let watched = Arc::new(Self {
            outage,
            client,
            keys,
            served,
            round,
            changed,
            admin: SharedSessions::default(),
            known: Mutex::default(),
            snapshots: watch::Sender::new(Snapshot::default()),
            faults: watch::Sender::new(FaultOrders::default()),
            failing_watches: AtomicUsize::new(0),
        });
        tokio::spawn(follow(
            watched.clone(),
            stop.clone(),
            Keys::votes,
            WhenEmpty::Ask,
            |w, _, entries| {
                let votes = VotesRead::of(&w.keys, entries, &w.round);
                let mut known = w.known();
                known.votes = votes;
                known.votes_index = Some(entries.iter().map(|e| e.modify_index).max().unwrap_or(0));
            },
        ));
        tokio::spawn(follow(
            watched.clone(),
            stop.clone(),
            Keys::served,
            WhenEmpty::Folder,
            |w, _, entries| {
                let others = w.others_served(entries);
                w.known().others_served = others;
                let own = w.keys.own_served();
                if w.served.flushed.load(Ordering::Relaxed) > 0
                    && !entries.iter().any(|e| e.key == own)
                {
                    // Written once and gone now: folded away, most likely.
                    w.served.recheck.store(true, Ordering::Relaxed);
                }
            },
        ));
        tokio::spawn(follow(
            watched.clone(),
            stop.clone(),
            Keys::sessions,
            WhenEmpty::Folder,
            |w, _, entries| {
                let expired = w.admin.apply_revoked(&w.keys.sessions(), entries);
                if !expired.is_empty() {
                    let client = w.client.clone();
                    // Any replica may tidy up; delete-cas makes a second one harmless.
                    tokio::spawn(async move { client.write(&expired).await });
                }
            },
        ));
        tokio::spawn(follow(
            watched.clone(),
            stop.clone(),
            Keys::logins,
            WhenEmpty::Folder,
            |w, _, entries| w.admin.apply_logins(&w.keys.own_logins(), entries),
        ));
        tokio::spawn(follow(
            watched.clone(),
            stop.clone(),
            Keys::replicas,
            WhenEmpty::Ask,
            |w, _, entries| {
                let mut known = w.known();
                known.replicas = entries
                    .iter()
                    .filter_map(|e| serde_json::from_slice(&e.bytes()).ok())
                    .collect();
                known.replicas_read = true;
            },
        ));
        tokio::spawn(follow(
            watched.clone(),
            stop.clone(),
            Keys::faults,
            WhenEmpty::Folder,
            |w, _, entries| {
                let orders = crate::consul::faults::orders_for(&w.keys, entries);
                w.faults.send_if_modified(|last| {
                    let modified = *last != orders;
                    *last = orders;
                    modified
                });
            },
        ));
        tokio::spawn(follow(
            watched.clone(),
            stop.clone(),
            Keys::load,
            WhenEmpty::Folder,
            |w, _, entries| {
                let mut known = w.known();
                known.meter = crate::consul::meter::meter_from(entries);
                known.meter_read = true;
            },
        ));
        tokio::spawn(watch_cluster(watched.clone(), stop.clone()));
        tokio::spawn(publish(watched.clone(), stop.clone()));
        watched
    }

    pub fn known(&self) -> MutexGuard<'_, Known> {
        self.known.locked()
    }

    /// Whether the votes, the other replicas' records and the meter have
    /// each been read once: until then this replica sees itself alone.
    pub fn caught_up(&self) -> bool {
        let known = self.known();
        known.votes_index.is_some() && known.replicas_read && known.meter_read
    }

    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.snapshots.subscribe()
    }

    /// The last published snapshot.
    pub fn published(&self) -> Snapshot {
        self.snapshots.borrow().clone()
    }

    pub fn own_served(&self) -> u64 {
        self.served.flushed.load(Ordering::Relaxed) + self.served.pending.load(Ordering::Relaxed)
    }

    pub fn pets_served(&self) -> u64 {
        self.known().others_served + self.own_served()
    }

    /// Pets served by every other replica, from the `served/` entries.
    pub fn others_served(&self, entries: &[KvEntry]) -> u64 {
        let own = self.keys.own_served();
        entries
            .iter()
            .filter(|e| e.key != own)
            .filter_map(ServedValue::from_entry)
            .map(|v| v.n)
            .sum()
    }

    fn status(&self) -> StoreStatus {
        let known = self.known();
        StoreStatus {
            kind: StoreKind::Consul,
            endpoints: self.client.endpoints(),
            servers: known.servers.iter().map(|s| s.address.clone()).collect(),
            leader: known.leader.clone(),
            last_error: self.client.last_error(),
            reachable: self.client.reachable(),
            access: self.client.access(),
        }
    }

    /// Whether what the watchers last saw may be old: the last call failed,
    /// or a watcher's last blocking query did. (A cluster without a leader
    /// still answers the leader look, so the last call alone flickers.)
    pub fn stale(&self) -> bool {
        !self.client.reachable() || self.failing_watches.load(Ordering::Relaxed) > 0
    }

    /// The snapshot from what the watchers last saw, `stale` as given.
    pub fn last_known(&self, stale: bool) -> Snapshot {
        let (votes, round) = {
            let known = self.known();
            (known.votes.current(), known.votes.round())
        };
        Snapshot {
            tally: Tally {
                votes,
                pets_served: self.pets_served(),
            },
            round,
            stale,
            status: self.status(),
        }
    }
}

/// Runs blocking queries on one prefix until `stop`, handing each new
/// answer and its index to `apply`.
pub(super) async fn follow(
    w: Arc<Watched>,
    stop: CancellationToken,
    prefix: fn(&Keys) -> String,
    empty: WhenEmpty,
    apply: impl Fn(&Watched, u64, &[KvEntry]),
) {
    let mut index = None;
    let mut failing = false;
    let prefix = prefix(&w.keys);
    let folder = empty == WhenEmpty::Folder;
    let mut has_folder = !folder;
    loop {
        if !has_folder {
            let made = folders::ensure(w.client.as_ref(), &prefix);
            let Some(made) = stop.run_until_cancelled(made).await else {
                return;
            };
            has_folder = made;
        }
        let Some(answer) = stop
            .run_until_cancelled(w.client.list(&prefix, index))
            .await
        else {
            return;
        };
        if answer.is_err() != failing {
            failing = answer.is_err();
            if failing {
                w.failing_watches.fetch_add(1, Ordering::Relaxed);
            } else {
                w.failing_watches.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let pause = match answer {
            Ok((new_index, entries)) => {
                let entries = if folder {
                    let (entries, had) = folders::without_folder(&prefix, entries);
                    // Gone (a wiped prefix): made again before the next query.
                    has_folder = had;
                    entries
                } else {
                    entries
                };
                apply(&w, new_index, &entries);
                w.changed.notify_waiters();
                // An index that goes backwards means the cluster was rebuilt:
                // start over with a plain read.
                index = Some(new_index).filter(|&i| Some(i) >= index && i > 0);
                if prefix == w.keys.replicas() {
                    fleet_pace(w.known().replicas.len())
                } else if entries.is_empty() && empty == WhenEmpty::Slow {
                    EMPTY_PACE
                } else {
                    WATCH_PACE
                }
            }
            Err(_) => {
                index = None;
                WATCH_RETRY
            }
        };
        if stop
            .run_until_cancelled(tokio::time::sleep(pause))
            .await
            .is_none()
        {
            return;
        }
    }
}

/// Keeps the leader, the servers and the endpoint list fresh, until `stop`.
async fn watch_cluster(w: Arc<Watched>, stop: CancellationToken) {
    let mut round = 0u32;
    loop {
        let resolve = round.is_multiple_of(RESOLVE_EVERY);
        if resolve
            && stop
                .run_until_cancelled(w.client.refresh_endpoints())
                .await
                .is_none()
        {
            return;
        }
        round = round.wrapping_add(1);
        let Some(cluster) = stop.run_until_cancelled(w.client.cluster()).await else {
            return;
        };
        // Only an answer says whether there is a leader: when no server
        // answered at all, the writes' own failures decide.
        let leadership = cluster
            .as_ref()
            .ok()
            .map(|(leader, _)| w.outage.leader_seen(leader.is_some()));
        let leaderless = {
            let mut known = w.known();
            known.leadership = leadership;
            if let Ok((leader, servers)) = cluster {
                if let Some((host, _)) = leader.as_deref().and_then(|l| l.rsplit_once(':')) {
                    w.client.prefer_host(host);
                }
                known.leader = leader;
                known.servers = servers;
            }
            known.leader.is_none()
        };
        // What the token may do, asked only while there is a leader: without
        // one, a server holds the question until its RPC gives up, and the
        // look that would see the quorum back would wait for it.
        if resolve
            && !leaderless
            && stop
                .run_until_cancelled(w.client.look_up_access())
                .await
                .is_none()
        {
            return;
        }
        let pause = if leaderless {
            LEADERLESS_LOOK
        } else {
            LEADER_LOOK
        };
        let next_look = async {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                // Not more often than this, however many calls fail.
                _ = async { w.client.failed().await; tokio::time::sleep(LOOK_AFTER_FAILURE).await } => {}
            }
        };
        if stop.run_until_cancelled(next_look).await.is_none() {
            return;
        }
    }
}

/// Turns change notifications into snapshots for subscribers, until `stop`.
async fn publish(w: Arc<Watched>, stop: CancellationToken) {
    loop {
        let notified = w.changed.notified();
        let now = w.last_known(w.stale());
        w.snapshots.send_if_modified(|last| {
            let modified = *last != now;
            *last = now;
            modified
        });
        let next = async {
            let _ = tokio::time::timeout(PUBLISH_AT_LEAST, notified).await;
            tokio::time::sleep(PUBLISH_PACE).await;
        };
        if stop.run_until_cancelled(next).await.is_none() {
            return;
        }
    }
}
