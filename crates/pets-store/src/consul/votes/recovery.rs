//! Recovery: settling a write whose outcome is unknown, and undoing a group
//! that committed after its voters were told it had not.
//!
//! *Settle.* A write that timed out (or lost its leader mid-commit) may still
//! commit. The lane writes its counter again, expecting the index the lost
//! write expected: only one of the two can succeed. If this fence lands, the
//! lost write never will; if it fails, the lost write committed, and the
//! counter's token says which write won.
//!
//! *Undo.* A voter not answered by the deadline is told 503. If the write is
//! then found to have committed after all (as happens when quorum returns
//! and the write was already in the log), the lane reverts each record that
//! still carries the group's token and moves its counter back, so a refused
//! vote does not stay in the tally. Until then it is visible for a moment:
//! between the commit and the undo there is at least one round trip, so the
//! window cannot be zero. An undo that cannot reach Consul is kept and tried
//! again between groups; it never holds its lane while Consul is away.

use std::time::Duration;

use tokio::time::{sleep, Instant};

use crate::consul::fold::plan::was_folded;
use crate::consul::keys::Keys;
use crate::consul::kv::{CallError, TxnOp, TxnOutcome};
use crate::consul::records::{new_token, Counter, Previous};
use crate::consul::votes::ballots::{sum_of_moves, Group};
use crate::consul::votes::lane::{Lane, MAX_CONFLICT_ROUNDS};
use crate::domain::BallotRef;

/// The first pause between two fences, doubled up to [`SETTLE_BACKOFF_MAX`]:
/// a lost leader takes a few hundred milliseconds to replace, a lost quorum
/// much longer, and every fence is a write Consul must refuse or apply.
pub const SETTLE_BACKOFF_START: Duration = Duration::from_millis(50);
pub const SETTLE_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How often an idle lane tries an undo it still owes: Consul was not
/// reachable at the last try, and every try costs a read.
pub const UNDO_RETRY: Duration = Duration::from_millis(500);

/// Whether a write whose outcome was unknown committed.
#[derive(Debug, PartialEq, Eq)]
pub enum Settled {
    Committed,
    NotCommitted,
}

/// A committed group to take back: each record it wrote as it was before,
/// and the counter moved back by what each moved it, in the round it
/// committed in (even if that round has closed since).
#[derive(Debug)]
pub struct Undo {
    token: String,
    round: u64,
    voters: Vec<UndoVoter>,
}

#[derive(Debug)]
struct UndoVoter {
    key: String,
    previous: Previous,
    delta: [i64; 3],
}

impl Undo {
    /// The undo of `group`'s write `at` in round `round`: each moved
    /// voter's record back to what it was, and the group's first votes (one
    /// record) removed.
    pub fn of(group: &Group, keys: &Keys, at: BallotRef, round: u64) -> Self {
        let (first, moved): (Vec<_>, Vec<_>) =
            group.entries.iter().partition(|e| e.ballot.first_vote);
        let mut voters: Vec<UndoVoter> = moved
            .into_iter()
            .map(|e| UndoVoter {
                key: keys.voter(&e.ballot.voter),
                previous: e.previous.clone(),
                delta: e.delta(),
            })
            .collect();
        if !first.is_empty() {
            voters.push(UndoVoter {
                key: keys.first_votes(&at),
                previous: Previous::Absent,
                delta: sum_of_moves(first),
            });
        }
        Self {
            token: at.to_string(),
            round,
            voters,
        }
    }
}

/// What one try at an undo came to.
enum UndoTry {
    Done,
    /// A record or the counter changed in between: try again at once.
    Conflict,
    /// Consul cannot be reached: try again later.
    Later,
}

