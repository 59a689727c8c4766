//! A vote lane commits one group at a time, in one transaction: a check that
//! the round is still the one the lane knows, the group's first votes in one
//! new record, the record of each voter who moves a vote check-and-set
//! against the index it was read at, and the lane's own counter
//! check-and-set, its round moved by the group's sum. A rolled-back
//! transaction is read again and retried; a write whose outcome is unknown
//! is settled first ([`recovery`](crate::consul::votes::recovery)).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::{sleep, Instant};

use crate::consul::keys::Keys;
use crate::consul::kv::{CallError, Kv, TxnError, TxnOp, TxnOutcome, MAX_OPS_PER_TXN};
use crate::consul::records::{Counter, FirstVotes, Previous, Stored, VoterRecord};
use crate::consul::rounds::{self, CurrentRound, Seen};
use crate::consul::votes::ballots::Group;
use crate::consul::votes::outage::{Failing, Outage, FAIL_FAST_AFTER};
use crate::consul::votes::recovery::{Settled, Undo};
use crate::consul::votes::Shared;
use crate::domain::BallotRef;

/// Consul refused the group's transaction outright: no retry can pass, so
/// its voters are told at once.
fn refused(group: &mut Group, error: &str) {
    tracing::error!(
        voters = group.entries.len(),
        error,
        "votes not recorded: Consul refused the transaction"
    );
    group.answer(Err("the vote store refused the vote; it was not counted"));
}

/// Check-and-set conflicts tolerated for one group before giving up: each
/// one means another replica changed one of its voters in between, so more
/// than a few in a row means a voter is being fought over.
pub const MAX_CONFLICT_ROUNDS: usize = 16;
/// The pause after a call that reached no Consul server before the group is
/// tried again: long enough for an election to make progress, short enough
/// to use the rest of the voter's deadline.
pub const RETRY_PAUSE: Duration = Duration::from_millis(100);

pub struct Lane {
    /// Which of the replica's lanes this is.
    pub(crate) index: usize,
    pub(crate) kv: Arc<dyn Kv>,
    pub(crate) keys: Arc<Keys>,
    pub(crate) counter_key: String,
    /// The lane's counter as last written or read, with its index.
    pub(crate) counter: Counter,
    /// The round votes commit in, as this replica knows it.
    pub(crate) round: Arc<CurrentRound>,
    pub(crate) changed: Arc<Notify>,
    pub(crate) outage: Outage,
    /// Groups that committed after their voters were told they had not,
    /// still to be undone; tried between groups.
    pub(crate) owed: Vec<Undo>,
    pub(crate) last_undo_try: Instant,
    /// Voters whose ballots this replica committed, for the fleet.
    pub(crate) recorded: Arc<AtomicU64>,
    /// The highest index a commit of this replica's lanes is known at: a
    /// read of the results waits until the watcher has seen it.
    pub(crate) written: Arc<AtomicU64>,
}

impl Lane {
    pub fn new(kv: Arc<dyn Kv>, keys: Arc<Keys>, lane: usize, shared: &Shared) -> Self {
        Self {
            index: lane,
            kv,
            counter_key: keys.vote_counter(lane),
            keys,
            counter: Counter::default(),
            round: shared.round.clone(),
            changed: shared.changed.clone(),
            outage: shared.outage.clone(),
            owed: Vec::new(),
            last_undo_try: Instant::now(),
            recorded: shared.recorded.clone(),
            written: shared.written.clone(),
        }
    }

