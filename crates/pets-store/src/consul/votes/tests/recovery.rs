//! Writes whose outcome was unknown, settled; refused groups that committed late, undone.

use super::*;

#[tokio::test(start_paused = true)]
async fn an_unknown_outcome_that_committed_is_recognised_not_repeated() {
    let h = Harness::new(1);
    h.kv.script(&[Fault::AppliedThenLost]);
    let ann = VoterId::random();
    h.vote(ann, PetChoice::C, true).await.unwrap();
    assert_eq!(h.tally(), [0, 0, 1], "counted once");
    assert_eq!(h.kv.writes(), 2, "the vote and one fence");
    h.vote(VoterId::random(), PetChoice::C, true).await.unwrap();
    assert_eq!(h.tally(), [0, 0, 2], "the lane knows its counter again");
}

#[tokio::test(start_paused = true)]
async fn an_unknown_outcome_that_did_not_commit_is_fenced_and_sent_again() {
    let h = Harness::new(1);
    h.kv.script(&[Fault::LostUnapplied]);
    h.vote(VoterId::random(), PetChoice::A, true).await.unwrap();
    assert_eq!(h.tally(), [1, 0, 0]);
    assert_eq!(h.kv.writes(), 3, "the lost vote, the fence, the vote again");
}

#[tokio::test(start_paused = true)]
async fn a_fence_whose_own_answer_is_lost_still_settles() {
    let h = Harness::new(1);
    h.kv.script(&[Fault::LostUnapplied, Fault::AppliedThenLost]);
    h.vote(VoterId::random(), PetChoice::A, true).await.unwrap();
    assert_eq!(h.tally(), [1, 0, 0]);
}

/// The vote is in the log when quorum is lost; the voter is told no at the
/// deadline; quorum returns and the write commits; the lane undoes it.
#[tokio::test(start_paused = true)]
async fn a_refused_vote_that_commits_later_is_undone() {
    let h = Arc::new(Harness::new(1));
    h.kv.script(&[Fault::HeldUntilQuorum]);
    let ann = VoterId::random();
    let started = Instant::now();
    assert!(unconfirmed(h.vote(ann, PetChoice::B, true).await));
    assert!(started.elapsed() >= VOTE_DEADLINE);
    assert_eq!(h.tally(), [0, 0, 0]);
    h.kv.restore_quorum();
    assert_eq!(h.tally(), [0, 1, 0], "committed late: visible until undone");
    assert_eq!(h.kv.under("t/ballots/").len(), 1);
    sleep(Duration::from_secs(2)).await;
    assert_eq!(h.tally(), [0, 0, 0]);
    assert!(
        h.kv.under("t/ballots/").is_empty(),
        "the first votes are gone again"
    );
    assert!(h.record(ann).is_none());
}

#[tokio::test(start_paused = true)]
async fn a_moved_vote_refused_and_committed_late_gets_its_old_record_back() {
    let h = Harness::new(1);
    let ann = VoterId::random();
    h.vote(ann, PetChoice::A, true).await.unwrap();
    h.kv.script(&[Fault::HeldUntilQuorum]);
    assert!(unconfirmed(h.vote(ann, PetChoice::C, false).await));
    h.kv.restore_quorum();
    sleep(Duration::from_secs(2)).await;
    assert_eq!(h.tally(), [1, 0, 0]);
    assert!(h.record(ann).is_none(), "back to her first vote alone");
    h.vote(ann, PetChoice::B, false).await.unwrap();
    assert_eq!(h.tally(), [0, 1, 0], "which a later vote still moves");
}

/// A move refused and committed late, but the voter's record changed again
/// (moved on another replica) before the undo: her later vote stands, and
/// the undo leaves her record and her share of the counter alone.
#[tokio::test(start_paused = true)]
async fn a_record_changed_since_the_late_commit_is_left_alone() {
    let h = Harness::new(1);
    let ann = VoterId::random();
    h.vote(ann, PetChoice::A, true).await.unwrap();
    h.kv.script(&[Fault::HeldUntilQuorum]);
    assert!(unconfirmed(h.vote(ann, PetChoice::B, false).await));
    h.kv.restore_quorum();
    // Before the lane looks again, Ann votes c on another replica, which
    // moves her vote from b (its own counter: -b +c).
    let record = VoterRecord {
        name: "Ann".into(),
        vote: "c".into(),
        round: 1,
        token: "later".into(),
    };
    h.kv.put(&h.keys.voter(&ann), &serde_json::to_vec(&record).unwrap());
    let moved = Counter::default().moved(1, [0, -1, 1], "later");
    h.kv.put("t/votes/other/0", &serde_json::to_vec(&moved).unwrap());
    sleep(Duration::from_secs(2)).await;
    assert_eq!(h.tally(), [0, 0, 1], "her later vote stands");
    assert_eq!(h.record(ann).unwrap().vote, "c");
}

