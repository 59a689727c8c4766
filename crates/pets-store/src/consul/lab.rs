//! The lab guide's document in Consul: one key, `lab`, written by
//! check-and-set so that a reset and the replica keeping the guide never
//! overwrite each other unseen. A write whose outcome is unknown is read
//! back: finding the very text written means it landed.
//!
//! Every replica's keeper reads the document each second. It reads a copy
//! ([`LabCopy`]) that a blocking query on the key keeps, so an idle fleet
//! asks Consul for it only when that query times out, every 20 s (a read a
//! second from each of 64 replicas was a third of an idle fleet's cost,
//! docs/PERFORMANCE.md, "How cost grows"). The copy moves only forward by
//! Consul's index: the watch's answers, the replica's own writes and direct
//! reads; an answer of the watch below its last one means the cluster was
//! rebuilt or restored, and is taken as it is. The key is read from Consul
//! instead, in its default mode, while the copy cannot be trusted: before
//! the watch's first answer, while a watch fails or has not answered for
//! longer than Consul holds a query ([`ANSWERS_WITHIN`]), and after a
//! check-and-set was refused (someone wrote since). A stale read only makes
//! the next check-and-set fail and be read again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::keys::Keys;
use super::kv::{CallError, KvEntry, TxnOp, TxnOutcome};
use super::pace::WhenEmpty;
use super::watch::{follow, Watched};
use super::{ConsulStore, BLOCKING_WAIT};
use crate::store::{LabDocument, LabStore, StoreError};
use crate::sync::Locked;

/// How long the watch may go without an answer before the copy is not
/// trusted: Consul holds a blocking query for its wait and up to a
/// sixteenth more, and the watch pauses up to 1 s between two queries.
/// A query held longer is read around: past this, the copy is not
/// trusted, whatever the watcher's call is still waiting for.
const ANSWERS_WITHIN: Duration = BLOCKING_WAIT.saturating_add(Duration::from_secs(5));

/// The lab guide's document as a blocking query keeps it.
#[derive(Default)]
pub(super) struct LabCopy {
    state: Mutex<CopyState>,
}

