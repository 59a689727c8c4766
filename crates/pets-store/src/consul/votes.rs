//! Committing votes to Consul: exact, grouped, and never reported wrongly.
//!
//! Ballots queue at a dispatcher that hands them, in groups, to a small pool
//! of *lanes*. A free lane gets every ballot waiting (up to what one
//! transaction may hold), so the busier Consul is, the larger the groups. A
//! voter with a group in flight waits for it, so one voter's ballots commit in
//! order. A lane writes its group in a single `/v1/txn`:
//!
//! * each voter's record `voters/<id>`, check-and-set against the index it was
//!   read at (0 for a voter never seen), and
//! * the lane's own counter `votes/<replica>/<lane>`, check-and-set too, moved
//!   by the sum of the group's changes.
//!
//! The counter key is written by this lane alone, so it never contends; a
//! voter record changed elsewhere in between fails the check, the transaction
//! rolls back as a whole, and the lane reads again and retries. Nothing is
//! ever read, changed and written back unchecked.
//!
//! When a write's outcome is unknown (a timeout, a leader lost mid-commit),
//! the lane *settles* it before answering anyone: it writes the counter again
//! against the index the lost write expected. Only one of the two can succeed.
//! If the fence lands, the lost write never will; if it fails, the lost write
//! committed, and the counter's token says which. Past a ballot's deadline the
//! voter is told 503, and if the write is then found to have committed after
//! all, the lane undoes it, so a refused vote does not stay in the tally.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::{sleep, Instant};

use super::client::{CallError, ConsulClient, KvEntry, TxnOp, TxnOutcome};
use super::Keys;
use crate::domain::{Ballot, PetChoice, VoterId};
use crate::store::StoreError;

/// Consul 1.8 takes at most 64 operations in one transaction; one is the
/// lane's counter.
pub const MAX_VOTERS_PER_TXN: usize = 63;
/// How long a voter may wait before being told the vote was not recorded.
pub const VOTE_DEADLINE: Duration = Duration::from_secs(4);
/// How many ballots may wait for a lane before new ones are turned away.
const QUEUE_DEPTH: usize = 4096;
/// Check-and-set conflicts tolerated for one group before giving up.
const MAX_CONFLICT_ROUNDS: usize = 16;

type Reply = oneshot::Sender<Result<(), StoreError>>;

struct Pending {
    ballot: Ballot,
    deadline: Instant,
    reply: Reply,
}

/// The handle the store uses to submit ballots.
pub struct VoteLanes {
    queue: mpsc::Sender<Pending>,
}

impl VoteLanes {
    pub fn start(
        client: Arc<ConsulClient>,
        keys: Arc<Keys>,
        lanes: usize,
        changed: Arc<Notify>,
    ) -> Self {
        let failing = Arc::new(AtomicBool::new(false));
        let lanes = (0..lanes.max(1))
            .map(|lane| Lane {
                client: client.clone(),
                counter_key: keys.vote_counter(lane),
                keys: keys.clone(),
                counter: Counter::default(),
                changed: changed.clone(),
                failing: failing.clone(),
            })
            .collect();
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(dispatch(rx, lanes, failing));
        Self { queue }
    }

    pub async fn cast(&self, ballot: Ballot) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            ballot,
            deadline: Instant::now() + VOTE_DEADLINE,
            reply,
        };
        self.queue.try_send(pending).map_err(|_| {
            StoreError::Unavailable("too many votes are waiting for the store; try again".into())
        })?;
        // The store always answers: it owns the decision, so no timeout here
        // could make a committed vote look refused.
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the vote store stopped".into())))
    }
}

