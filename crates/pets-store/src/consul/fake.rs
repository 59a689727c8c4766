//! A scripted stand-in for Consul under the [`Kv`] seam, for unit tests.
//!
//! It is a real in-memory KV store with Consul's transaction semantics
//! (check-and-set, delete-cas, get-tree, all-or-nothing, one index per
//! commit) and its limits (a transaction of more than 64 operations, a body
//! over 512 KiB or a value over 512 KiB is refused, as Consul answers 413),
//! plus faults on cue: the next write reaches no server, is applied
//! but its answer lost, is lost unapplied, rolls back, or is held in the log
//! of a cluster that lost its quorum and applied when the quorum returns.
//! Every call takes [`LATENCY`], so deadlines mean something under
//! `tokio::time::pause()`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::consul::kv::{
    CallError, Kv, KvEntry, TxnError, TxnOp, TxnOutcome, TxnResult, MAX_OPS_PER_TXN,
};
use crate::sync::Locked;

/// Consul's limit on a transaction's body (the agent's `txn_max_req_len`).
pub const MAX_TXN_BYTES: usize = 512 * 1024;
/// Consul's limit on one value (`kv_max_value_size`).
pub const MAX_VALUE_BYTES: usize = 512 * 1024;

/// What every call costs.
pub const LATENCY: Duration = Duration::from_millis(3);
/// What a [`Fault::Slow`] write costs on top.
pub const SLOW: Duration = Duration::from_secs(1);

/// What the next write meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing wrong: it is applied and answered.
    Pass,
    /// It reaches no server; nothing is applied.
    NotSent,
    /// It is applied, but the answer is lost.
    AppliedThenLost,
    /// It is lost before it is applied.
    LostUnapplied,
    /// It is rolled back as if its first operation failed its check.
    Conflict,
    /// It is applied and answered, [`SLOW`] late.
    Slow,
    /// The cluster loses its quorum with the write in its log: answered
    /// "unknown" now, applied when [`FakeKv::restore_quorum`] is called,
    /// before any later write.
    HeldUntilQuorum,
}

#[derive(Default)]
pub struct FakeKv {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// key -> (base64 value, modify index)
    data: BTreeMap<String, (String, u64)>,
    index: u64,
    faults: VecDeque<Fault>,
    no_quorum: bool,
    held: Vec<Vec<TxnOp>>,
    writes: usize,
}

impl FakeKv {
    /// Faults for the next writes, in order.
    pub fn script(&self, faults: &[Fault]) {
        self.lock().faults.extend(faults.iter().copied());
    }

    /// Every call fails as "no cluster leader" until the quorum returns.
    pub fn lose_quorum(&self) {
        self.lock().no_quorum = true;
    }

    /// Applies the writes held in the log, then answers again.
    pub fn restore_quorum(&self) {
        let mut state = self.lock();
        for ops in std::mem::take(&mut state.held) {
            let _ = state.apply(&ops);
        }
        state.no_quorum = false;
    }

    /// Writes a key directly, as another replica or an operator would.
    pub fn put(&self, key: &str, value: &[u8]) {
        let mut state = self.lock();
        state.index += 1;
        let entry = KvEntry::new(key.to_owned(), value, state.index);
        let index = state.index;
        state
            .data
            .insert(key.to_owned(), (entry.value.unwrap_or_default(), index));
    }

    /// Removes `key`, as an operator's edit would.
    pub fn delete(&self, key: &str) {
        self.lock().data.remove(key);
    }

    pub fn get(&self, key: &str) -> Option<KvEntry> {
        self.lock().entry(key)
    }

    /// Every entry under `prefix`.
    pub fn under(&self, prefix: &str) -> Vec<KvEntry> {
        self.lock().tree(prefix)
    }

    /// Writes attempted so far (applied or not).
    pub fn writes(&self) -> usize {
        self.lock().writes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.locked()
    }

