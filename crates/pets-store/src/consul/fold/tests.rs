//! Folding on the scripted fake: counts move to the archive with every sum
//! unchanged, only dead replicas seen dead twice are folded, anything that
//! moved in between stops the whole fold, and a replica that comes back
//! after a fold counts on exactly.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::Notify;

use super::plan::{was_folded, VotesArchive};
use super::Folder;
use crate::consul::fake::{FakeKv, Fault};
use crate::consul::keys::Keys;
use crate::consul::records::{sum_counters, Counter, ServedValue};
use crate::consul::served::{Flusher, ServedCounter};

const PREFIX: &str = "t/";

fn keys(replica: &str) -> Keys {
    Keys::new(PREFIX, replica)
}

fn put_counter(kv: &FakeKv, key: &str, votes: [i64; 3], token: &str) {
    let counter = Counter::default().moved(1, votes, token);
    kv.put(key, &serde_json::to_vec(&counter).unwrap());
}

fn put_served(kv: &FakeKv, key: &str, n: u64, token: &str) {
    let value = ServedValue {
        n,
        token: token.into(),
    };
    kv.put(key, &serde_json::to_vec(&value).unwrap());
}

/// Two replicas' keys: `live` with a fleet record, `dead` without.
fn two_replicas() -> Arc<FakeKv> {
    let kv = Arc::new(FakeKv::default());
    for (replica, offset) in [("live", 0), ("dead", 10)] {
        let k = keys(replica);
        put_counter(&kv, &k.vote_counter(0), [1 + offset, 2, 0], "t0");
        put_counter(
            &kv,
            &k.vote_counter(1),
            [0, -1, 3 + offset],
            &format!("{replica}-1"),
        );
        put_served(
            &kv,
            &k.own_served(),
            100 + offset as u64,
            &format!("{replica}-s"),
        );
        kv.put(&k.own_logins(), br#"{"minute":1,"n":2}"#);
    }
    kv.put(&keys("live").replica(), b"{}");
    kv.put(&format!("{PREFIX}faults/replicas/dead"), b"{}");
    for folder in FOLDERS {
        kv.put(&format!("{PREFIX}{folder}"), b"");
    }
    kv
}

/// The folder keys the watchers keep (see `folders`): nobody's to fold.
const FOLDERS: [&str; 3] = ["served/", "logins/", "faults/"];

fn folder(kv: &Arc<FakeKv>, me: &str) -> Folder {
    Folder {
        kv: kv.clone(),
        keys: Arc::new(keys(me)),
        session: Box::new(|| Some("session".into())),
    }
}

/// (votes, pets served) as every replica sums them.
fn sums(kv: &FakeKv) -> (std::collections::BTreeMap<u64, [u64; 3]>, u64) {
    let votes = sum_counters(&kv.under(&format!("{PREFIX}votes/")));
    let served = kv
        .under(&format!("{PREFIX}served/"))
        .iter()
        .filter_map(ServedValue::from_entry)
        .map(|v| v.n)
        .sum();
    (votes, served)
}

#[tokio::test(start_paused = true)]
async fn a_dead_replica_is_folded_on_its_second_round_with_every_sum_unchanged() {
    let kv = two_replicas();
    let before = sums(&kv);
    let folder = folder(&kv, "live");
    let dead = folder.round(&BTreeSet::new()).await.unwrap();
    assert_eq!(dead, BTreeSet::from(["dead".to_owned()]));
    assert!(
        kv.get(&keys("dead").own_served()).is_some(),
        "not on first sight"
    );

    folder.round(&dead).await.unwrap();
    assert_eq!(sums(&kv), before, "the tally did not move");
    for key in kv.under(PREFIX).iter().map(|e| e.key.as_str()) {
        assert!(!key.contains("/dead"), "{key} left behind");
    }
    let archive = kv.get(&keys("live").votes_archive()).unwrap();
    let votes: VotesArchive = serde_json::from_slice(&archive.bytes()).unwrap();
    assert_eq!(votes.counts.0[&1], [11, 1, 13]);
    assert!(was_folded(Some(&archive), "dead-1"));
    assert!(!was_folded(Some(&archive), "live-1"));
    assert!(
        kv.get(&keys("live").own_served()).is_some(),
        "the living keep theirs"
    );
    for folder in FOLDERS {
        let key = format!("{PREFIX}{folder}");
        assert!(kv.get(&key).is_some(), "the folder key {key} stays");
    }
    assert_eq!(
        folder.round(&dead).await.unwrap(),
        BTreeSet::new(),
        "nothing dead is left"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fold_is_all_or_nothing() {
    let kv = two_replicas();
    let before = kv.under(PREFIX);
    let folder = folder(&kv, "live");
    let dead = folder.round(&BTreeSet::new()).await.unwrap();
    kv.script(&[Fault::Conflict]);
    folder.round(&dead).await.unwrap();
    assert_eq!(kv.under(PREFIX), before, "a refused fold changes nothing");
}

#[tokio::test(start_paused = true)]
async fn another_holder_of_the_lock_folds_and_nobody_else() {
    let kv = two_replicas();
    kv.put(&keys("live").fold_lock(), br#"{"holder":"someone-else"}"#);
    let folder = folder(&kv, "live");
    let suspects = BTreeSet::from(["dead".to_owned()]);
    assert!(folder.round(&suspects).await.unwrap().is_empty());
    assert!(kv.get(&keys("dead").own_served()).is_some());

    let no_session = Folder {
        session: Box::new(|| None),
        ..self::folder(&kv, "live")
    };
    kv.put(&keys("live").fold_lock(), br#"{"holder":"live"}"#);
    assert!(no_session.round(&suspects).await.unwrap().is_empty());
    assert!(
        kv.get(&keys("dead").own_served()).is_some(),
        "no session, no fold"
    );
}

/// The pets-served flusher of a replica called `paused`, with no fleet record.
fn paused_flusher(kv: &Arc<FakeKv>) -> (Flusher, Arc<ServedCounter>) {
    let paused = keys("paused");
    let counter = Arc::new(ServedCounter::default());
    let flusher = Flusher::new(
        kv.clone(),
        paused.own_served(),
        paused.served_archive(),
        counter.clone(),
        Arc::new(Notify::new()),
    );
    (flusher, counter)
}

/// A live replica, `other`, folds every replica without a record: it sees
/// them dead on one round and folds them on the next.
pub(crate) async fn folded_by_another(kv: &Arc<FakeKv>) {
    kv.put(&keys("other").replica(), b"{}");
    let other = folder(kv, "other");
    let dead = other.round(&BTreeSet::new()).await.unwrap();
    other.round(&dead).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_paused_replica_folded_away_counts_on_exactly() {
    let kv = Arc::new(FakeKv::default());
    let (mut flusher, counter) = paused_flusher(&kv);
    counter.pending.fetch_add(5, Ordering::Relaxed);
    assert_eq!(flusher.flush().await, Ok(true));
    // Pages it served while paused, not flushed; its session lapses.
    counter.pending.fetch_add(3, Ordering::Relaxed);
    folded_by_another(&kv).await;
    assert_eq!(sums(&kv).1, 5, "the archive holds what it had flushed");

    // Resumed: its flush finds the key gone and counts on from zero.
    while !flusher.flush().await.unwrap() {}
    assert_eq!(sums(&kv).1, 8, "nothing lost, nothing counted twice");
    assert_eq!(counter.flushed.load(Ordering::Relaxed), 3);
}

#[tokio::test(start_paused = true)]
async fn a_flush_lost_before_the_fold_is_found_in_the_archive() {
    let kv = Arc::new(FakeKv::default());
    let (mut flusher, counter) = paused_flusher(&kv);
    counter.pending.fetch_add(2, Ordering::Relaxed);
    assert_eq!(flusher.flush().await, Ok(true));
    counter.pending.fetch_add(4, Ordering::Relaxed);
    kv.script(&[Fault::AppliedThenLost]);
    assert!(
        flusher.flush().await.is_err(),
        "landed, but it does not know"
    );
    folded_by_another(&kv).await;
    assert_eq!(sums(&kv).1, 6);

    counter.pending.fetch_add(1, Ordering::Relaxed);
    while !flusher.flush().await.unwrap() {}
    assert_eq!(sums(&kv).1, 7, "the lost flush was not sent again");
}