/// Hands waiting ballots to free lanes; see the module documentation.
async fn dispatch(
    mut queue: mpsc::Receiver<Pending>,
    mut idle: Vec<Lane>,
    failing: Arc<AtomicBool>,
) {
    let (done, mut finished) = mpsc::unbounded_channel::<(Lane, Vec<VoterId>)>();
    let mut waiting: VecDeque<Pending> = VecDeque::new();
    let mut in_flight: HashSet<VoterId> = HashSet::new();
    let mut open = true;
    let mut sweep = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            pending = queue.recv(), if open => match pending {
                Some(pending) => waiting.push_back(pending),
                None => open = false,
            },
            Some((lane, voters)) = finished.recv() => {
                idle.push(lane);
                for voter in voters {
                    in_flight.remove(&voter);
                }
            }
            _ = sweep.tick() => {}
        }
        while let Ok(pending) = queue.try_recv() {
            waiting.push_back(pending);
        }
        // Ballots never sent can be refused safely: past their deadline, or
        // at once while Consul fails and every lane is tied up settling.
        let now = Instant::now();
        let give_up = failing.load(Ordering::Relaxed) && idle.is_empty();
        let (refused, kept): (VecDeque<Pending>, VecDeque<Pending>) = waiting
            .drain(..)
            .partition(|p| give_up || p.deadline <= now);
        waiting = kept;
        for pending in refused {
            let _ = pending.reply.send(Err(StoreError::Unavailable(
                "the vote store is unavailable; the vote was not counted".into(),
            )));
        }
        while !waiting.is_empty() {
            let Some(mut lane) = idle.pop() else { break };
            let group = Group::take(&mut waiting, &in_flight);
            if group.entries.is_empty() {
                idle.push(lane);
                break;
            }
            let voters: Vec<VoterId> = group.entries.iter().map(|e| e.ballot.voter).collect();
            in_flight.extend(voters.iter().copied());
            let done = done.clone();
            tokio::spawn(async move {
                lane.commit(group).await;
                let _ = done.send((lane, voters));
            });
        }
        if !open && waiting.is_empty() && in_flight.is_empty() {
            return;
        }
    }
}

/// What the lane's own counter key holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Counter {
    #[serde(skip)]
    index: u64,
    a: i64,
    b: i64,
    c: i64,
    /// The transaction that wrote this value.
    token: String,
}

impl Counter {
    fn moved(&self, delta: [i64; 3], token: &str) -> Self {
        Self {
            index: self.index,
            a: self.a + delta[0],
            b: self.b + delta[1],
            c: self.c + delta[2],
            token: token.to_owned(),
        }
    }

    fn from_entry(entry: &KvEntry) -> Option<Self> {
        let mut counter: Counter = serde_json::from_slice(&entry.bytes()).ok()?;
        counter.index = entry.modify_index;
        Some(counter)
    }

    pub fn counts(&self) -> [i64; 3] {
        [self.a, self.b, self.c]
    }
}

/// A voter's record, `voters/<id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoterRecord {
    pub name: String,
    pub vote: String,
    /// The transaction that wrote it.
    pub token: String,
}

/// A voter's record as read: its raw value (to restore it) and index.
#[derive(Debug, Clone)]
struct Stored {
    index: u64,
    raw: Vec<u8>,
    choice: Option<PetChoice>,
    token: String,
}

impl Stored {
    fn from_entry(entry: &KvEntry) -> Self {
        let raw = entry.bytes();
        let record: Option<VoterRecord> = serde_json::from_slice(&raw).ok();
        Self {
            index: entry.modify_index,
            choice: record.as_ref().and_then(|r| PetChoice::parse(&r.vote).ok()),
            token: record.map(|r| r.token).unwrap_or_default(),
            raw,
        }
    }
}

/// One voter in a group: the last ballot wins, every sender is answered.
struct Entry {
    ballot: Ballot,
    replies: Vec<Reply>,
    /// `None` until read; `Some(None)` when the voter has no record yet.
    previous: Option<Option<Stored>>,
}

impl Entry {
    fn delta(&self) -> [i64; 3] {
        let mut delta = [0; 3];
        if let Some(Some(Stored {
            choice: Some(c), ..
        })) = &self.previous
        {
            delta[c.index()] -= 1;
        }
        delta[self.ballot.choice.index()] += 1;
        delta
    }
}

/// A group of ballots being committed together.
struct Group {
    entries: Vec<Entry>,
    deadline: Instant,
    answered: bool,
}

impl Group {
    fn answer(&mut self, outcome: Result<(), &str>) {
        if self.answered {
            return;
        }
        self.answered = true;
        for entry in &mut self.entries {
            for reply in entry.replies.drain(..) {
                let _ = reply.send(outcome.map_err(|m| StoreError::Unavailable(m.to_owned())));
            }
        }
    }
}

