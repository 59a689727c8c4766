//! Folding dead replicas' keys away, so the keys under the prefix stay
//! bounded however often replicas restart.
//!
//! Every replica start adds counters (`served/<id>`, `votes/<id>/<lane>`,
//! `logins/<id>`); when the replica's fleet record is gone (its session
//! ended), one live replica moves those counts into `votes/archive` and
//! `served/archive` and deletes the keys, in one checked transaction (see
//! [`plan`]). Which replica folds is decided by Consul: the transaction
//! takes the `fold-lock` key with the folder's fleet session, so only the
//! session holding it can commit, and when that replica goes its session
//! ends and the lock is free for another. A replica is folded only once it
//! has been seen dead on two rounds in a row, so one that has just started
//! and not yet written its record is left alone (a fold would still be
//! exact, only pointless).
//!
//! Only the lock's holder looks for dead replicas, every [`FOLD_EVERY`]
//! ([`Folder::turn`]). A replica that finds the lock free takes it (a
//! transaction of one `lock`, which Consul refuses to every other session);
//! every other replica waits on the lock key with a blocking query and
//! looks again only when it changes: its holder's session ended, so Consul
//! deleted it. Those woken together wait a random part of a round more, so
//! they do not all try at once. A lock key without a session (written by
//! hand, or imported) holds nobody. So an idle fleet's look for dead
//! replicas is one replica's (a read of the lock and a read of every
//! replica's keys every 5 s), not every replica's; the others each hold a
//! blocking query.
//!
//! A replica that was only paused past its session's lapse comes back to
//! find its keys gone: its lanes and its pets-served counter start again
//! from zero (the archive holds what they had), and a write it had lost
//! track of is settled by the tokens the archive remembers
//! ([`plan::was_folded`]).

pub mod plan;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::consul::keys::Keys;
use crate::consul::kv::{CallError, Kv, TxnOp, TxnOutcome};

use self::plan::Seen;

/// How often a replica looks for dead replicas to fold.
pub const FOLD_EVERY: Duration = Duration::from_secs(5);

/// This replica's fleet session, if it has one now.
pub type SessionSource = Box<dyn Fn() -> Option<String> + Send + Sync>;

pub struct Folder {
    pub kv: Arc<dyn Kv>,
    pub keys: Arc<Keys>,
    pub session: SessionSource,
}

/// What a look at the fold lock found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// This replica holds it.
    Mine,
    /// Nobody holds it: this replica may take it.
    Free,
    /// Another replica held it and no longer does (or it changed hands):
    /// every replica that waited on it woke at once.
    Changed,
}