    fn no_leader(&self) -> Result<(), CallError> {
        if self.lock().no_quorum {
            Err(CallError::NotSent("No cluster leader".into()))
        } else {
            Ok(())
        }
    }
}

impl State {
    fn entry(&self, key: &str) -> Option<KvEntry> {
        self.data.get(key).map(|(value, index)| KvEntry {
            key: key.to_owned(),
            value: Some(value.clone()),
            modify_index: *index,
        })
    }

    fn tree(&self, prefix: &str) -> Vec<KvEntry> {
        self.data
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter_map(|(k, _)| self.entry(k))
            .collect()
    }

    /// Checks every operation, then applies all of them or none.
    fn apply(&mut self, ops: &[TxnOp]) -> TxnOutcome {
        let mut errors = Vec::new();
        for (op_index, op) in ops.iter().enumerate() {
            let current = self.data.get(&op.kv.key).map(|(_, i)| *i);
            let ok = match (op.kv.verb, op.kv.index) {
                ("cas", Some(0)) => current.is_none(),
                ("cas" | "delete-cas", Some(index)) => current == Some(index),
                ("check-not-exists", _) => current.is_none(),
                ("check-index", Some(index)) => current == Some(index),
                _ => true,
            };
            if !ok {
                errors.push(TxnError {
                    op_index,
                    what: format!("failed {} on {}", op.kv.verb, op.kv.key),
                });
            }
        }
        if !errors.is_empty() {
            return TxnOutcome::RolledBack(errors);
        }
        let writes = ops
            .iter()
            .any(|op| !matches!(op.kv.verb, "get-tree" | "check-not-exists" | "check-index"));
        if writes {
            self.index += 1;
        }
        let mut results = Vec::new();
        for op in ops {
            match op.kv.verb {
                "cas" | "set" | "lock" => {
                    let value = op.kv.value.clone().unwrap_or_default();
                    self.data.insert(op.kv.key.clone(), (value, self.index));
                    results.push(TxnResult {
                        kv: KvEntry {
                            key: op.kv.key.clone(),
                            value: None,
                            modify_index: self.index,
                        },
                    });
                }
                "delete-cas" => {
                    self.data.remove(&op.kv.key);
                }
                "get-tree" => {
                    results.extend(self.tree(&op.kv.key).into_iter().map(|kv| TxnResult { kv }))
                }
                // As Consul does: the entry checked, without its value.
                "check-index" => results.extend(self.entry(&op.kv.key).map(|kv| TxnResult {
                    kv: KvEntry { value: None, ..kv },
                })),
                _ => {}
            }
        }
        TxnOutcome::Committed(results)
    }
}

/// What Consul refuses with 413 before looking at any key, in its words.
fn within_limits(ops: &[TxnOp]) -> Result<(), CallError> {
    let refused = |why: String| {
        Err(CallError::Refused(format!(
            "fake consul refused PUT /v1/txn: 413 Request Entity Too Large: {why}"
        )))
    };
    if ops.len() > MAX_OPS_PER_TXN {
        return refused(format!(
            "Transaction contains too many operations ({} > {MAX_OPS_PER_TXN})",
            ops.len()
        ));
    }
    let body = serde_json::to_vec(ops).expect("operations serialize").len();
    if body > MAX_TXN_BYTES {
        return refused(format!(
            "Request body({body} bytes) too large, max size: {MAX_TXN_BYTES} bytes"
        ));
    }
    for op in ops {
        let value = op.kv.value.as_deref().unwrap_or_default();
        let bytes = value.len() / 4 * 3;
        if bytes > MAX_VALUE_BYTES {
            return refused(format!(
                "Value for key {:?} is too large ({bytes} > {MAX_VALUE_BYTES} bytes)",
                op.kv.key
            ));
        }
    }
    Ok(())
}