impl Group {
    /// Takes from `waiting` every ballot whose voter has nothing in flight,
    /// up to one transaction's worth of voters; a voter's later ballots in
    /// the queue replace the earlier (all of them are answered).
    fn take(waiting: &mut VecDeque<Pending>, in_flight: &HashSet<VoterId>) -> Self {
        let mut group = Group {
            deadline: Instant::now() + VOTE_DEADLINE,
            entries: Vec::new(),
            answered: false,
        };
        let mut slots: HashMap<VoterId, usize> = HashMap::new();
        let mut left = VecDeque::with_capacity(waiting.len());
        while let Some(pending) = waiting.pop_front() {
            let (voter, deadline) = (pending.ballot.voter, pending.deadline);
            if in_flight.contains(&voter) {
                left.push_back(pending);
                continue;
            }
            match slots.get(&voter) {
                Some(&slot) => {
                    let entry = &mut group.entries[slot];
                    entry.ballot.name = pending.ballot.name;
                    entry.ballot.choice = pending.ballot.choice;
                    entry.replies.push(pending.reply);
                    group.deadline = group.deadline.min(deadline);
                }
                None if group.entries.len() < MAX_VOTERS_PER_TXN => {
                    slots.insert(voter, group.entries.len());
                    let previous = pending.ballot.first_vote.then_some(None);
                    group.entries.push(Entry {
                        ballot: pending.ballot,
                        replies: vec![pending.reply],
                        previous,
                    });
                    group.deadline = group.deadline.min(deadline);
                }
                None => left.push_back(pending),
            }
        }
        *waiting = left;
        group
    }
}

enum Settled {
    Committed,
    NotCommitted,
}

struct Lane {
    client: Arc<ConsulClient>,
    keys: Arc<Keys>,
    counter_key: String,
    counter: Counter,
    changed: Arc<Notify>,
    /// Shared by all lanes; set after a group failed for want of Consul: the
    /// next groups get one try, not retries until their deadline, so votes
    /// fail fast in an outage.
    failing: Arc<AtomicBool>,
}

impl Lane {
    async fn commit(&mut self, mut group: Group) {
        let mut rounds = 0;
        let mut last_error = String::new();
        loop {
            if Instant::now() >= group.deadline || rounds >= MAX_CONFLICT_ROUNDS {
                tracing::warn!(
                    voters = group.entries.len(),
                    error = %last_error,
                    "votes not recorded: the store did not commit them in time"
                );
                group.answer(Err(
                    "the store could not record the vote in time; it was not counted",
                ));
                return;
            }
            rounds += 1;
            if let Err(e) = self.read_previous(&mut group).await {
                last_error = e.message().to_owned();
                if self.fail_fast(&mut group, &last_error) {
                    return;
                }
                sleep(Duration::from_millis(100)).await;
                continue;
            }
            let token = new_token();
            let (ops, delta) = self.vote_ops(&group, &token);
            let next = self.counter.moved(delta, &token);
            match self.client.txn(&ops, false).await {
                Ok(TxnOutcome::Committed(results)) => {
                    self.committed(next, results.last().map(|r| r.kv.modify_index));
                    self.failing.store(false, Ordering::Relaxed);
                    group.answer(Ok(()));
                    return;
                }
                Ok(TxnOutcome::RolledBack(errors)) => {
                    last_error = errors.first().map(|e| e.what.clone()).unwrap_or_default();
                    self.conflicted(&mut group, &errors).await;
                }
                Err(CallError::NotSent(message)) => {
                    last_error = message;
                    if self.fail_fast(&mut group, &last_error) {
                        return;
                    }
                    sleep(Duration::from_millis(100)).await;
                }
                Err(CallError::Unknown(message)) => {
                    tracing::warn!(error = %message, "vote write outcome unknown; settling it");
                    last_error = message;
                    let before = self.counter.clone();
                    match self.settle(&before, &token, &mut group).await {
                        Settled::Committed => {
                            self.committed(next, None);
                            if group.answered {
                                // The voters were already told no: take it back.
                                self.undo(&group, &token).await;
                            } else {
                                group.answer(Ok(()));
                            }
                            return;
                        }
                        Settled::NotCommitted if group.answered => return,
                        Settled::NotCommitted => {}
                    }
                }
            }
        }
    }