/// The undo cannot reach Consul at first: the lane is not held, other votes
/// commit, and the undo is paid later.
#[tokio::test(start_paused = true)]
async fn an_undo_that_cannot_be_sent_is_kept_and_paid_later() {
    let h = Harness::new(1);
    // The fence after the quorum returns passes; the undo reaches no server.
    h.unconfirmed_b_then_quorum(&[Fault::Pass, Fault::NotSent])
        .await;
    sleep(Duration::from_millis(1500)).await;
    h.vote(VoterId::random(), PetChoice::A, true).await.unwrap();
    sleep(Duration::from_secs(2)).await;
    assert_eq!(h.tally(), [1, 0, 0]);
}

#[tokio::test(start_paused = true)]
async fn an_undo_whose_answer_is_lost_is_settled_too() {
    let h = Harness::new(1);
    h.unconfirmed_b_then_quorum(&[Fault::Pass, Fault::AppliedThenLost])
        .await;
    sleep(Duration::from_secs(3)).await;
    assert_eq!(h.tally(), [0, 0, 0]);
    h.vote(VoterId::random(), PetChoice::B, true).await.unwrap();
    assert_eq!(h.tally(), [0, 1, 0]);
}

/// A write applied and its answer lost while another replica folds this
/// one's counters away (its session lapsed while it was cut off): settling
/// finds the write in the archive, and the lane counts on from zero, not
/// from the totals it meant to write (the nemesis saw every tally 372 above
/// the records).
#[tokio::test(start_paused = true)]
async fn a_write_settled_after_its_counter_was_folded_is_not_counted_twice() {
    let h = Arc::new(Harness::new(1));
    for _ in 0..3 {
        h.vote(VoterId::random(), PetChoice::A, true).await.unwrap();
    }
    h.kv.script(&[Fault::AppliedThenLost, Fault::NotSent]);
    let vote = spawn_vote(&h, VoterId::random(), PetChoice::B, true);
    sleep(Duration::from_millis(10)).await;
    crate::consul::fold::tests::folded_by_another(&h.kv).await;
    vote.await.unwrap().unwrap();
    assert_eq!(h.tally(), [3, 1, 0]);
    h.vote(VoterId::random(), PetChoice::C, true).await.unwrap();
    assert_eq!(
        h.tally(),
        [3, 1, 1],
        "the folded totals are not written again"
    );
}

/// The same for a lane's first write, which expected no key: the fence
/// against "no key" lands, and only the archive can say the write was
/// applied and folded; it is not sent again.
#[tokio::test(start_paused = true)]
async fn a_first_write_folded_before_it_was_settled_is_not_sent_again() {
    let h = Arc::new(Harness::new(1));
    h.kv.script(&[Fault::AppliedThenLost, Fault::NotSent]);
    let vote = spawn_vote(&h, VoterId::random(), PetChoice::A, true);
    sleep(Duration::from_millis(10)).await;
    crate::consul::fold::tests::folded_by_another(&h.kv).await;
    vote.await.unwrap().unwrap();
    assert_eq!(h.tally(), [1, 0, 0], "counted once");
    assert_eq!(h.kv.under("t/ballots/").len(), 1, "one record of it");
}

/// A replica stopping with an undo owed (the undo could not reach Consul
/// yet) pays it before it goes: the nemesis saw refused votes left counted
/// when the replica that refused them stopped before it could undo them.
#[tokio::test(start_paused = true)]
async fn a_stopping_replica_pays_the_undo_it_owes_first() {
    let h = Harness::new(1);
    h.unconfirmed_b_then_quorum(&[Fault::Pass, Fault::NotSent])
        .await;
    sleep(Duration::from_millis(200)).await;
    assert_eq!(h.tally(), [0, 1, 0], "the undo is owed");
    assert!(h.lanes.close(Duration::from_secs(5)).await, "finished");
    assert_eq!(h.tally(), [0, 0, 0], "paid before the lanes stopped");
    assert!(
        failed(h.vote(VoterId::random(), PetChoice::A, true).await),
        "a stopping replica takes no more votes"
    );
}

/// An undo that cannot be paid does not hold the stop for ever.
#[tokio::test(start_paused = true)]
async fn a_stop_waits_for_an_unpayable_undo_only_so_long() {
    let h = Harness::new(1);
    h.unconfirmed_b_then_quorum(&[Fault::Pass]).await;
    h.kv.script(&[Fault::NotSent; 200]);
    let started = Instant::now();
    assert!(!h.lanes.close(Duration::from_secs(5)).await);
    assert!(started.elapsed() < Duration::from_secs(6));
}
