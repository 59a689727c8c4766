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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::client::{CallError, ConsulClient, KvEntry, TxnOp, TxnOutcome};
use super::votes::new_token;

/// How often each replica writes its count.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServedValue {
    pub n: u64,
    #[serde(default)]
    pub token: String,
}

impl ServedValue {
    pub fn from_entry(entry: &KvEntry) -> Option<Self> {
        serde_json::from_slice(&entry.bytes()).ok()
    }
}

/// The in-memory side, shared with the page handlers.
#[derive(Default)]
pub struct ServedCounter {
    /// Counted here, not yet known to be in Consul.
    pub pending: AtomicU64,
    /// What this replica's key holds, as far as this replica knows.
    pub flushed: AtomicU64,
}

pub struct Flusher {
    client: Arc<ConsulClient>,
    key: String,
    counter: Arc<ServedCounter>,
    index: u64,
    /// Writes whose outcome is unknown: their token and the total they wrote.
    unsettled: Vec<(String, u64)>,
    changed: Arc<Notify>,
}

impl Flusher {
    pub fn new(
        client: Arc<ConsulClient>,
        key: String,
        counter: Arc<ServedCounter>,
        changed: Arc<Notify>,
    ) -> Self {
        Self {
            client,
            key,
            counter,
            index: 0,
            unsettled: Vec::new(),
            changed,
        }
    }

    pub async fn run(mut self, stop: Arc<Notify>) {
        let mut ticker = tokio::time::interval(FLUSH_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stopped = stop.notified();
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                _ = ticker.tick() => { let _ = self.flush().await; }
                _ = &mut stopped => break,
            }
        }
        // Shutdown: keep trying briefly, so a stopping replica loses nothing
        // while Consul is there to take it.
        let give_up = Instant::now() + Duration::from_secs(3);
        while Instant::now() < give_up {
            match self.flush().await {
                Ok(true) => return,
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let left = self.counter.pending.load(Ordering::Relaxed);
        tracing::error!(
            pets_served = left,
            "shutting down with pets-served counts Consul did not take"
        );
    }

    /// Flushes once. `Ok(true)` when nothing is left to write.
    async fn flush(&mut self) -> Result<bool, CallError> {
        let pending = self.counter.pending.load(Ordering::Relaxed);
        if pending == 0 && self.unsettled.is_empty() {
            return Ok(true);
        }
        let flushed = self.counter.flushed.load(Ordering::Relaxed);
        let value = ServedValue {
            n: flushed + pending,
            token: new_token(),
        };
        let bytes = serde_json::to_vec(&value).expect("counter serializes");
        let ops = [TxnOp::cas(self.key.clone(), &bytes, self.index)];
        match self.client.txn(&ops, false).await {
            Ok(TxnOutcome::Committed(results)) => {
                self.index = results.last().map_or(self.index, |r| r.kv.modify_index);
                self.landed(flushed, value.n);
                // Whatever was unsettled expected the same index: it is dead.
                self.unsettled.clear();
                Ok(self.counter.pending.load(Ordering::Relaxed) == 0)
            }
            Ok(TxnOutcome::RolledBack(_)) => {
                let entry = self.client.read_consistent(&self.key).await?;
                self.recover(entry);
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
    fn recover(&mut self, entry: Option<KvEntry>) {
        let Some(entry) = entry else {
            self.index = 0;
            return;
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
    }
}