#[async_trait]
impl Kv for FakeKv {
    async fn write(&self, ops: &[TxnOp]) -> Result<TxnOutcome, CallError> {
        tokio::time::sleep(LATENCY).await;
        within_limits(ops)?;
        // A slow write takes its fault now, so writes sent meanwhile meet the next.
        let slow = {
            let mut state = self.lock();
            let slow = state.faults.front() == Some(&Fault::Slow);
            if slow {
                state.faults.pop_front();
            }
            slow
        };
        if slow {
            tokio::time::sleep(SLOW).await;
        }
        let mut state = self.lock();
        state.writes += 1;
        let fault = if slow {
            Fault::Slow
        } else {
            state.faults.pop_front().unwrap_or(Fault::Pass)
        };
        if state.no_quorum && fault != Fault::HeldUntilQuorum {
            return Err(CallError::NotSent("No cluster leader".into()));
        }
        match fault {
            Fault::Pass | Fault::Slow => Ok(state.apply(ops)),
            Fault::NotSent => Err(CallError::NotSent("connection refused".into())),
            Fault::AppliedThenLost => {
                let _ = state.apply(ops);
                Err(CallError::Unknown("timed out after applying".into()))
            }
            Fault::LostUnapplied => Err(CallError::Unknown("timed out".into())),
            Fault::Conflict => Ok(TxnOutcome::RolledBack(vec![TxnError {
                op_index: 0,
                what: "scripted conflict".into(),
            }])),
            Fault::HeldUntilQuorum => {
                state.no_quorum = true;
                state.held.push(ops.to_vec());
                Err(CallError::Unknown("leader lost mid-commit".into()))
            }
        }
    }

    async fn read(&self, ops: &[TxnOp]) -> Result<TxnOutcome, CallError> {
        tokio::time::sleep(LATENCY).await;
        within_limits(ops)?;
        self.no_leader()?;
        Ok(self.lock().apply(ops))
    }

    async fn read_consistent(&self, key: &str) -> Result<Option<KvEntry>, CallError> {
        tokio::time::sleep(LATENCY).await;
        self.no_leader()?;
        Ok(self.lock().entry(key))
    }

    async fn list(
        &self,
        prefix: &str,
        _index: Option<u64>,
    ) -> Result<(u64, Vec<KvEntry>), CallError> {
        tokio::time::sleep(LATENCY).await;
        self.no_leader()?;
        let state = self.lock();
        Ok((state.index, state.tree(prefix)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_fake_refuses_what_consul_refuses() {
        let kv = FakeKv::default();
        let ops = |n: usize| -> Vec<TxnOp> {
            (0..n)
                .map(|i| TxnOp::cas(format!("k/{i}"), b"v", 0))
                .collect()
        };
        assert!(matches!(
            kv.write(&ops(64)).await,
            Ok(TxnOutcome::Committed(_))
        ));
        let refused = kv.write(&ops(65)).await.unwrap_err();
        assert!(
            matches!(&refused, CallError::Refused(m) if m.contains("65 > 64")),
            "{refused:?}"
        );
        let reads: Vec<TxnOp> = (0..65).map(|i| TxnOp::get_tree(format!("k/{i}"))).collect();
        assert!(matches!(kv.read(&reads).await, Err(CallError::Refused(_))));
        let big = vec![b'x'; MAX_VALUE_BYTES + 1];
        let refused = kv.write(&[TxnOp::cas("big".into(), &big, 0)]).await;
        assert!(matches!(refused, Err(CallError::Refused(_))), "{refused:?}");
        let many: Vec<TxnOp> = (0..8)
            .map(|i| TxnOp::cas(format!("b/{i}"), &vec![b'x'; 60_000], 0))
            .collect();
        let refused = kv.write(&many).await;
        assert!(
            matches!(&refused, Err(CallError::Refused(m)) if m.contains("too large")),
            "a body over 512 KiB: {refused:?}"
        );
        assert!(
            kv.get("big").is_none() && kv.get("b/0").is_none(),
            "nothing applied"
        );
    }
}
