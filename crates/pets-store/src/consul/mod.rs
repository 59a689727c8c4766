//! The Consul store: votes and counters in a Consul cluster's KV store.
//!
//! Key layout, all under `PETS_KV_PREFIX` (default `pets/`):
//!
//! | key | value | written by |
//! | --- | --- | --- |
//! | `voters/<voter id>` | `{"name","vote","token"}` | whichever replica the voter votes on, check-and-set |
//! | `votes/<replica>/<lane>` | `{"a","b","c","token"}`: votes this lane moved | that lane only |
//! | `served/<replica>` | `{"n","token"}`: pets this replica served | that replica only |
//!
//! Totals are sums over `votes/` and `served/`. Counters have one writer each,
//! so replicas never contend; a voter's record and its lane's counter change
//! in one transaction, so the sums always match the records. An empty store
//! means zero everywhere, so replicas starting together write nothing to agree.
//! [`votes`] and [`served`] explain how writes with an unknown outcome are
//! settled.

mod client;
mod served;
mod votes;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{watch, Notify};

use self::client::{ConsulClient, KvEntry};
use self::served::{Flusher, ServedCounter, ServedValue};
use self::votes::{sum_counters, VoteLanes};
use crate::domain::{Ballot, VoterId};
use crate::store::{Store, StoreError, StoreStatus, Tally};

pub use self::client::{BLOCKING_WAIT, CONNECT_TIMEOUT, READ_TIMEOUT, WRITE_TIMEOUT};
pub use self::served::FLUSH_INTERVAL;
pub use self::votes::{MAX_VOTERS_PER_TXN, VOTE_DEADLINE};

/// The shortest time between two blocking queries on one prefix.
const WATCH_PACE: Duration = Duration::from_millis(100);

/// How many vote transactions may be in flight at once. Consul's cost is per
/// transaction, not per operation, so few large groups beat many small ones;
/// a second lane lets the ballots that arrive during one commit go out
/// without waiting for it (measured: 1, 2 and 4 lanes, 2 fastest).
pub const VOTE_LANES: usize = 2;

/// What the Consul store needs to know; read from the environment by the
/// binary's configuration.
#[derive(Debug, Clone)]
pub struct ConsulSettings {
    /// `DB`: names, `host:port`s or URLs, comma-separated.
    pub db: String,
    /// The ACL token (`CONSUL_HTTP_TOKEN` or the file `CONSUL_HTTP_TOKEN_FILE`).
    pub token: Option<String>,
    /// A private CA for https (`CONSUL_CACERT`), as PEM.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// `PETS_KV_PREFIX`.
    pub prefix: String,
    /// This process's name in keys: the host name and a random suffix.
    pub replica: String,
}

/// Key names, in one place.
pub struct Keys {
    prefix: String,
    replica: String,
}

impl Keys {
    fn votes(&self) -> String {
        format!("{}votes/", self.prefix)
    }
    fn served(&self) -> String {
        format!("{}served/", self.prefix)
    }
    fn own_served(&self) -> String {
        format!("{}served/{}", self.prefix, self.replica)
    }
    fn vote_counter(&self, lane: usize) -> String {
        format!("{}votes/{}/{lane}", self.prefix, self.replica)
    }
    fn voter(&self, voter: &VoterId) -> String {
        format!("{}voters/{voter}", self.prefix)
    }
}

/// What the watchers last saw.
#[derive(Default)]
struct Known {
    votes: [u64; 3],
    /// Pets served by every other replica.
    others_served: u64,
    leader: Option<String>,
    servers: Vec<String>,
}

