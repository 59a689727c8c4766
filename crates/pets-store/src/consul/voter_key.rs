//! The key voter ids are signed with, shared by every replica through one
//! Consul key, `voter-key`: the first replica that needs it writes a random
//! one (check-and-set against "must not exist"), every other reads it, and
//! each keeps it once known. Its value never leaves the store and the web
//! layer; a damaged value is reported, never replaced (that would turn every
//! voter into a new one).
//!
//! A replica learns the key as soon as Consul answers ([`SharedVoterKey::learn`],
//! started with the store), not at its first vote: a vote is signed with it,
//! so a replica that did not know it would make every voter wait for a read
//! that cannot succeed while Consul has no leader. While it does not know
//! it and the cluster has had no leader for longer than an election takes
//! ([`Outage`]), a vote is refused at once, as the vote lanes refuse theirs.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::consul::kv::{CallError, Kv, TxnOp, TxnOutcome};
use crate::consul::votes::Outage;
use crate::domain::VoterKey;
use crate::store::StoreError;

/// Tries at making or reading the key before giving up for now.
const ATTEMPTS: usize = 4;
/// How long [`SharedVoterKey::learn`] waits between tries.
const LEARN_RETRY: Duration = Duration::from_secs(1);

#[derive(Serialize, Deserialize)]
struct Record {
    /// 64 lowercase hex digits.
    key: String,
}

pub struct SharedVoterKey {
    key: String,
    known: OnceCell<VoterKey>,
    outage: Outage,
}

impl SharedVoterKey {
    pub fn new(key: String, outage: Outage) -> Self {
        Self {
            key,
            known: OnceCell::new(),
            outage,
        }
    }

    /// The key, from memory once known; an error while Consul cannot give
    /// it, at once while the cluster has been without a leader too long.
    pub async fn get(&self, kv: &dyn Kv) -> Result<VoterKey, StoreError> {
        if let Some(key) = self.known.get() {
            return Ok(key.clone());
        }
        if self.outage.leaderless_too_long(Instant::now()) {
            return Err(StoreError::Unavailable(
                "Consul has no leader, and this replica has not yet learned the voter key".into(),
            ));
        }
        self.known.get_or_try_init(|| self.fetch(kv)).await.cloned()
    }

    /// Reads (or makes) the key until it is known or `stop` is cancelled.
    pub async fn learn(self: Arc<Self>, kv: Arc<dyn Kv>, stop: CancellationToken) {
        loop {
            match self.get(kv.as_ref()).await {
                Ok(_) => return,
                Err(e) => tracing::debug!(error = %e, "voter key not learned yet"),
            }
            if stop
                .run_until_cancelled(tokio::time::sleep(LEARN_RETRY))
                .await
                .is_none()
            {
                return;
            }
        }
    }

    async fn fetch(&self, kv: &dyn Kv) -> Result<VoterKey, StoreError> {
        let unavailable = |e: CallError| StoreError::Unavailable(e.to_string());
        for _ in 0..ATTEMPTS {
            if let Some(entry) = kv.read_consistent(&self.key).await.map_err(unavailable)? {
                return parse(&entry.bytes()).ok_or_else(|| {
                    StoreError::Unavailable(format!(
                        "{} in Consul does not hold a voter key; remove it and every voter starts anew",
                        self.key
                    ))
                });
            }
            let made = VoterKey::random();
            let record = Record {
                key: hex::encode(made.0),
            };
            match kv
                .write(&[TxnOp::cas_json(self.key.clone(), &record, 0)])
                .await
            {
                Ok(TxnOutcome::Committed(_)) => {
                    tracing::info!(key = %self.key, "made the key voter ids are signed with");
                    return Ok(made);
                }
                // Another replica made it first, or ours may have landed:
                // either way, read what is there.
                Ok(TxnOutcome::RolledBack(_)) | Err(CallError::Unknown(_)) => continue,
                Err(e @ (CallError::NotSent(_) | CallError::Refused(_))) => {
                    return Err(unavailable(e))
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "cannot read or make {} in Consul",
            self.key
        )))
    }
}

