//! Folder keys: an empty key named for a watched prefix (`<prefix>served/`,
//! `<prefix>faults/`, `<prefix>logins/`, `<prefix>sessions/`,
//! `<prefix>load/`), made once by whichever replica comes first.
//!
//! Consul answers a blocking query on a prefix that holds no key whenever
//! anything in the enclosing tree changes, so in an idle fleet, where
//! `faults/`, `logins/`, `sessions/` and `load/` are empty, every replica's
//! heartbeat woke those four watches on every replica: the most of what an
//! idle fleet of 64 cost Consul (docs/PERFORMANCE.md, "How cost grows").
//! `served/` too stays empty until the first pet page, and its watch asked
//! once a second meanwhile. With the folder key there, the query waits for
//! its own prefix. The watchers never hand the folder key to what reads the
//! prefix, and the fold takes it for nobody's (it has no owner,
//! [`Keys::owner`](crate::consul::keys::Keys::owner)).

use crate::consul::kv::{Kv, KvEntry, TxnOp, TxnOutcome};

/// Makes the folder key for `prefix` unless it exists; whether it exists
/// now. A failure (no leader, a token without the right) is tried again at
/// the watch's next answer.
pub async fn ensure(kv: &dyn Kv, prefix: &str) -> bool {
    match kv.write(&[TxnOp::cas(prefix.to_owned(), b"", 0)]).await {
        Ok(TxnOutcome::Committed(_) | TxnOutcome::RolledBack(_)) => true,
        Err(e) => {
            tracing::debug!(prefix, "cannot make the folder key yet: {e}");
            false
        }
    }
}

/// The entries under `prefix` without its folder key, and whether the
/// folder key was among them.
pub fn without_folder(prefix: &str, mut entries: Vec<KvEntry>) -> (Vec<KvEntry>, bool) {
    let before = entries.len();
    entries.retain(|e| e.key != prefix);
    let had = entries.len() != before;
    (entries, had)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consul::fake::FakeKv;

    #[tokio::test(start_paused = true)]
    async fn the_folder_is_made_once_and_never_handed_to_readers() {
        let kv = FakeKv::default();
        kv.put("p/faults/fleet", b"{}");
        assert!(ensure(&kv, "p/faults/").await);
        assert!(ensure(&kv, "p/faults/").await, "a second time finds it");
        let folder = kv.get("p/faults/").expect("the folder key");
        assert!(folder.bytes().is_empty());
        let entries = vec![folder, kv.get("p/faults/fleet").unwrap()];
        let (entries, had) = without_folder("p/faults/", entries);
        assert!(had);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].key, "p/faults/fleet");
        let (entries, had) = without_folder("p/faults/", entries);
        assert!(!had && entries.len() == 1);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_leader_it_is_tried_again() {
        let kv = FakeKv::default();
        kv.lose_quorum();
        assert!(!ensure(&kv, "p/logins/").await);
        assert!(kv.get("p/logins/").is_none());
    }
}
