//! The Consul store: votes and counters in a Consul cluster's KV store.
//!
//! Key layout, all under `PETS_KV_PREFIX` (default `pets/`), named in
//! [`keys`] and shaped in [`records`]:
//!
//! | key | value | written by |
//! | --- | --- | --- |
//! | `ballots/<ref>` | `{"token","round","voters":{"<voter id>":["name","vote"]}}`: first votes committed together, the ref in each voter's cookie | the replica that took them, once |
//! | `voters/<voter id>` | `{"name","vote","round","token"}`: a voter's vote once moved | whichever replica the voter votes on, check-and-set |
//! | `votes/<replica>/<lane>` | `{"rounds":{"<n>":[a,b,c]},"token"}`: votes this lane moved, by round | that lane only |
//! | `votes/round` | the round book: the current round, and every closed one (see [`rounds`]) | whichever replica closes a round, check-and-set; every vote checks its index |
//! | `served/<replica>` | `{"n","token"}`: pets this replica served | that replica only |
//! | `sessions/<id>` | `{"until"}`: an admin session ended by logout | the replica that ended it |
//! | `logins/<replica>` | `{"minute","n"}`: failed admin logins this minute | that replica only |
//! | `replicas/<replica>` | the replica's fleet record, held by its session (see [`roster`]) | that replica only |
//! | `votes/archive`, `served/archive` | the counts of folded replicas, and the tokens of the last values folded | the replica holding `fold-lock`, check-and-set |
//! | `fold-lock` | `{"holder"}`, held by that replica's fleet session | see [`fold`] |
//! | `faults/fleet`, `faults/replicas/<replica>` | a fault order: `{"latency_ms",…,"issued_at_ms"}` | any replica an operator asks, check-and-set |
//! | `load/<driver>` | a traffic driver's last 5 minutes, second by second (see [`meter`]) | that `pets load` only |
//! | `lab` | the console's lab guide: each step's progress (see [`lab`]) | every replica's keeper, check-and-set |
//! | `voter-key` | `{"key"}`: what voter ids are signed with (see [`voter_key`]) | the first replica to start, once |
//! | `served/`, `faults/`, `logins/`, `sessions/`, `load/` | empty: a folder key, so a watch on the prefix waits for its own keys (see [`folders`]) | the first replica to watch it, once |
//!
//! Totals are sums over `votes/` and `served/`. Counters have one writer each,
//! so replicas never contend; a voter's record and its lane's counter change
//! in one transaction, so the sums always match the records. An empty store
//! means zero everywhere, so replicas starting together write nothing to agree.
//! [`votes`] and [`served`] run over the narrow [`kv::Kv`] seam that
//! [`client`] implements; [`watch`] keeps the snapshot current.

pub mod acl;
mod client;
#[cfg(test)]
mod fake;
mod fault_store;
mod faults;
mod fold;
mod folders;
mod keys;
mod kv;
mod lab;
mod membership;
mod meter;
mod metrics;
mod pace;
mod records;
mod roster;
mod rounds;
mod served;
mod sessions;
mod settings;
mod voter_key;
mod votes;
mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::{watch as channel, Notify};
use tokio_util::sync::CancellationToken;

use self::client::ConsulClient;
use self::keys::Keys;
use self::kv::{Kv, TxnOp, TxnOutcome};
use self::lab::LabCopy;
use self::membership::Membership;
use self::records::Revoked;
use self::rounds::{CurrentRound, VotesRead};
use self::served::{Flusher, ServedCounter};
use self::voter_key::SharedVoterKey;
use self::votes::VoteLanes;
use self::watch::Watched;
use crate::domain::{Ballot, Receipt, VoterKey};
use crate::rounds::Round;
use crate::snapshot::{Snapshot, StoreKind};
use crate::store::{RoundStore, SessionStore, Store, StoreError, VoteStore};
use crate::sync::Locked;

pub use self::client::{ClientError, BLOCKING_WAIT, CONNECT_TIMEOUT, READ_TIMEOUT, WRITE_TIMEOUT};
pub use self::meter::MeterPublisher;
pub use self::served::FLUSH_INTERVAL;
pub use self::settings::{ConsulSettings, TargetError, Targets};
pub use self::votes::{MAX_FIRST_VOTES_PER_TXN, MAX_MOVES_PER_TXN, VOTE_DEADLINE};

/// How many vote transactions may be in flight at once. Consul's cost is per
/// transaction, not per operation, so few large groups beat many small ones:
/// one lane carries the groups, and the second takes the ballots waiting
/// behind a write that is stuck (see the votes' `pace`).
pub const VOTE_LANES: usize = 2;

