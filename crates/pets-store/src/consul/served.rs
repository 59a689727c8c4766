//! The pets-served counter: counted in memory, flushed to Consul in batches.
//!
//! A pet page only bumps an atomic. Every [`FLUSH_INTERVAL`] the flusher adds
//! what accumulated to this replica's own key `served/<replica>`, check-and-set,
//! so no other replica ever contends for it and no page costs a Consul write.
//! Counts not flushed yet stay in memory through an outage (a single number,
//! so the memory is bounded) and go out when Consul answers again.
//!
//! A flush whose outcome is unknown is settled by the next one: it uses the
//! same expected index, so either it lands (the lost one never will) or it is
//! refused, and the key's token then names which earlier flush committed.
//!
//! A key that is gone though this replica had written it was folded away
//! (see [`fold`](crate::consul::fold)): its value is in the archive, so the
//! replica counts on from zero, keeping what it had not flushed; the
//! archive's tokens say whether a flush it lost track of was among what was
//! folded.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::consul::fold::plan::was_folded;
use crate::consul::kv::{CallError, Kv, KvEntry, TxnOp, TxnOutcome};
use crate::consul::records::{new_token, ServedValue};

/// How often each replica writes its count.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(250);
/// How long a stopping replica keeps trying to write what it holds: well
/// inside Swarm's 10 s grace period, after the servers drained.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(3);
/// The pause between two tries at shutdown.
const SHUTDOWN_RETRY: Duration = Duration::from_millis(100);

/// The in-memory side, shared with the page handlers.
#[derive(Default)]
pub struct ServedCounter {
    /// Counted here, not yet known to be in Consul.
    pub pending: AtomicU64,
    /// What this replica's key holds, as far as this replica knows.
    pub flushed: AtomicU64,
    /// Set when the key was seen missing: the next flush writes even with
    /// nothing pending, to find out whether it was folded away.
    pub recheck: AtomicBool,
}

pub struct Flusher {
    kv: Arc<dyn Kv>,
    key: String,
    /// `served/archive`, where a fold puts this key's value.
    archive: String,
    counter: Arc<ServedCounter>,
    index: u64,
    /// Writes whose outcome is unknown: their token and the total they wrote.
    unsettled: Vec<(String, u64)>,
    changed: Arc<Notify>,
}

impl Flusher {
    pub fn new(
        kv: Arc<dyn Kv>,
        key: String,
        archive: String,
        counter: Arc<ServedCounter>,
        changed: Arc<Notify>,
    ) -> Self {
        Self {
            kv,
            key,
            archive,
            counter,
            index: 0,
            unsettled: Vec::new(),
            changed,
        }
    }