#[derive(Default)]
struct CopyState {
    /// The document, if the copy can be trusted (`Some(None)`: no document).
    doc: Option<Option<LabDocument>>,
    /// The index a new answer or read must reach to be taken: the highest
    /// seen from any source, or one past the version a refused write named;
    /// lowered only by a rebuilt cluster.
    floor: u64,
    /// The watch's last answer: its index, and when.
    watch: Option<(u64, Instant)>,
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
            WhenEmpty::Slow,
            move |w, index, entries| {
                kept.answered(index, document(&w.keys.lab(), entries), Instant::now())
            },
        ));
        copy
    }

    /// The watch answered `doc` at `index`, at `now`.
    fn answered(&self, index: u64, doc: Option<LabDocument>, now: Instant) {
        let mut state = self.state.locked();
        let rebuilt = state.watch.is_some_and(|(last, _)| index < last);
        state.watch = Some((index, now));
        if rebuilt || index >= state.floor {
            state.floor = index;
            state.doc = Some(doc);
        }
    }

    /// This replica wrote `doc`, or read it from Consul: taken unless it is
    /// below the floor (no document counts as index 0).
    fn saw(&self, doc: Option<LabDocument>) {
        let mut state = self.state.locked();
        let at = doc.as_ref().map_or(0, |d| d.version);
        if at >= state.floor {
            state.floor = at;
            state.doc = Some(doc);
        }
    }

    /// A check-and-set against version `replaces` was refused: someone
    /// wrote since, so nothing at or below it is trusted again.
    fn refused(&self, replaces: u64) {
        let mut state = self.state.locked();
        state.floor = state.floor.max(replaces + 1);
        state.doc = None;
    }

    /// Stops trusting the copy until something at least as new is seen.
    fn forget(&self) {
        self.state.locked().doc = None;
    }

    /// The copy at `now`, if it can be trusted.
    fn get(&self, now: Instant) -> Option<Option<LabDocument>> {
        let state = self.state.locked();
        let (_, answered) = state.watch?;
        if now.duration_since(answered) > ANSWERS_WITHIN {
            return None;
        }
        state.doc.clone()
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
            if let Some(doc) = self.lab.get(Instant::now()) {
                return Ok(doc);
            }
        }
        let doc = self.lab_from_consul().await?;
        self.lab.saw(doc.clone());
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
                    self.lab.saw(Some(LabDocument { version, json }));
                    Ok(Some(version))
                }
                // Without the index, the next read tells it.
                _ => {
                    self.lab.forget();
                    Ok(Some(0))
                }
            },
            Ok(TxnOutcome::RolledBack(_)) => {
                self.lab.refused(replaces);
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
    fn nothing_is_trusted_before_the_watch_answers() {
        let (copy, now) = (LabCopy::default(), Instant::now());
        copy.saw(doc(4));
        assert_eq!(copy.get(now), None, "a direct read alone is not kept");
        copy.answered(4, doc(4), now);
        assert_eq!(copy.get(now), Some(doc(4)));
    }

    #[test]
    fn the_copy_moves_only_forward() {
        let (copy, now) = (LabCopy::default(), Instant::now());
        copy.answered(10, doc(10), now);
        copy.saw(doc(12));
        copy.answered(11, doc(10), now);
        assert_eq!(
            copy.get(now),
            Some(doc(12)),
            "an answer older than our write"
        );
        copy.answered(15, None, now);
        assert_eq!(copy.get(now), Some(None), "a deletion seen later stands");
    }

    #[test]
    fn an_index_going_back_means_a_rebuilt_cluster() {
        let (copy, now) = (LabCopy::default(), Instant::now());
        copy.answered(900, doc(900), now);
        copy.answered(20, doc(20), now);
        assert_eq!(copy.get(now), Some(doc(20)), "a restored snapshot is taken");
    }

    #[test]
    fn a_refused_write_is_read_from_consul_until_something_newer_comes() {
        let (copy, now) = (LabCopy::default(), Instant::now());
        copy.answered(20, doc(20), now);
        copy.refused(20);
        assert_eq!(copy.get(now), None);
        copy.answered(20, doc(20), now);
        assert_eq!(copy.get(now), None, "a timed-out query's unchanged answer");
        copy.saw(doc(20));
        assert_eq!(copy.get(now), None, "a read from a server behind");
        copy.answered(22, doc(22), now);
        assert_eq!(copy.get(now), Some(doc(22)), "the other replica's write");
        copy.refused(22);
        copy.saw(doc(25));
        assert_eq!(copy.get(now), Some(doc(25)), "a direct read that is newer");
    }

    #[test]
    fn an_unknown_outcome_is_read_from_consul() {
        let (copy, now) = (LabCopy::default(), Instant::now());
        copy.answered(7, doc(7), now);
        copy.forget();
        assert_eq!(copy.get(now), None);
        copy.answered(19, doc(19), now);
        assert_eq!(copy.get(now), Some(doc(19)));
    }

    #[test]
    fn no_document_read_does_not_hide_a_newer_one() {
        let (copy, now) = (LabCopy::default(), Instant::now());
        copy.answered(30, doc(30), now);
        copy.saw(None);
        assert_eq!(copy.get(now), Some(doc(30)));
    }

    #[test]
    fn a_silent_watch_is_not_trusted() {
        let (copy, now) = (LabCopy::default(), Instant::now());
        copy.answered(3, doc(3), now);
        assert_eq!(copy.get(now + ANSWERS_WITHIN), Some(doc(3)));
        let later = now + ANSWERS_WITHIN + Duration::from_millis(1);
        assert_eq!(copy.get(later), None, "a hung query is read around");
    }
}
