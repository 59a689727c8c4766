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

impl Folder {
    /// Folds every [`FOLD_EVERY`] until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut suspects = BTreeSet::new();
        while stop
            .run_until_cancelled(tokio::time::sleep(FOLD_EVERY))
            .await
            .is_some()
        {
            match stop.run_until_cancelled(self.round(&suspects)).await {
                Some(Ok(dead)) => suspects = dead,
                Some(Err(e)) => tracing::debug!(error = %e, "no fold this round"),
                None => return,
            }
        }
    }

    /// One round: folds the replicas dead now and at the last round, and
    /// returns those dead now.
    pub async fn round(&self, suspects: &BTreeSet<String>) -> Result<BTreeSet<String>, CallError> {
        let Some(session) = (self.session)() else {
            return Ok(BTreeSet::new());
        };
        let me = &self.keys.replica;
        // Only the lock's holder (or anyone, while it is free) reads the
        // rest: in a fleet of 16, the others cost Consul one key each.
        if self.holder().await?.is_some_and(|h| &h != me) {
            return Ok(BTreeSet::new());
        }
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

    /// Who holds the fold lock now, if anyone.
    async fn holder(&self) -> Result<Option<String>, CallError> {
        let ops = [TxnOp::get_tree(self.keys.fold_lock())];
        match self.kv.read(&ops).await? {
            TxnOutcome::Committed(results) => Ok(holder_of(
                results
                    .iter()
                    .map(|r| &r.kv)
                    .find(|e| e.key == self.keys.fold_lock()),
            )),
            TxnOutcome::RolledBack(_) => Ok(None),
        }
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
    lock.and_then(|e| serde_json::from_slice::<serde_json::Value>(&e.bytes()).ok())
        .and_then(|v| v["holder"].as_str().map(str::to_owned))
}