    pub async fn run(mut self, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(FLUSH_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while stop.run_until_cancelled(ticker.tick()).await.is_some() {
            let _ = self.flush().await;
        }
        // Shutdown: keep trying briefly, so a stopping replica loses nothing
        // while Consul is there to take it.
        let give_up = Instant::now() + SHUTDOWN_FLUSH;
        while Instant::now() < give_up {
            match self.flush().await {
                Ok(true) => return,
                _ => tokio::time::sleep(SHUTDOWN_RETRY).await,
            }
        }
        let left = self.counter.pending.load(Ordering::Relaxed);
        tracing::error!(
            pets_served = left,
            "shutting down with pets-served counts Consul did not take"
        );
    }

    /// Flushes once. `Ok(true)` when nothing is left to write.
    pub(crate) async fn flush(&mut self) -> Result<bool, CallError> {
        let pending = self.counter.pending.load(Ordering::Relaxed);
        let recheck = self.counter.recheck.swap(false, Ordering::Relaxed);
        if pending == 0 && self.unsettled.is_empty() && !recheck {
            return Ok(true);
        }
        let flushed = self.counter.flushed.load(Ordering::Relaxed);
        let value = ServedValue {
            n: flushed + pending,
            token: new_token(),
        };
        let ops = [TxnOp::cas_json(self.key.clone(), &value, self.index)];
        match self.kv.write(&ops).await {
            Ok(outcome @ TxnOutcome::Committed(_)) => {
                self.index = outcome.last_index().unwrap_or(self.index);
                self.landed(flushed, value.n);
                // Whatever was unsettled expected the same index: it is dead.
                self.unsettled.clear();
                Ok(self.counter.pending.load(Ordering::Relaxed) == 0)
            }
            Ok(TxnOutcome::RolledBack(_)) => {
                let entry = self.kv.read_consistent(&self.key).await?;
                self.recover(entry).await?;
                Ok(false)
            }
            Err(CallError::Unknown(message)) => {
                self.unsettled.push((value.token, value.n));
                Err(CallError::Unknown(message))
            }
            Err(e) => Err(e),
        }
    }

    fn landed(&self, flushed: u64, now: u64) {
        self.counter.flushed.store(now, Ordering::Relaxed);
        self.counter
            .pending
            .fetch_sub(now - flushed, Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    /// The key moved past our index: an earlier unsettled flush landed (its
    /// token says which), or someone else wrote the key.
    async fn recover(&mut self, entry: Option<KvEntry>) -> Result<(), CallError> {
        let Some(entry) = entry else {
            if self.index > 0 {
                self.folded().await?;
            }
            self.index = 0;
            return Ok(());
        };
        let current = ServedValue::from_entry(&entry).unwrap_or_default();
        let flushed = self.counter.flushed.load(Ordering::Relaxed);
        if let Some((_, n)) = self.unsettled.iter().find(|(t, _)| *t == current.token) {
            self.landed(flushed, *n);
        } else {
            tracing::error!(key = %self.key, "pets-served key written by someone else; continuing from its value");
            self.counter.flushed.store(current.n, Ordering::Relaxed);
        }
        self.index = entry.modify_index;
        self.unsettled.clear();
        Ok(())
    }

    /// The key was folded into the archive: a flush this replica lost track
    /// of counts as landed if the archive took its token; then the key
    /// starts again from zero with what is still pending.
    async fn folded(&mut self) -> Result<(), CallError> {
        let archive = self.kv.read_consistent(&self.archive).await?;
        let flushed = self.counter.flushed.load(Ordering::Relaxed);
        let landed = self
            .unsettled
            .iter()
            .find(|(token, _)| was_folded(archive.as_ref(), token))
            .map(|(_, n)| *n);
        if let Some(n) = landed {
            self.landed(flushed, n);
        }
        self.counter.flushed.store(0, Ordering::Relaxed);
        self.unsettled.clear();
        self.changed.notify_waiters();
        tracing::warn!(
            key = %self.key,
            "this replica's pets-served key was folded away (was it paused past its session?); counting on from zero"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consul::fake::{FakeKv, Fault};

    fn flusher(kv: &Arc<FakeKv>) -> (Flusher, Arc<ServedCounter>) {
        let counter = Arc::new(ServedCounter::default());
        let flusher = Flusher::new(
            kv.clone(),
            "t/served/r".into(),
            "t/served/archive".into(),
            counter.clone(),
            Arc::new(Notify::new()),
        );
        (flusher, counter)
    }

    fn stored(kv: &FakeKv) -> u64 {
        kv.get("t/served/r")
            .and_then(|e| ServedValue::from_entry(&e))
            .map_or(0, |v| v.n)
    }

    #[tokio::test(start_paused = true)]
    async fn counts_wait_through_an_outage_and_go_out_once() {
        let kv = Arc::new(FakeKv::default());
        let (mut flusher, counter) = flusher(&kv);
        counter.pending.fetch_add(3, Ordering::Relaxed);
        kv.lose_quorum();
        assert!(flusher.flush().await.is_err());
        assert_eq!(counter.pending.load(Ordering::Relaxed), 3, "kept in memory");
        kv.restore_quorum();
        assert_eq!(flusher.flush().await, Ok(true));
        assert_eq!(
            (stored(&kv), counter.flushed.load(Ordering::Relaxed)),
            (3, 3)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_flush_whose_answer_was_lost_is_recognised_by_its_token() {
        let kv = Arc::new(FakeKv::default());
        let (mut flusher, counter) = flusher(&kv);
        counter.pending.fetch_add(2, Ordering::Relaxed);
        kv.script(&[Fault::AppliedThenLost]);
        assert!(flusher.flush().await.is_err());
        counter.pending.fetch_add(1, Ordering::Relaxed);
        // The next flush expects the old index: refused, then recognised.
        assert_eq!(flusher.flush().await, Ok(false));
        assert_eq!(counter.flushed.load(Ordering::Relaxed), 2);
        assert_eq!(flusher.flush().await, Ok(true));
        assert_eq!(stored(&kv), 3, "nothing counted twice");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_flush_that_never_landed_is_replaced_by_the_next() {
        let kv = Arc::new(FakeKv::default());
        let (mut flusher, counter) = flusher(&kv);
        counter.pending.fetch_add(2, Ordering::Relaxed);
        kv.script(&[Fault::LostUnapplied]);
        assert!(flusher.flush().await.is_err());
        assert_eq!(flusher.flush().await, Ok(true));
        assert_eq!(stored(&kv), 2);
    }
}
