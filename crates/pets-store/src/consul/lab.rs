//! The lab guide's document in Consul: one key, `lab`, written by
//! check-and-set so that a reset and the replica keeping the guide never
//! overwrite each other unseen. A write whose outcome is unknown is read
//! back: finding the very text written means it landed.

use async_trait::async_trait;

use super::kv::{CallError, TxnOp, TxnOutcome};
use super::ConsulStore;
use crate::store::{LabDocument, LabStore, StoreError};

#[async_trait]
impl LabStore for ConsulStore {
    async fn lab_read(&self) -> Result<Option<LabDocument>, StoreError> {
        let key = self.watched.keys.lab();
        let entry = self
            .kv
            .read_consistent(&key)
            .await
            .map_err(|e| StoreError::Unavailable(e.message().to_owned()))?;
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
