//! Commits and check-and-set conflicts: what a lane writes, and how it retries.

use super::*;
use crate::consul::votes::pace::STALLED_AFTER;

#[tokio::test(start_paused = true)]
async fn a_vote_commits_and_a_second_one_moves_it() {
    let h = Harness::new(2);
    let ann = VoterId::random();
    h.vote(ann, PetChoice::A, true).await.unwrap();
    h.vote(ann, PetChoice::C, false).await.unwrap();
    h.vote(VoterId::random(), PetChoice::C, true).await.unwrap();
    assert_eq!(h.tally(), [0, 0, 2]);
    assert_eq!(h.record(ann).unwrap().vote, "c");
}

#[tokio::test(start_paused = true)]
async fn a_counter_changed_underneath_is_reloaded() {
    let h = Harness::new(1);
    h.vote(VoterId::random(), PetChoice::A, true).await.unwrap();
    let key = h.keys.vote_counter(0);
    let edited = Counter::default().moved(1, [5, 0, 0], "operator");
    h.kv.put(&key, &serde_json::to_vec(&edited).unwrap());
    h.vote(VoterId::random(), PetChoice::B, true).await.unwrap();
    assert_eq!(h.tally(), [5, 1, 0]);
}

#[tokio::test(start_paused = true)]
async fn conflicts_without_end_are_refused_and_change_nothing() {
    let h = Harness::new(1);
    h.kv.script(&[Fault::Conflict; 20]);
    assert!(failed(h.vote(VoterId::random(), PetChoice::A, true).await));
    assert_eq!(h.tally(), [0, 0, 0]);
}

#[tokio::test(start_paused = true)]
async fn a_write_that_reached_no_server_is_retried_once() {
    let h = Harness::new(1);
    h.kv.script(&[Fault::NotSent]);
    h.vote(VoterId::random(), PetChoice::B, true).await.unwrap();
    assert_eq!(h.tally(), [0, 1, 0]);
}

#[test]
fn the_fake_rolls_back_a_transaction_as_a_whole() {
    use crate::consul::kv::{Kv, TxnOp, TxnOutcome};
    let kv = FakeKv::default();
    kv.put("k", b"1");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let outcome = runtime.block_on(kv.write(&[
        TxnOp::cas("new".into(), b"x", 0),
        TxnOp::cas("k".into(), b"2", 99),
    ]));
    assert!(matches!(outcome, Ok(TxnOutcome::RolledBack(ref e)) if e[0].op_index == 1));
    assert!(kv.get("new").is_none());
    let entry: KvEntry = kv.get("k").unwrap();
    assert_eq!(entry.bytes(), b"1");
}

#[tokio::test(start_paused = true)]
async fn a_lane_whose_counter_was_folded_away_counts_on_from_zero() {
    let h = Harness::new(1);
    h.vote(VoterId::random(), PetChoice::A, true).await.unwrap();
    h.vote(VoterId::random(), PetChoice::B, true).await.unwrap();
    // This replica has no fleet record (paused past its session); another folds it.
    crate::consul::fold::tests::folded_by_another(&h.kv).await;
    assert!(h.kv.get(&h.keys.vote_counter(0)).is_none(), "folded");
    assert_eq!(h.tally(), [1, 1, 0]);
    h.vote(VoterId::random(), PetChoice::C, true).await.unwrap();
    assert_eq!(h.tally(), [1, 1, 1], "nothing lost, nothing counted twice");
}

/// Voters who come straight back after each answer, as a load tool or a
/// room of browsers does: the ballots of those just answered are gathered
/// into one transaction instead of trickling out in small ones.
#[tokio::test(start_paused = true)]
async fn the_voters_just_answered_are_gathered_into_one_transaction() {
    let h = Arc::new(Harness::new(2));
    let clients: Vec<_> = (0..16u64)
        .map(|i| {
            let h = h.clone();
            tokio::spawn(async move {
                for _ in 0..8 {
                    h.vote(VoterId::random(), PetChoice::A, true).await.unwrap();
                    // Following the 303 and posting again takes each a while.
                    sleep(Duration::from_millis(i % 3)).await;
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    assert_eq!(h.tally(), [128, 0, 0]);
    assert!(
        h.kv.writes() <= 10,
        "{} transactions for 8 rounds",
        h.kv.writes()
    );
}

/// A write that hangs does not hold the voters behind it: once it has been
/// in flight for [`STALLED_AFTER`], the other lane commits them.
#[tokio::test(start_paused = true)]
async fn voters_behind_a_stalled_write_commit_on_the_other_lane() {
    let h = Arc::new(Harness::new(2));
    h.kv.script(&[Fault::Slow]);
    let stuck = spawn_vote(&h, VoterId::random(), PetChoice::A, true);
    sleep(Duration::from_millis(10)).await;
    let started = Instant::now();
    h.vote(VoterId::random(), PetChoice::B, true).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= STALLED_AFTER - Duration::from_millis(10) && waited < STALLED_AFTER * 2,
        "{waited:?}"
    );
    assert_eq!(h.tally(), [0, 1, 0], "the stalled write is still in flight");
    stuck.await.unwrap().unwrap();
    assert_eq!(h.tally(), [1, 1, 0]);
}