fn parse(bytes: &[u8]) -> Option<VoterKey> {
    let record: Record = serde_json::from_slice(bytes).ok()?;
    let raw = hex::decode(record.key).ok()?;
    Some(VoterKey(raw.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consul::fake::{FakeKv, Fault};

    #[tokio::test(start_paused = true)]
    async fn replicas_share_one_key_made_by_the_first() {
        let kv = FakeKv::default();
        let (one, two) = (
            SharedVoterKey::new("p/voter-key".into(), Outage::default()),
            SharedVoterKey::new("p/voter-key".into(), Outage::default()),
        );
        let (a, b) = tokio::join!(one.get(&kv), two.get(&kv));
        assert_eq!(a.unwrap(), b.unwrap());
        assert_eq!(kv.writes(), 2, "both tried, one made it");
        let again = one.get(&kv).await.unwrap();
        assert_eq!(kv.writes(), 2, "kept once known");
        assert_eq!(again, two.get(&kv).await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_outcome_reads_what_landed_and_a_damaged_key_is_not_replaced() {
        let kv = FakeKv::default();
        kv.script(&[Fault::AppliedThenLost]);
        let shared = SharedVoterKey::new("p/voter-key".into(), Outage::default());
        let key = shared.get(&kv).await.unwrap();
        assert_eq!(parse(&kv.get("p/voter-key").unwrap().bytes()), Some(key));

        let kv = FakeKv::default();
        kv.put("p/voter-key", br#"{"key":"nope"}"#);
        let error = SharedVoterKey::new("p/voter-key".into(), Outage::default())
            .get(&kv)
            .await;
        assert!(matches!(error, Err(StoreError::Unavailable(m)) if m.contains("remove it")));
        assert_eq!(kv.writes(), 0);

        let kv = FakeKv::default();
        kv.lose_quorum();
        assert!(SharedVoterKey::new("p/voter-key".into(), Outage::default())
            .get(&kv)
            .await
            .is_err());
        kv.restore_quorum();
        assert!(SharedVoterKey::new("p/voter-key".into(), Outage::default())
            .get(&kv)
            .await
            .is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_leader_for_too_long_an_unknown_key_is_refused_unasked() {
        let kv = FakeKv::default();
        let outage = Outage::default();
        outage.leader_seen(false);
        tokio::time::advance(crate::consul::votes::outage::FAIL_FAST_AFTER).await;
        let shared = SharedVoterKey::new("p/voter-key".into(), outage.clone());
        let refused = shared.get(&kv).await;
        assert!(matches!(refused, Err(StoreError::Unavailable(m)) if m.contains("no leader")));
        assert_eq!(kv.writes(), 0, "Consul was not asked to make one");
        outage.leader_seen(true);
        let key = shared.get(&kv).await.unwrap();
        outage.leader_seen(false);
        tokio::time::advance(crate::consul::votes::outage::FAIL_FAST_AFTER).await;
        assert_eq!(shared.get(&kv).await.unwrap(), key, "a known key is kept");
    }

    #[tokio::test(start_paused = true)]
    async fn the_key_is_learned_once_consul_answers() {
        let kv = Arc::new(FakeKv::default());
        kv.lose_quorum();
        let shared = Arc::new(SharedVoterKey::new("p/voter-key".into(), Outage::default()));
        let learning = tokio::spawn(
            shared
                .clone()
                .learn(kv.clone() as Arc<dyn Kv>, CancellationToken::new()),
        );
        tokio::time::sleep(LEARN_RETRY * 3).await;
        assert!(
            shared.known.get().is_none(),
            "not while Consul cannot answer"
        );
        kv.restore_quorum();
        learning.await.unwrap();
        assert!(shared.known.get().is_some());
    }
}