    /// In an outage, a group gets a single try.
    fn fail_fast(&mut self, group: &mut Group, error: &str) -> bool {
        if self.failing.swap(true, Ordering::Relaxed) {
            group.answer(Err(
                "the vote store is unavailable; the vote was not counted",
            ));
            return true;
        }
        tracing::warn!(
            error,
            "vote store unavailable; failing votes fast until it answers"
        );
        false
    }

    fn vote_ops(&self, group: &Group, token: &str) -> (Vec<TxnOp>, [i64; 3]) {
        let mut delta = [0i64; 3];
        let mut ops = Vec::with_capacity(group.entries.len() + 1);
        for entry in &group.entries {
            let record = VoterRecord {
                name: entry.ballot.name.as_str().to_owned(),
                vote: entry.ballot.choice.id().to_owned(),
                token: token.to_owned(),
            };
            let index = match &entry.previous {
                Some(Some(stored)) => stored.index,
                _ => 0,
            };
            let value = serde_json::to_vec(&record).expect("voter record serializes");
            ops.push(TxnOp::cas(
                self.keys.voter(&entry.ballot.voter),
                &value,
                index,
            ));
            for (sum, d) in delta.iter_mut().zip(entry.delta()) {
                *sum += d;
            }
        }
        let next = self.counter.moved(delta, token);
        let value = serde_json::to_vec(&next).expect("counter serializes");
        ops.push(TxnOp::cas(
            self.counter_key.clone(),
            &value,
            self.counter.index,
        ));
        (ops, delta)
    }

    fn committed(&mut self, next: Counter, index: Option<u64>) {
        let index = index.unwrap_or(self.counter.index);
        self.counter = Counter { index, ..next };
        self.changed.notify_waiters();
    }

    /// Reads the records of voters whose previous vote is not known yet.
    async fn read_previous(&self, group: &mut Group) -> Result<(), CallError> {
        let unknown: Vec<usize> = (0..group.entries.len())
            .filter(|&i| group.entries[i].previous.is_none())
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let ops: Vec<TxnOp> = unknown
            .iter()
            .map(|&i| TxnOp::get_tree(self.keys.voter(&group.entries[i].ballot.voter)))
            .collect();
        let results = match self.client.txn(&ops, true).await? {
            TxnOutcome::Committed(results) => results,
            TxnOutcome::RolledBack(errors) => {
                return Err(CallError::NotSent(format!(
                    "reading voters failed: {errors:?}"
                )))
            }
        };
        let mut found: HashMap<&str, Stored> = results
            .iter()
            .map(|r| (r.kv.key.as_str(), Stored::from_entry(&r.kv)))
            .collect();
        for i in unknown {
            let key = self.keys.voter(&group.entries[i].ballot.voter);
            group.entries[i].previous = Some(found.remove(key.as_str()));
        }
        Ok(())
    }

    /// After a rollback: re-read whatever failed its check.
    async fn conflicted(&mut self, group: &mut Group, errors: &[super::client::TxnError]) {
        for error in errors {
            if error.op_index < group.entries.len() {
                group.entries[error.op_index].previous = None;
            } else if let Ok(Some(entry)) = self.client.read_consistent(&self.counter_key).await {
                // Only this lane writes its counter, so this is recovery from
                // an earlier settled write, or an operator's edit.
                tracing::warn!(key = %self.counter_key, "lane counter changed underneath; reloading it");
                if let Some(counter) = Counter::from_entry(&entry) {
                    self.counter = counter;
                }
            }
        }
    }

