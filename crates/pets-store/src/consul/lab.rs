//! The lab guide's document in Consul: one key, `lab`, written by
//! check-and-set so that a reset and the replica keeping the guide never
//! overwrite each other unseen. A write whose outcome is unknown is read
//! back: finding the very text written means it landed.
//!
//! Every replica reads the document each second, so it is read in Consul's
//! default mode (the leader answers without first asking the others whether
//! it still leads), not `?consistent`: a consistent read costs the cluster a
//! round of Raft heartbeats, 64 a second for an idle fleet of 64
//! (docs/PERFORMANCE.md, "How cost grows"). A stale read only makes the
//! check-and-set write fail, and the next look reads again.

use async_trait::async_trait;

use super::kv::{CallError, TxnOp, TxnOutcome};
use super::ConsulStore;
use crate::store::{LabDocument, LabStore, StoreError};

#[async_trait]
impl LabStore for ConsulStore {
    async fn lab_read(&self) -> Result<Option<LabDocument>, StoreError> {
        let key = self.watched.keys.lab();
        let outcome = self
            .kv
            .read(&[TxnOp::get_tree(key.clone())])
            .await
            .map_err(|e| StoreError::Unavailable(e.message().to_owned()))?;
        let entry = match outcome {
            TxnOutcome::Committed(results) => {
                results.into_iter().map(|r| r.kv).find(|e| e.key == key)
            }
            TxnOutcome::RolledBack(_) => None,
        };
        Ok(entry.map(|e| LabDocument {
            version: e.modify_index,
            json: String::from_utf8_lossy(&e.bytes()).into_owned(),
        }))
    }

    async fn lab_write(&self, replaces: u64, json: String) -> Result<Option<u64>, StoreError> {
        let key = self.watched.keys.lab();
        match self
            .kv
            .write(&[TxnOp::cas(key, json.as_bytes(), replaces)])
            .await
        {
            // Without the index, the next read tells it.
            Ok(outcome @ TxnOutcome::Committed(_)) => Ok(Some(outcome.last_index().unwrap_or(0))),
            Ok(TxnOutcome::RolledBack(_)) => Ok(None),
            Err(CallError::Unknown(reason)) => match self.lab_read().await? {
                Some(now) if now.json == json => Ok(Some(now.version)),
                _ => Err(StoreError::Unavailable(reason)),
            },
            Err(e) => Err(StoreError::Unavailable(e.message().to_owned())),
        }
    }
}
