//! The task that keeps the lab guide on every replica: each
//! [`LOOK_EVERY`] it reads the store's lab document, takes one look at the
//! fleet, the tally and the meter, and writes the progress back when the
//! look changed it. Every replica looks, so a step is seen even by the
//! only survivor of an outage; writes are check-and-set, and a replica that
//! finds someone else's newer document merges its own into it (see
//! [`Progress::merged_into`]). While the store cannot be read or written,
//! the replica keeps its progress and tries again at the next look.

use std::sync::Arc;
use std::time::Duration;

use pets_store::{LabStore, Store, StoreError};
use tokio_util::sync::CancellationToken;

use super::{LabGuide, Observation, Progress};

/// How often each replica looks.
pub const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Times a reset retries a write another replica beat.
const RESET_ATTEMPTS: usize = 5;

pub struct Keeper {
    store: Arc<dyn Store>,
    guide: LabGuide,
    progress: Progress,
    /// The store's version our progress is based on; `None` when unknown
    /// (nothing read yet, or just written).
    based_on: Option<u64>,
    /// Whether our progress has looks the store does not have yet.
    unsaved: bool,
    /// Whether the last failure was logged (one line per outage).
    failing: bool,
}

impl Keeper {
    pub fn new(store: Arc<dyn Store>, guide: LabGuide) -> Self {
        Self {
            store,
            guide,
            progress: Progress::default(),
            based_on: None,
            unsaved: false,
            failing: false,
        }
    }

    /// Looks every [`LOOK_EVERY`] until `stop`.
    pub async fn run(mut self, stop: CancellationToken) {
        loop {
            self.once(pets_store::unix_now()).await;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(LOOK_EVERY) => {}
            }
        }
    }

    /// One look at `now` (Unix seconds).
    pub async fn once(&mut self, now: u64) {
        match self.store.lab_read().await {
            Ok(stored) => self.adopt(stored, now),
            Err(e) => self.failed("read", &e),
        }
        let snapshot = self.store.snapshot();
        let look = Observation::new(
            now,
            &self.store.fleet(),
            snapshot.tally.total_votes(),
            &self.store.meter(),
            self.store.caught_up(),
        );
        let before = self.progress.clone();
        self.progress.observe(&look);
        self.unsaved |= self.progress != before;
        self.guide.publish(&self.progress);
        if self.unsaved {
            self.save().await;
        }
    }

    fn adopt(&mut self, stored: Option<pets_store::LabDocument>, now: u64) {
        let Some(doc) = stored else {
            // Never written, or the key was deleted: a lab starts now.
            if self.based_on.is_some_and(|v| v != 0) {
                self.progress = Progress::default();
            }
            if self.progress.started_at == 0 {
                self.progress.started_at = now;
            }
            self.based_on = Some(0);
            self.unsaved = true;
            return;
        };
        if self.based_on == Some(doc.version) {
            return;
        }
        let theirs = match serde_json::from_str::<Progress>(&doc.json) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "the store's lab progress is not readable; starting it again");
                Progress::default()
            }
        };
        let mine = std::mem::take(&mut self.progress);
        self.progress = if self.unsaved {
            mine.merged_into(theirs.clone())
        } else {
            theirs.clone()
        };
        self.unsaved = self.progress != theirs;
        self.based_on = Some(doc.version);
    }

    async fn save(&mut self) {
        let Some(version) = self.based_on else {
            return;
        };
        let json = serde_json::to_string(&self.progress).expect("progress serializes");
        match self.store.lab_write(version, json).await {
            Ok(Some(version)) => {
                self.unsaved = false;
                // 0: the store did not say; the next read finds ours.
                self.based_on = (version != 0).then_some(version);
                self.recovered();
            }
            // Someone else wrote first: merged at the next look.
            Ok(None) => self.based_on = None,
            Err(e) => self.failed("write", &e),
        }
    }

    fn failed(&mut self, what: &str, error: &StoreError) {
        if !self.failing {
            tracing::warn!(%error, "cannot {what} the lab guide's progress in the store; this replica keeps its own and tries again every second");
            self.failing = true;
        }
    }

    fn recovered(&mut self) {
        if std::mem::take(&mut self.failing) {
            tracing::info!("the lab guide's progress is shared through the store again");
        }
    }
}

/// Starts the lab again: a fresh progress replaces the store's, whatever it
/// holds; every replica's keeper takes it up at its next look.
pub async fn restart(store: &dyn LabStore, now: u64) -> Result<(), StoreError> {
    for _ in 0..RESET_ATTEMPTS {
        let doc = store.lab_read().await?;
        let epoch = doc
            .as_ref()
            .and_then(|d| serde_json::from_str::<Progress>(&d.json).ok())
            .map_or(0, |p| p.epoch);
        let fresh = Progress::fresh(epoch + 1, now);
        let json = serde_json::to_string(&fresh).expect("progress serializes");
        let version = doc.map_or(0, |d| d.version);
        if store.lab_write(version, json).await?.is_some() {
            return Ok(());
        }
    }
    Err(StoreError::Unavailable(
        "replicas kept writing the lab's progress; try again".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pets_store::MemoryStore;

    fn stored(store: &MemoryStore) -> Progress {
        let doc = futures::executor::block_on(store.lab_read())
            .unwrap()
            .unwrap();
        serde_json::from_str(&doc.json).unwrap()
    }

    #[tokio::test]
    async fn keepers_share_the_progress_and_a_restart_reaches_every_one() {
        let store = Arc::new(MemoryStore::new());
        let (one, two) = (LabGuide::default(), LabGuide::default());
        let mut first = Keeper::new(store.clone(), one.clone());
        let mut second = Keeper::new(store.clone(), two.clone());
        first.once(100).await;
        assert_eq!(stored(&store).started_at, 100, "the first look is written");
        second.once(105).await;
        assert_eq!(two.current().started_at, 100, "the second took it up");
        assert_eq!(stored(&store).started_at, 100);

        restart(store.as_ref(), 200).await.unwrap();
        first.once(201).await;
        second.once(202).await;
        assert_eq!(one.current().started_at, 200);
        assert_eq!(two.current().started_at, 200);
        assert_eq!(stored(&store).started_at, 200);
    }

    #[tokio::test]
    async fn a_stale_write_is_refused_and_merged_at_the_next_look() {
        let store = Arc::new(MemoryStore::new());
        let mut keeper = Keeper::new(store.clone(), LabGuide::default());
        keeper.once(100).await;
        // Someone else writes in between: the keeper's next write, based on
        // the version it read, must not overwrite it unseen.
        let mut theirs = stored(&store);
        theirs.done.insert(
            "traffic".into(),
            crate::lab::Done {
                at: 150,
                evidence: "seen elsewhere".into(),
            },
        );
        let version = store.lab_read().await.unwrap().unwrap().version;
        assert!(store
            .lab_write(version, serde_json::to_string(&theirs).unwrap())
            .await
            .unwrap()
            .is_some());
        assert!(store
            .lab_write(version, "{}".into())
            .await
            .unwrap()
            .is_none());
        keeper.once(160).await;
        assert!(stored(&store).done.contains_key("traffic"), "kept");
        assert!(keeper.guide.current().done.contains_key("traffic"));
    }
}