    /// Commits `group` and answers its voters: `Ok` only once it committed,
    /// an error only when it did not and never will.
    pub async fn commit(&mut self, mut group: Group) {
        self.pay_debts().await;
        let mut conflicts = 0;
        let mut last_error = String::new();
        loop {
            if Instant::now() >= group.deadline || conflicts >= MAX_CONFLICT_ROUNDS {
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
            let round = match self.prepare(&mut group).await {
                Ok(round) => round,
                Err(e) => {
                    last_error = e.message().to_owned();
                    if matches!(e, CallError::Refused(_)) {
                        refused(&mut group, &last_error);
                        return;
                    }
                    if self.give_up(&mut group, &last_error) {
                        return;
                    }
                    sleep(RETRY_PAUSE).await;
                    continue;
                }
            };
            // The write's token names its first-votes record too.
            let at = BallotRef::random();
            let token = at.to_string();
            let next = self.counter.moved(round.number, group.delta(), &token);
            let (ops, layout) = self.vote_ops(&group, &next, &at, round);
            match self.kv.write(&ops).await {
                Ok(outcome @ TxnOutcome::Committed(_)) => {
                    self.committed(next, outcome.last_index());
                    self.outage.recovered();
                    self.answer_committed(&mut group, at, round.number);
                    return;
                }
                Ok(TxnOutcome::RolledBack(errors)) => {
                    conflicts += 1;
                    last_error = errors.first().map(|e| e.what.clone()).unwrap_or_default();
                    self.conflicted(&mut group, &errors, &layout, ops.len() - 1)
                        .await;
                }
                Err(CallError::Refused(message)) => {
                    refused(&mut group, &message);
                    return;
                }
                Err(CallError::NotSent(message)) => {
                    last_error = message;
                    if self.give_up(&mut group, &last_error) {
                        return;
                    }
                    sleep(RETRY_PAUSE).await;
                }
                Err(CallError::Unknown(message)) => {
                    tracing::warn!(error = %message, "vote write outcome unknown; settling it");
                    last_error = message;
                    let before = self.counter.clone();
                    match self.settle(&before, &token, Some(&mut group)).await {
                        Settled::Committed => {
                            self.settled();
                            if group.answered {
                                // The voters were already told no: take it back.
                                self.owed
                                    .push(Undo::of(&group, &self.keys, at, round.number));
                                self.pay_debts().await;
                            } else {
                                self.answer_committed(&mut group, at, round.number);
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

    /// Tells the group's voters their ballots are committed in `round`
    /// (the first voters, where their votes are), and counts them.
    fn answer_committed(&self, group: &mut Group, at: BallotRef, round: u64) {
        self.recorded
            .fetch_add(group.entries.len() as u64, Ordering::Relaxed);
        group.answer(Ok((Some(at), round)));
    }

    /// The round to commit in (read from the leader the first time), with
    /// the previous vote in it of every voter not read yet.
    async fn prepare(&mut self, group: &mut Group) -> Result<Seen, CallError> {
        let mut round = self.round.get();
        if round.index == 0 {
            round = rounds::load(self.kv.as_ref(), &self.keys.round_book(), &self.round).await?;
        }
        self.read_previous(group, round.number).await?;
        Ok(round)
    }

    /// In an outage that has outlasted an election a group gets a single
    /// try: true (and the voters told) when failures have gone on that long.
    /// A shorter one is waited out (the caller pauses and tries again).
    fn give_up(&mut self, group: &mut Group, error: &str) -> bool {
        match self.outage.failed() {
            Failing::Lasting => {
                group.answer(Err(
                    "the vote store is unavailable; the vote was not counted",
                ));
                true
            }
            Failing::Began => {
                tracing::warn!(
                    error,
                    "vote store unavailable; votes wait up to {FAIL_FAST_AFTER:?} for it, then fail fast until it answers"
                );
                false
            }
            Failing::Brief => false,
        }
    }

    /// The transaction: the check of the round, the record of each voter
    /// who moves a vote, the group's first votes in one record (if it has
    /// any), then the lane's counter. Also says which entry each operation
    /// is (the check, the first votes and the counter are none).
    fn vote_ops(
        &self,
        group: &Group,
        next: &Counter,
        at: &BallotRef,
        round: Seen,
    ) -> (Vec<TxnOp>, Vec<Option<usize>>) {
        let mut ops = Vec::with_capacity(group.entries.len() + 3);
        let mut layout = Vec::with_capacity(group.entries.len() + 1);
        ops.push(TxnOp::check_index(self.keys.round_book(), round.index));
        layout.push(None);
        let mut first = FirstVotes::new(&next.token, round.number);
        for (i, entry) in group.entries.iter().enumerate() {
            let ballot = &entry.ballot;
            if ballot.first_vote {
                first.add(&ballot.voter, ballot.name.as_str(), ballot.choice);
                continue;
            }
            let record = VoterRecord {
                name: ballot.name.as_str().to_owned(),
                vote: ballot.choice.id().to_owned(),
                round: round.number,
                token: next.token.clone(),
            };
            let key = self.keys.voter(&ballot.voter);
            ops.push(TxnOp::cas_json(key, &record, entry.previous.index()));
            layout.push(Some(i));
        }
        if !first.voters.is_empty() {
            // A new key: the check-and-set against 0 only guards a clash of refs.
            ops.push(TxnOp::cas_json(self.keys.first_votes(at), &first, 0));
        }
        ops.push(self.counter_op(next));
        (ops, layout)
    }

    /// Writes `next` over the counter as this lane last knew it.
    pub(crate) fn counter_op(&self, next: &Counter) -> TxnOp {
        TxnOp::cas_json(self.counter_key.clone(), next, self.counter.index)
    }

    /// A write settled as committed: the counter is as settling left it
    /// (read back, or zero when it was folded away, never the totals the
    /// lane meant to write over a key that is gone, which would count them
    /// again beside the archive), and what it says is published.
    pub(crate) fn settled(&mut self) {
        self.written
            .fetch_max(self.counter.index, Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    /// The counter now holds `next`, at `index` (unchanged when unknown).
    pub(crate) fn committed(&mut self, next: Counter, index: Option<u64>) {
        let index = index.unwrap_or(self.counter.index);
        self.counter = Counter { index, ..next };
        self.written.fetch_max(index, Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    /// Reads the records of voters whose previous vote in `round` is not
    /// known yet: a voter's own record if it has one (a vote in an earlier
    /// round is none in this one), else its first vote, in the record its
    /// cookie named; neither means no vote to move.
    async fn read_previous(&self, group: &mut Group, round: u64) -> Result<(), CallError> {
        let unread: Vec<usize> = (0..group.entries.len())
            .filter(|&i| group.entries[i].previous == Previous::Unread)
            .collect();
        if unread.is_empty() {
            return Ok(());
        }
        let mut keys: Vec<String> = Vec::with_capacity(unread.len() * 2);
        for &i in &unread {
            let ballot = &group.entries[i].ballot;
            keys.push(self.keys.voter(&ballot.voter));
            if let Some(at) = &ballot.first_in {
                let key = self.keys.first_votes(at);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        let found = self.read_voters(&keys).await?;
        for i in unread {
            let entry = &mut group.entries[i];
            let voter = entry.ballot.voter;
            let first = || {
                let record = found.get(&self.keys.first_votes(entry.ballot.first_in.as_ref()?))?;
                FirstVotes::choice_of(&record.raw, &voter, round)
            };
            entry.previous = match found.get(&self.keys.voter(&voter)) {
                Some(own) => Previous::of_record(own.clone(), round),
                None => first().map_or(Previous::Absent, Previous::First),
            };
        }
        Ok(())
    }

    /// Reads voters' records in read-only transactions of at most
    /// [`MAX_OPS_PER_TXN`] operations each: those that exist, by key.
    pub(crate) async fn read_voters(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, Stored>, CallError> {
        let mut found = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_OPS_PER_TXN) {
            let ops: Vec<TxnOp> = chunk.iter().map(|k| TxnOp::get_tree(k.clone())).collect();
            match self.kv.read(&ops).await? {
                TxnOutcome::Committed(results) => found.extend(
                    results
                        .iter()
                        .map(|r| (r.kv.key.clone(), Stored::from_entry(&r.kv))),
                ),
                TxnOutcome::RolledBack(errors) => {
                    return Err(CallError::NotSent(format!(
                        "reading voters failed: {errors:?}"
                    )))
                }
            }
        }
        Ok(found)
    }

    /// After a rollback: voters whose check failed are read again; a failed
    /// counter check reloads the counter; a failed round check (the round
    /// was closed) reads the round again, and every voter's vote in it.
    /// (A clash on the first-votes record needs nothing: the next try has a
    /// new ref.) `layout` says which entry each operation was; the round's
    /// check is the first, `counter_op` the counter's.
    async fn conflicted(
        &mut self,
        group: &mut Group,
        errors: &[TxnError],
        layout: &[Option<usize>],
        counter_op: usize,
    ) {
        for error in errors {
            if let Some(&Some(entry)) = layout.get(error.op_index) {
                group.entries[entry].previous = Previous::Unread;
            }
        }
        if errors.iter().any(|e| e.op_index == 0) {
            let key = self.keys.round_book();
            match rounds::load(self.kv.as_ref(), &key, &self.round).await {
                Ok(round) => {
                    tracing::info!(round = round.number, "a round closed; votes go to the next")
                }
                Err(e) => tracing::debug!(error = %e, "round book not read"),
            }
            for entry in group.entries.iter_mut().filter(|e| !e.ballot.first_vote) {
                entry.previous = Previous::Unread;
            }
        }
        if errors.iter().any(|e| e.op_index == counter_op) {
            self.reload_counter().await;
        }
    }

    /// Reads the counter again. Only this lane writes it, so a change
    /// underneath is an earlier settled write, or an operator's edit.
    /// A counter that is gone was folded away (its votes are in the
    /// archive): the lane starts again from zero.
    pub(crate) async fn reload_counter(&mut self) {
        match self.kv.read_consistent(&self.counter_key).await {
            Ok(Some(entry)) => {
                tracing::warn!(key = %self.counter_key, "lane counter changed underneath; reloading it");
                if let Some(counter) = Counter::from_entry(&entry) {
                    self.counter = counter;
                }
            }
            Ok(None) => {
                tracing::warn!(key = %self.counter_key, "lane counter folded away (was this replica paused past its session?); counting on from zero");
                self.counter = Counter::default();
            }
            Err(e) => tracing::debug!(error = %e, "lane counter not read"),
        }
    }
}