    /// Finds out whether the write carrying `token` committed, by fencing the
    /// counter index it expected. Answers the group at its deadline if that
    /// takes too long; meanwhile other lanes fail new ballots fast.
    async fn settle(&mut self, before: &Counter, token: &str, group: &mut Group) -> Settled {
        let mut backoff = Duration::from_millis(50);
        loop {
            if !group.answered && Instant::now() >= group.deadline {
                tracing::warn!(
                    "vote write still unsettled at its deadline; telling voters it was not counted"
                );
                group.answer(Err(
                    "the store could not confirm the vote in time; it was not counted",
                ));
            }
            self.failing.store(true, Ordering::Relaxed);
            let fence = before.moved([0; 3], &new_token());
            let value = serde_json::to_vec(&fence).expect("counter serializes");
            let ops = [TxnOp::cas(self.counter_key.clone(), &value, before.index)];
            match self.client.txn(&ops, false).await {
                Ok(TxnOutcome::Committed(results)) => {
                    let index = results.last().map(|r| r.kv.modify_index);
                    self.committed(fence, index);
                    tracing::info!("interrupted vote write settled: it did not commit");
                    return Settled::NotCommitted;
                }
                Ok(TxnOutcome::RolledBack(_)) => {
                    match self.client.read_consistent(&self.counter_key).await {
                        Ok(Some(entry)) => {
                            if let Some(current) = Counter::from_entry(&entry) {
                                let committed = current.token == token;
                                self.counter = current;
                                tracing::info!(committed, "interrupted vote write settled");
                                return if committed {
                                    Settled::Committed
                                } else {
                                    Settled::NotCommitted
                                };
                            }
                        }
                        Ok(None) => {}
                        Err(e) => tracing::debug!(error = %e, "reading counter while settling"),
                    }
                }
                Err(e) => tracing::debug!(error = %e, "fence write failed; retrying"),
            }
            sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// Reverts a group that committed after its voters were told it had not:
    /// each record still carrying the group's token goes back to what it was.
    /// A record changed since belongs to a later vote that already moved the
    /// count from this group's value, so it is left as it is.
    async fn undo(&mut self, group: &Group, token: &str) {
        loop {
            let ops: Vec<TxnOp> = group
                .entries
                .iter()
                .map(|e| TxnOp::get_tree(self.keys.voter(&e.ballot.voter)))
                .collect();
            let current: HashMap<String, Stored> = match self.client.txn(&ops, true).await {
                Ok(TxnOutcome::Committed(results)) => results
                    .iter()
                    .map(|r| (r.kv.key.clone(), Stored::from_entry(&r.kv)))
                    .collect(),
                _ => {
                    sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            let undo_token = new_token();
            let mut delta = [0i64; 3];
            let mut ops = Vec::new();
            for entry in &group.entries {
                let key = self.keys.voter(&entry.ballot.voter);
                let Some(now) = current.get(&key).filter(|s| s.token == token) else {
                    continue;
                };
                for (sum, d) in delta.iter_mut().zip(entry.delta()) {
                    *sum -= d;
                }
                ops.push(match &entry.previous {
                    Some(Some(previous)) => TxnOp::cas(key, &previous.raw, now.index),
                    _ => TxnOp::delete_cas(key, now.index),
                });
            }
            if ops.is_empty() {
                return;
            }
            let before = self.counter.clone();
            let next = before.moved(delta, &undo_token);
            let value = serde_json::to_vec(&next).expect("counter serializes");
            ops.push(TxnOp::cas(self.counter_key.clone(), &value, before.index));
            let mut no_one = Group {
                entries: Vec::new(),
                deadline: Instant::now(),
                answered: true,
            };
            let settled = match self.client.txn(&ops, false).await {
                Ok(TxnOutcome::Committed(results)) => {
                    self.committed(next, results.last().map(|r| r.kv.modify_index));
                    tracing::warn!(
                        voters = ops.len() - 1,
                        "refused votes that committed late were undone"
                    );
                    return;
                }
                Ok(TxnOutcome::RolledBack(errors)) => {
                    self.conflicted(&mut no_one, &errors).await;
                    continue;
                }
                Err(CallError::NotSent(_)) => {
                    sleep(Duration::from_millis(500)).await;
                    continue;
                }
                Err(CallError::Unknown(_)) => self.settle(&before, &undo_token, &mut no_one).await,
            };
            if let Settled::Committed = settled {
                self.committed(next, None);
                return;
            }
        }
    }
}

/// A random token naming one write, so its outcome can be recognised.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// Sums every lane counter under `votes/`.
pub fn sum_counters(entries: &[KvEntry]) -> [u64; 3] {
    let mut sum = [0i64; 3];
    for entry in entries {
        if let Some(counter) = Counter::from_entry(entry) {
            for (s, c) in sum.iter_mut().zip(counter.counts()) {
                *s += c;
            }
        }
    }
    sum.map(|v| v.max(0) as u64)
}