impl Lane {
    /// Finds out whether the write carrying `token` committed, by fencing the
    /// counter index it expected. Answers `group` no at its deadline if that
    /// takes longer; meanwhile the dispatcher fails new ballots fast.
    pub(crate) async fn settle(
        &mut self,
        before: &Counter,
        token: &str,
        mut group: Option<&mut Group>,
    ) -> Settled {
        let mut backoff = SETTLE_BACKOFF_START;
        // A fence against "no key" landed: the lost write, which expected
        // no key too, was applied only if its key was folded away since,
        // and then the archive holds its token.
        let mut fenced_first = false;
        loop {
            if let Some(group) = group.as_deref_mut() {
                if !group.answered && Instant::now() >= group.deadline {
                    tracing::warn!(
                        voters = group.entries.len(),
                        "vote write still unsettled at its deadline; telling voters it is unconfirmed"
                    );
                    group.unconfirmed(
                        "it was sent, but Consul did not say in time whether it was recorded",
                    );
                }
            }
            self.outage.failed();
            if fenced_first {
                match self.kv.read_consistent(&self.keys.votes_archive()).await {
                    Ok(archive) => {
                        let committed = was_folded(archive.as_ref(), token);
                        tracing::info!(committed, "interrupted first vote write settled");
                        return if committed {
                            Settled::Committed
                        } else {
                            Settled::NotCommitted
                        };
                    }
                    Err(e) => tracing::debug!(error = %e, "reading the archive while settling"),
                }
                sleep(backoff).await;
                backoff = (backoff * 2).min(SETTLE_BACKOFF_MAX);
                continue;
            }
            let fence = before.moved(0, [0; 3], &new_token());
            let op = TxnOp::cas_json(self.counter_key.clone(), &fence, before.index);
            match self.kv.write(&[op]).await {
                Ok(outcome @ TxnOutcome::Committed(_)) => {
                    self.committed(fence, outcome.last_index());
                    if before.index == 0 {
                        fenced_first = true;
                        continue;
                    }
                    tracing::info!("interrupted vote write settled: it did not commit");
                    return Settled::NotCommitted;
                }
                Ok(TxnOutcome::RolledBack(_)) => {
                    match self.kv.read_consistent(&self.counter_key).await {
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
                        Ok(None) => {
                            if let Some(settled) = self.settle_folded(token).await {
                                return settled;
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "reading counter while settling"),
                    }
                }
                Err(e) => tracing::debug!(error = %e, "fence write failed; retrying"),
            }
            sleep(backoff).await;
            backoff = (backoff * 2).min(SETTLE_BACKOFF_MAX);
        }
    }

    /// The counter was folded away while a write to it was unsettled: the
    /// archive remembers the tokens it folded, so it says whether that
    /// write was among them. `None` when the archive cannot be read now.
    async fn settle_folded(&mut self, token: &str) -> Option<Settled> {
        let archive = self
            .kv
            .read_consistent(&self.keys.votes_archive())
            .await
            .ok()?;
        self.counter = Counter::default();
        let committed = was_folded(archive.as_ref(), token);
        tracing::info!(
            committed,
            "interrupted vote write settled after its counter was folded"
        );
        Some(if committed {
            Settled::Committed
        } else {
            Settled::NotCommitted
        })
    }

    /// Whether this lane owes an undo due for another try.
    pub fn undo_due(&self) -> bool {
        !self.owed.is_empty() && self.last_undo_try.elapsed() >= UNDO_RETRY
    }

    /// Tries every owed undo; those Consul could not take are kept.
    pub async fn pay_debts(&mut self) {
        if self.owed.is_empty() {
            return;
        }
        self.last_undo_try = Instant::now();
        for undo in std::mem::take(&mut self.owed) {
            let mut rounds = 0;
            let done = loop {
                rounds += 1;
                match self.try_undo(&undo).await {
                    UndoTry::Done => break true,
                    UndoTry::Conflict if rounds < MAX_CONFLICT_ROUNDS => continue,
                    UndoTry::Conflict | UndoTry::Later => break false,
                }
            };
            if !done {
                self.owed.push(undo);
            }
        }
    }

    /// One try: each record still carrying the group's token goes back to
    /// what it was. A record changed since belongs to a later vote that
    /// already moved the count from this group's value, so it is left.
    async fn try_undo(&mut self, undo: &Undo) -> UndoTry {
        let keys: Vec<String> = undo.voters.iter().map(|v| v.key.clone()).collect();
        let Ok(current) = self.read_voters(&keys).await else {
            return UndoTry::Later;
        };
        let undo_token = new_token();
        let mut delta = [0i64; 3];
        let mut ops = Vec::new();
        for voter in &undo.voters {
            let Some(now) = current.get(&voter.key).filter(|s| s.token == undo.token) else {
                continue;
            };
            for (sum, d) in delta.iter_mut().zip(voter.delta) {
                *sum -= d;
            }
            ops.push(match &voter.previous {
                Previous::Record(previous) | Previous::Earlier(previous) => {
                    TxnOp::cas(voter.key.clone(), &previous.raw, now.index)
                }
                Previous::Absent | Previous::First(_) | Previous::Unread => {
                    TxnOp::delete_cas(voter.key.clone(), now.index)
                }
            });
        }
        if ops.is_empty() {
            return UndoTry::Done;
        }
        let before = self.counter.clone();
        let next = before.moved(undo.round, delta, &undo_token);
        ops.push(self.counter_op(&next));
        let undone = ops.len() - 1;
        match self.kv.write(&ops).await {
            Ok(outcome @ TxnOutcome::Committed(_)) => {
                self.committed(next, outcome.last_index());
                tracing::warn!(
                    voters = undone,
                    "refused votes that committed late were undone"
                );
                UndoTry::Done
            }
            Ok(TxnOutcome::RolledBack(errors)) => {
                if errors.iter().any(|e| e.op_index == undone) {
                    self.reload_counter().await;
                }
                UndoTry::Conflict
            }
            Err(CallError::NotSent(_) | CallError::Refused(_)) => UndoTry::Later,
            Err(CallError::Unknown(_)) => match self.settle(&before, &undo_token, None).await {
                Settled::Committed => {
                    self.settled();
                    UndoTry::Done
                }
                Settled::NotCommitted => UndoTry::Later,
            },
        }
    }
}