impl Folder {
    /// Takes turns every [`FOLD_EVERY`] until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut suspects = BTreeSet::new();
        let mut pause = FOLD_EVERY;
        while stop
            .run_until_cancelled(tokio::time::sleep(pause))
            .await
            .is_some()
        {
            pause = FOLD_EVERY;
            match stop.run_until_cancelled(self.turn(&suspects)).await {
                Some(Ok(Some(dead))) => suspects = dead,
                Some(Ok(None)) => {
                    // Look afresh, after a random part of a round more, so
                    // the replicas woken together do not all try at once.
                    suspects.clear();
                    pause += FOLD_EVERY.mul_f64(rand::random::<f64>());
                }
                Some(Err(e)) => tracing::debug!(error = %e, "no fold this round"),
                None => return,
            }
        }
    }

    /// One turn: waits while another replica holds the fold lock, takes it
    /// if it is free, and, holding it, takes a [`Folder::round`]. `None`
    /// when the turn ended without a look: the lock changed hands, or
    /// another replica took it first.
    pub async fn turn(
        &self,
        suspects: &BTreeSet<String>,
    ) -> Result<Option<BTreeSet<String>>, CallError> {
        match self.wait_while_held().await? {
            Lock::Mine => {}
            Lock::Free if self.take_lock().await? => {}
            Lock::Free | Lock::Changed => return Ok(None),
        }
        self.round(suspects).await.map(Some)
    }

    /// While another replica holds the fold lock, waits, with blocking
    /// queries, for it to change.
    pub async fn wait_while_held(&self) -> Result<Lock, CallError> {
        let lock = self.keys.fold_lock();
        let me = &self.keys.replica;
        let mut held_by = None;
        let mut index = None;
        loop {
            let (at, entries) = self.kv.list(&lock, index).await?;
            let holder = holder_of(entries.iter().find(|e| e.key == lock));
            match (&held_by, holder) {
                (None, None) => return Ok(Lock::Free),
                (None, Some(h)) if &h == me => return Ok(Lock::Mine),
                (None, Some(h)) => held_by = Some(h),
                (Some(was), now) if now.as_ref() != Some(was) => return Ok(Lock::Changed),
                (Some(_), _) => {}
            }
            // An index that goes backwards means the cluster was rebuilt:
            // start over with a plain read.
            let next = Some(at).filter(|&i| i > 0 && Some(i) >= index);
            if next.is_none() || next == index {
                // The wait ended with nothing changed (or the store does
                // not block): a round's pause before asking again.
                tokio::time::sleep(FOLD_EVERY).await;
            }
            index = next;
        }
    }

    /// Takes the free fold lock with this replica's fleet session; whether
    /// it holds it now.
    async fn take_lock(&self) -> Result<bool, CallError> {
        let Some(session) = (self.session)() else {
            return Ok(false);
        };
        let take = [plan::take_lock(&self.keys, &self.keys.replica, &session)];
        let taken = matches!(self.kv.write(&take).await?, TxnOutcome::Committed(_));
        if taken {
            tracing::info!("this replica holds the fold lock: it folds dead replicas' counters");
        }
        Ok(taken)
    }

    /// One round: folds the replicas dead now and at the last round, and
    /// returns those dead now.
    pub async fn round(&self, suspects: &BTreeSet<String>) -> Result<BTreeSet<String>, CallError> {
        let Some(session) = (self.session)() else {
            return Ok(BTreeSet::new());
        };
        let me = &self.keys.replica;
        let seen = self.read().await?;
        let lock = seen.entries.iter().find(|e| e.key == self.keys.fold_lock());
        if holder_of(lock).is_some_and(|h| &h != me) {
            return Ok(BTreeSet::new());
        }
        let dead = seen.dead(&self.keys);
        let ripe: BTreeSet<String> = dead.intersection(suspects).cloned().collect();
        if let Some(ops) = plan::fold(&self.keys, &seen, &ripe, me, &session) {
            match self.kv.write(&ops).await? {
                TxnOutcome::Committed(_) => {
                    tracing::info!(replicas = ?ripe, "folded dead replicas' counters into the archive")
                }
                TxnOutcome::RolledBack(errors) => {
                    tracing::debug!(?errors, "fold not applied: something moved; next round")
                }
            }
        }
        Ok(dead)
    }

    async fn read(&self) -> Result<Seen, CallError> {
        let k = &self.keys;
        let ops = [
            k.votes(),
            k.served(),
            k.logins(),
            k.replicas(),
            format!("{}replicas/", k.faults()),
            k.fold_lock(),
        ]
        .map(TxnOp::get_tree);
        match self.kv.read(&ops).await? {
            TxnOutcome::Committed(results) => Ok(Seen {
                entries: results.into_iter().map(|r| r.kv).collect(),
            }),
            TxnOutcome::RolledBack(errors) => Err(CallError::NotSent(format!("{errors:?}"))),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;

/// The holder named in the fold lock's value.
fn holder_of(lock: Option<&crate::consul::kv::KvEntry>) -> Option<String> {
    lock.filter(|e| e.session.as_deref().is_some_and(|s| !s.is_empty()))
        .and_then(|e| serde_json::from_slice::<serde_json::Value>(&e.bytes()).ok())
        .and_then(|v| v["holder"].as_str().map(str::to_owned))
}
