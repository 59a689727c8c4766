//! The lab guide's document in Consul: one key, `lab`, written by
//! check-and-set so that a reset and the replica keeping the guide never
//! overwrite each other unseen. A write whose outcome is unknown is read
//! back: finding the very text written means it landed.
//!
//! Every replica's keeper reads the document each second. It reads a copy
//! ([`LabCopy`]) that a blocking query on the key keeps, so an idle fleet
//! costs Consul nothing for it (a read a second from each of 64 replicas
//! was a quarter of an idle fleet's cost, docs/PERFORMANCE.md, "How cost
//! grows"). The copy moves only forward, by the Consul index it was seen
//! at: the watch's answers, this replica's own writes and direct reads.
//! It is not used while a watch is failing, nor after a check-and-set was
//! refused (someone wrote since), nor before the watch first answered:
//! then the key is read from Consul, in its default mode (the leader
//! answers without first asking the others whether it still leads), as a
//! stale read only makes the next check-and-set fail and be read again.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::keys::Keys;
use super::kv::{CallError, KvEntry, TxnOp, TxnOutcome};
use super::watch::{follow, Watched};
use super::ConsulStore;
use crate::store::{LabDocument, LabStore, StoreError};
use crate::sync::Locked;

/// The document as last seen, and the Consul index it was seen at; `None`
/// when there is no copy to trust.
#[derive(Default)]
pub(super) struct LabCopy {
    seen: Mutex<Option<(u64, Option<LabDocument>)>>,
}

impl LabCopy {
    /// A copy kept by a blocking query on the key until `stop`.
    pub(super) fn follow(watched: &Arc<Watched>, stop: &CancellationToken) -> Arc<Self> {
        let copy = Arc::new(Self::default());
        let kept = copy.clone();
        tokio::spawn(follow(
            watched.clone(),
            stop.clone(),
            Keys::lab,
            false,
            move |w, index, entries| kept.see(index, document(&w.keys.lab(), entries)),
        ));
        copy
    }

    /// Takes `doc` as seen at `index`, unless the copy is newer.
    fn see(&self, index: u64, doc: Option<LabDocument>) {
        let mut seen = self.seen.locked();
        if seen.as_ref().is_none_or(|(at, _)| index >= *at) {
            *seen = Some((index, doc));
        }
    }

    /// Stops trusting the copy until something newer is seen.
    fn forget(&self) {
        *self.seen.locked() = None;
    }

    /// The copy, if there is one to trust.
    fn get(&self) -> Option<Option<LabDocument>> {
        self.seen.locked().as_ref().map(|(_, doc)| doc.clone())
    }
}

/// The document among a listing of the `lab` prefix.
fn document(key: &str, entries: &[KvEntry]) -> Option<LabDocument> {
    entries.iter().find(|e| e.key == key).map(|e| LabDocument {
        version: e.modify_index,
        json: String::from_utf8_lossy(&e.bytes()).into_owned(),
    })
}

impl ConsulStore {
    /// The document as Consul holds it now.
    async fn lab_from_consul(&self) -> Result<Option<LabDocument>, StoreError> {
        let key = self.watched.keys.lab();
        let outcome = self
            .kv
            .read(&[TxnOp::get_tree(key.clone())])
            .await
            .map_err(|e| StoreError::Unavailable(e.message().to_owned()))?;
        Ok(match outcome {
            TxnOutcome::Committed(results) => {
                let entries: Vec<KvEntry> = results.into_iter().map(|r| r.kv).collect();
                document(&key, &entries)
            }
            TxnOutcome::RolledBack(_) => None,
        })
    }
}

#[async_trait]
impl LabStore for ConsulStore {
    async fn lab_read(&self) -> Result<Option<LabDocument>, StoreError> {
        if !self.watched.stale() {
            if let Some(doc) = self.lab.get() {
                return Ok(doc);
            }
        }
        let doc = self.lab_from_consul().await?;
        // A missing key has no index of its own: any answer of the watch is
        // as new.
        self.lab
            .see(doc.as_ref().map_or(0, |d| d.version), doc.clone());
        Ok(doc)
    }

    async fn lab_write(&self, replaces: u64, json: String) -> Result<Option<u64>, StoreError> {
        let key = self.watched.keys.lab();
        match self
            .kv
            .write(&[TxnOp::cas(key, json.as_bytes(), replaces)])
            .await
        {
            Ok(outcome @ TxnOutcome::Committed(_)) => match outcome.last_index() {
                Some(version) if version > 0 => {
                    self.lab.see(version, Some(LabDocument { version, json }));
                    Ok(Some(version))
                }
                // Without the index, the next read tells it.
                _ => {
                    self.lab.forget();
                    Ok(Some(0))
                }
            },
            Ok(TxnOutcome::RolledBack(_)) => {
                self.lab.forget();
                Ok(None)
            }
            Err(CallError::Unknown(reason)) => {
                self.lab.forget();
                match self.lab_from_consul().await? {
                    Some(now) if now.json == json => Ok(Some(now.version)),
                    _ => Err(StoreError::Unavailable(reason)),
                }
            }
            Err(e) => Err(StoreError::Unavailable(e.message().to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(version: u64) -> Option<LabDocument> {
        Some(LabDocument {
            version,
            json: format!("v{version}"),
        })
    }

    #[test]
    fn the_copy_moves_only_forward() {
        let copy = LabCopy::default();
        assert_eq!(copy.get(), None, "nothing to trust before the first look");
        copy.see(10, doc(10));
        copy.see(7, None);
        assert_eq!(copy.get(), Some(doc(10)), "an older answer is ignored");
        copy.see(12, doc(12));
        assert_eq!(copy.get(), Some(doc(12)));
        copy.see(15, None);
        assert_eq!(copy.get(), Some(None), "a deletion seen later stands");
    }

    #[test]
    fn a_forgotten_copy_takes_whatever_comes_next() {
        let copy = LabCopy::default();
        copy.see(20, doc(20));
        copy.forget();
        assert_eq!(copy.get(), None, "read from Consul after a refused write");
        copy.see(0, None);
        assert_eq!(copy.get(), Some(None));
        copy.see(3, doc(3));
        assert_eq!(copy.get(), Some(doc(3)), "a missing key is older than any");
    }
}