/// How long a stopping replica waits for its vote lanes to answer what they
/// hold and pay what they owe (inside the stacks' 15 s grace: 5 s of answering
/// on, 6 s of requests in flight, this).
const LANES_CLOSE: std::time::Duration = std::time::Duration::from_secs(3);
/// How long a read of the results waits for the watcher to see this
/// replica's last committed vote before reading Consul itself: a blocking
/// query answers a commit at once, then pauses 100 ms.
const READ_CATCH_UP: std::time::Duration = std::time::Duration::from_secs(1);

pub struct ConsulStore {
    watched: Arc<Watched>,
    /// The lab guide's document, as a blocking query keeps it.
    lab: Arc<LabCopy>,
    /// The current round as this replica knows it (its lanes and watcher
    /// share it).
    round: Arc<CurrentRound>,
    kv: Arc<dyn Kv>,
    voter_key: Arc<SharedVoterKey>,
    /// One failed-login write at a time, so they land in order.
    login_writes: tokio::sync::Mutex<()>,
    lanes: VoteLanes,
    /// Stops every background task of the store: cancelled when it is
    /// dropped, and its children one by one at shutdown.
    stop: CancellationToken,
    /// Stops the pets-served flusher, which writes out what it holds first.
    flush_stop: CancellationToken,
    flusher: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Voters whose ballots this replica committed, and votes it refused.
    recorded: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    /// The highest index this replica's votes committed at.
    written: Arc<AtomicU64>,
    /// This replica's fleet record, once registered, and its task.
    membership: Mutex<Option<Registered>>,
}

struct Registered {
    membership: Arc<Membership>,
    /// Stops the record's task (which then leaves the fleet) and the folder.
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConsulStore {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl ConsulStore {
    /// Sets the store up and starts its background tasks. Fails only on bad
    /// settings: Consul itself may come later.
    pub fn start(settings: ConsulSettings) -> Result<Arc<Self>, ClientError> {
        let client = Arc::new(ConsulClient::new(&settings)?);
        let kv: Arc<dyn Kv> = client.clone();
        let keys = Arc::new(Keys::new(&settings.prefix, &settings.replica));
        let changed = Arc::new(Notify::new());
        let served = Arc::new(ServedCounter::default());
        let stop = CancellationToken::new();
        let flush_stop = stop.child_token();
        let flusher = Flusher::new(
            kv.clone(),
            keys.own_served(),
            keys.served_archive(),
            served.clone(),
            changed.clone(),
        );
        let recorded = Arc::new(AtomicU64::new(0));
        let written = Arc::new(AtomicU64::new(0));
        let outage = votes::Outage::default();
        let round = Arc::new(CurrentRound::default());
        tokio::spawn(rounds::make_book(
            kv.clone(),
            keys.round_book(),
            round.clone(),
            stop.clone(),
        ));
        let voter_key = Arc::new(SharedVoterKey::new(keys.voter_key(), outage.clone()));
        tokio::spawn(voter_key.clone().learn(kv.clone(), stop.clone()));
        let watched = Watched::start(
            client,
            keys.clone(),
            served.clone(),
            round.clone(),
            changed.clone(),
            outage.clone(),
            &stop,
        );
        Ok(Arc::new(Self {
            voter_key,
            kv: kv.clone(),
            lanes: VoteLanes::start(
                kv,
                keys.clone(),
                VOTE_LANES,
                votes::Shared {
                    changed: changed.clone(),
                    recorded: recorded.clone(),
                    written: written.clone(),
                    outage: outage.clone(),
                    round: round.clone(),
                },
                stop.child_token(),
            ),
            recorded,
            refused: Arc::default(),
            written,
            membership: Mutex::default(),
            lab: LabCopy::follow(&watched, &stop),
            watched,
            round,
            login_writes: tokio::sync::Mutex::new(()),
            flusher: Mutex::new(Some(tokio::spawn(flusher.run(flush_stop.clone())))),
            flush_stop,
            stop,
        }))
    }
}

impl ConsulStore {
    /// The tally read from Consul now (both prefixes, one round trip each).
    async fn read_from_consul(&self) -> Snapshot {
        let w = &self.watched;
        let (votes_prefix, served_prefix) = (w.keys.votes(), w.keys.served());
        let (votes, served) = tokio::join!(
            w.client.list(&votes_prefix, None),
            w.client.list(&served_prefix, None)
        );
        match (votes, served) {
            (Ok((_, votes)), Ok((_, served))) => {
                let others_served = w.others_served(&served);
                let votes = VotesRead::of(&w.keys, &votes, &self.round);
                let mut known = w.known();
                known.votes = votes;
                known.others_served = others_served;
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "showing last known results");
                return w.last_known(true);
            }
        }
        w.last_known(false)
    }
}

#[async_trait]
impl VoteStore for ConsulStore {
    async fn cast_vote(&self, ballot: Ballot) -> Result<Receipt, StoreError> {
        let cast = self.lanes.cast(ballot).await;
        if cast.is_err() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        cast
    }

    async fn voter_key(&self) -> Result<VoterKey, StoreError> {
        self.voter_key.get(self.kv.as_ref()).await
    }