pub struct ConsulStore {
    client: Arc<ConsulClient>,
    keys: Arc<Keys>,
    lanes: VoteLanes,
    served: Arc<ServedCounter>,
    known: Arc<Mutex<Known>>,
    changes: watch::Sender<Tally>,
    changed: Arc<Notify>,
    stop: Arc<Notify>,
    flusher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ConsulStore {
    /// Sets the store up and starts its background tasks. Fails only on bad
    /// settings: Consul itself may come later.
    pub fn start(settings: ConsulSettings) -> Result<Arc<Self>, String> {
        let client = Arc::new(ConsulClient::new(&settings)?);
        let keys = Arc::new(Keys {
            prefix: settings.prefix,
            replica: settings.replica,
        });
        let changed = Arc::new(Notify::new());
        let served = Arc::new(ServedCounter::default());
        let stop = Arc::new(Notify::new());
        let flusher = Flusher::new(
            client.clone(),
            keys.own_served(),
            served.clone(),
            changed.clone(),
        );
        let store = Arc::new(Self {
            lanes: VoteLanes::start(client.clone(), keys.clone(), VOTE_LANES, changed.clone()),
            client,
            keys,
            served,
            known: Arc::default(),
            changes: watch::Sender::new(Tally::default()),
            changed,
            stop: stop.clone(),
            flusher: Mutex::new(Some(tokio::spawn(flusher.run(stop)))),
        });
        tokio::spawn(watch_votes(Arc::downgrade(&store)));
        tokio::spawn(watch_served(Arc::downgrade(&store)));
        tokio::spawn(watch_cluster(Arc::downgrade(&store)));
        tokio::spawn(publish_changes(Arc::downgrade(&store)));
        Ok(store)
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn own_served(&self) -> u64 {
        self.served.flushed.load(Ordering::Relaxed) + self.served.pending.load(Ordering::Relaxed)
    }

    fn others_served(&self, entries: &[KvEntry]) -> u64 {
        let own = self.keys.own_served();
        entries
            .iter()
            .filter(|e| e.key != own)
            .filter_map(ServedValue::from_entry)
            .map(|v| v.n)
            .sum()
    }

    fn last_known(&self) -> Tally {
        let known = self.known();
        Tally {
            votes: known.votes,
            pets_served: known.others_served + self.own_served(),
        }
    }
}

#[async_trait]
impl Store for ConsulStore {
    async fn cast_vote(&self, ballot: Ballot) -> Result<(), StoreError> {
        self.lanes.cast(ballot).await
    }

    fn count_pet_served(&self) {
        self.served.pending.fetch_add(1, Ordering::Relaxed);
    }

    fn pets_served(&self) -> u64 {
        self.known().others_served + self.own_served()
    }

    async fn tally(&self) -> Result<Tally, StoreError> {
        let (votes_prefix, served_prefix) = (self.keys.votes(), self.keys.served());
        let (votes, served) = tokio::join!(
            self.client.list(&votes_prefix, None),
            self.client.list(&served_prefix, None)
        );
        let unavailable = |e: client::CallError| StoreError::Unavailable(e.message().to_owned());
        let (_, votes) = votes.map_err(unavailable)?;
        let (_, served) = served.map_err(unavailable)?;
        let votes = sum_counters(&votes);
        let others_served = self.others_served(&served);
        {
            let mut known = self.known();
            known.votes = votes;
            known.others_served = others_served;
        }
        Ok(Tally {
            votes,
            pets_served: others_served + self.own_served(),
        })
    }

    fn subscribe(&self) -> watch::Receiver<Tally> {
        self.changes.send_replace(self.last_known());
        self.changes.subscribe()
    }

    fn status(&self) -> StoreStatus {
        let known = self.known();
        StoreStatus {
            kind: "consul",
            endpoints: self.client.endpoints(),
            servers: known.servers.clone(),
            leader: known.leader.clone(),
            last_error: self.client.last_error(),
            reachable: self.client.reachable(),
        }
    }

    fn describe(&self) -> String {
        format!(
            "consul at {} under `{}` as replica `{}`",
            self.client.endpoints().join(", "),
            self.keys.prefix,
            self.keys.replica
        )
    }

    async fn shutdown(&self) {
        self.stop.notify_one();
        let flusher = self
            .flusher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(flusher) = flusher {
            let _ = flusher.await;
        }
    }
}

/// Follows `votes/` with blocking queries: the live tally for the console.
async fn watch_votes(store: Weak<ConsulStore>) {
    follow(store, Keys::votes, |s, entries| {
        s.known().votes = sum_counters(entries)
    })
    .await
}

/// Follows `served/` with blocking queries: the other replicas' counts.
async fn watch_served(store: Weak<ConsulStore>) {
    follow(store, Keys::served, |s, entries| {
        let others = s.others_served(entries);
        s.known().others_served = others;
    })
    .await
}

/// Runs blocking queries on one prefix for as long as the store lives,
/// handing each new answer to `apply`.
async fn follow(
    store: Weak<ConsulStore>,
    prefix: fn(&Keys) -> String,
    apply: impl Fn(&ConsulStore, &[KvEntry]),
) {
    let mut index = None;
    while let Some(s) = store.upgrade() {
        let (client, prefix) = (s.client.clone(), prefix(&s.keys));
        drop(s);
        match client.list(&prefix, index).await {
            Ok((new_index, entries)) => {
                let Some(s) = store.upgrade() else { return };
                apply(&s, &entries);
                s.changed.notify_waiters();
                drop(s);
                // Every commit wakes a blocking query; pacing them keeps the
                // re-reads from costing Consul more than the writes.
                tokio::time::sleep(WATCH_PACE).await;
                // An index that goes backwards means the cluster was rebuilt:
                // start over with a plain read.
                index = Some(new_index).filter(|&i| Some(i) >= index && i > 0);
            }
            Err(_) => {
                index = None;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Keeps the leader, the servers and the endpoint list fresh.
async fn watch_cluster(store: Weak<ConsulStore>) {
    let mut round = 0u32;
    while let Some(s) = store.upgrade() {
        let client = s.client.clone();
        drop(s);
        if round.is_multiple_of(5) {
            client.refresh_endpoints().await;
        }
        round = round.wrapping_add(1);
        let cluster = client.cluster().await;
        let Some(s) = store.upgrade() else { return };
        let leaderless = {
            let mut known = s.known();
            if let Ok((leader, servers)) = cluster {
                if let Some(host) = leader.as_deref().and_then(|l| l.rsplit_once(':')) {
                    s.client.prefer_host(host.0);
                }
                known.leader = leader;
                known.servers = servers;
            }
            known.leader.is_none()
        };
        drop(s);
        // Look often while there is no leader, so the console shows the new
        // one as soon as it is elected.
        let pause = if leaderless { 500 } else { 2000 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// Turns change notifications into tally updates for subscribers, at most
/// every 100 ms.
async fn publish_changes(store: Weak<ConsulStore>) {
    loop {
        let Some(s) = store.upgrade() else { return };
        let changed = s.changed.clone();
        let notified = changed.notified();
        s.changes.send_if_modified(|tally| {
            let now = s.last_known();
            std::mem::replace(tally, now) != now
        });
        drop(s);
        let _ = tokio::time::timeout(Duration::from_secs(1), notified).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