    fn count_pet_served(&self) {
        self.watched.served.pending.fetch_add(1, Ordering::Relaxed);
    }

    fn pets_served(&self) -> u64 {
        self.watched.pets_served()
    }

    fn current_round(&self) -> u64 {
        self.round.get().number
    }

    /// From memory: the watchers keep the tally current with blocking
    /// queries, so a room full of consoles costs Consul nothing. A vote this
    /// replica committed is waited for (briefly) so that whoever voted sees
    /// it; only if the watcher is that far behind is Consul read.
    async fn read(&self) -> Snapshot {
        let w = &self.watched;
        let written = self.written.load(Ordering::Relaxed);
        let caught_up = tokio::time::timeout(READ_CATCH_UP, async {
            loop {
                let notified = w.changed.notified();
                if w.known().votes_index.is_some_and(|i| i >= written) {
                    return;
                }
                notified.await;
            }
        })
        .await;
        if caught_up.is_ok() {
            return w.last_known(w.stale());
        }
        self.read_from_consul().await
    }

    fn snapshot(&self) -> Snapshot {
        let mut snapshot = self.watched.published();
        snapshot.tally.pets_served = self.pets_served();
        snapshot
    }

    fn changes(&self) -> channel::Receiver<Snapshot> {
        self.watched.subscribe()
    }
}

#[async_trait]
impl RoundStore for ConsulStore {
    /// One check-and-set of the round book; answers once this replica's
    /// watcher has seen the close, so the round returned holds every vote
    /// committed before it.
    async fn close_round(
        &self,
        number: Option<u64>,
        names: [String; 3],
    ) -> Result<Round, StoreError> {
        let key = self.watched.keys.round_book();
        let served = self.pets_served();
        let (closed, at) = rounds::close(
            self.kv.as_ref(),
            &key,
            &self.round,
            number,
            names.clone(),
            served,
        )
        .await?;
        self.written.fetch_max(at, Ordering::Relaxed);
        self.read().await;
        self.rounds(&names)
            .into_iter()
            .find(|r| r.number == closed)
            .ok_or_else(|| {
                StoreError::Unavailable(format!("round {closed} closed, but not read back yet"))
            })
    }

    fn rounds(&self, names: &[String; 3]) -> Vec<Round> {
        let served = self.pets_served();
        let known = self.watched.known();
        let first = crate::rounds::RoundBook::first(0);
        let book = known.votes.book.as_ref().unwrap_or(&first);
        book.rounds(&known.votes.counts, names, served)
    }
}

#[async_trait]
impl SessionStore for ConsulStore {
    async fn revoke_session(&self, id: &str, until: u64) -> Result<(), StoreError> {
        let w = &self.watched;
        w.admin.revoked_here(id, until);
        let op = TxnOp::set_json(w.keys.session(id), &Revoked { until });
        match w.client.write(&[op]).await {
            Ok(TxnOutcome::Committed(_)) => Ok(()),
            Ok(TxnOutcome::RolledBack(errors)) => Err(StoreError::Unavailable(format!(
                "ending the session was refused: {errors:?}"
            ))),
            Err(e) => Err(StoreError::Unavailable(e.to_string())),
        }
    }

    fn session_revoked(&self, id: &str) -> bool {
        self.watched.admin.is_revoked(id)
    }

    async fn login_failed(&self) {
        let w = &self.watched;
        let _in_order = self.login_writes.lock().await;
        let count = w.admin.failed_here();
        if let Err(e) = w
            .client
            .write(&[TxnOp::set_json(w.keys.own_logins(), &count)])
            .await
        {
            tracing::debug!(error = %e, "failed login not shared with other replicas");
        }
    }

    fn login_failures(&self) -> u64 {
        self.watched.admin.failures()
    }
}

#[async_trait]
impl Store for ConsulStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Consul
    }

    fn caught_up(&self) -> bool {
        self.watched.caught_up()
    }

    fn describe(&self) -> String {
        format!(
            "consul at {} under `{}` as replica `{}`",
            self.watched.client.endpoints().join(", "),
            self.watched.keys.prefix,
            self.watched.keys.replica
        )
    }

    fn meter(&self) -> crate::meter::Meter {
        self.watched.known().meter.clone()
    }

    fn register_metrics(&self, registry: &prometheus::Registry) {
        self.watched.client.metrics().register(registry);
    }

    async fn shutdown(&self) {
        // Undos first, while this replica's record still keeps its counters
        // from being folded.
        self.lanes.close(LANES_CLOSE).await;
        self.flush_stop.cancel();
        let flusher = self.flusher.locked().take();
        if let Some(flusher) = flusher {
            let _ = flusher.await;
        }
        let registered = self.membership.locked().take();
        if let Some(registered) = registered {
            registered.stop.cancel();
            let _ = registered.task.await;
        }
    }
}
