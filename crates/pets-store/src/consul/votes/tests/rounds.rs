//! Votes and the close of a round: every vote in exactly one round, the one
//! its voter is told of.

use super::*;
use crate::consul::rounds::{close, CurrentRound};
use crate::rounds::RoundBook;

fn names() -> [String; 3] {
    ["Cats".into(), "Dogs".into(), "Whales".into()]
}

/// Another replica closes the round: this one's lanes still know the old.
async fn closed_elsewhere(h: &Harness) -> u64 {
    let elsewhere = CurrentRound::default();
    let (closed, _) = close(
        h.kv.as_ref(),
        &h.keys.round_book(),
        &elsewhere,
        None,
        names(),
        0,
    )
    .await
    .unwrap();
    closed
}

#[tokio::test(start_paused = true)]
async fn a_vote_after_a_close_elsewhere_commits_in_the_new_round_and_says_so() {
    let h = Harness::new(1);
    let (ann, bob) = (VoterId::random(), VoterId::random());
    assert_eq!(h.vote(ann, PetChoice::A, true).await.unwrap().round, 1);
    assert_eq!(closed_elsewhere(&h).await, 1);
    let receipt = h.vote(bob, PetChoice::B, true).await.unwrap();
    assert_eq!(
        receipt.round, 2,
        "the lane learnt of the close from the check"
    );
    assert_eq!(h.tally_of(1), [1, 0, 0]);
    assert_eq!(h.tally_of(2), [0, 1, 0]);
}

#[tokio::test(start_paused = true)]
async fn every_voter_votes_again_in_a_new_round_and_the_old_one_keeps_its_votes() {
    let h = Harness::new(1);
    let (ann, bob) = (VoterId::random(), VoterId::random());
    h.vote(ann, PetChoice::A, true).await.unwrap();
    h.vote(bob, PetChoice::B, true).await.unwrap();
    h.vote(bob, PetChoice::C, false).await.unwrap();
    closed_elsewhere(&h).await;
    // Ann's vote is in a first-votes record of round 1, Bob's in his own.
    assert_eq!(h.vote(ann, PetChoice::B, false).await.unwrap().round, 2);
    assert_eq!(h.vote(bob, PetChoice::A, false).await.unwrap().round, 2);
    assert_eq!(h.tally_of(1), [1, 0, 1], "round 1 as it closed");
    assert_eq!(
        h.tally_of(2),
        [1, 1, 0],
        "each a vote of the new round, none moved"
    );
    h.vote(bob, PetChoice::C, false).await.unwrap();
    assert_eq!(h.tally_of(2), [0, 1, 1], "a move within round 2");
    assert_eq!(h.record(bob).unwrap().round, 2);
}

#[tokio::test(start_paused = true)]
async fn votes_in_flight_at_the_close_land_in_one_round_each() {
    let h = Arc::new(Harness::new(2));
    let voters: Vec<VoterId> = (0..40).map(|_| VoterId::random()).collect();
    let mut answers = Vec::new();
    for (i, &voter) in voters.iter().enumerate() {
        answers.push(spawn_vote(&h, voter, PetChoice::ALL[i % 3], true));
        if i == 20 {
            closed_elsewhere(&h).await;
        }
        sleep(Duration::from_millis(3)).await;
    }
    let mut told = [[0u64; 3]; 2];
    for (i, answer) in answers.into_iter().enumerate() {
        let receipt = answer.await.unwrap().unwrap();
        told[receipt.round as usize - 1][i % 3] += 1;
    }
    assert!(told[0].iter().sum::<u64>() > 0 && told[1].iter().sum::<u64>() > 0);
    assert_eq!(
        h.tally_of(1),
        told[0],
        "round 1 holds exactly the votes told so"
    );
    assert_eq!(h.tally_of(2), told[1]);
}

/// A vote refused at its deadline commits late in round 1, which then
/// closes: the undo takes it out of round 1, not out of round 2.
#[tokio::test(start_paused = true)]
async fn a_late_commit_undone_after_the_close_is_taken_from_its_own_round() {
    let h = Arc::new(Harness::new(1));
    h.vote(VoterId::random(), PetChoice::C, true).await.unwrap();
    h.kv.script(&[Fault::HeldUntilQuorum]);
    assert!(unconfirmed(
        h.vote(VoterId::random(), PetChoice::B, true).await
    ));
    h.kv.restore_quorum();
    assert_eq!(
        h.tally_of(1),
        [0, 1, 1],
        "committed late: visible until undone"
    );
    closed_elsewhere(&h).await;
    sleep(Duration::from_secs(2)).await;
    assert_eq!(h.tally_of(1), [0, 0, 1], "the refused vote is in no round");
    assert_eq!(h.tally_of(2), [0, 0, 0]);
    let receipt = h.vote(VoterId::random(), PetChoice::A, true).await.unwrap();
    assert_eq!(receipt.round, 2);
    assert_eq!(h.tally_of(2), [1, 0, 0]);
}

#[tokio::test(start_paused = true)]
async fn a_store_without_a_book_makes_round_one_on_the_first_vote() {
    let h = Harness::new(1);
    h.kv.delete(&h.keys.round_book());
    let receipt = h.vote(VoterId::random(), PetChoice::A, true).await;
    assert_eq!(receipt.unwrap().round, 1);
    let book: RoundBook =
        serde_json::from_slice(&h.kv.get(&h.keys.round_book()).unwrap().bytes()).unwrap();
    assert_eq!(book.number, 1);
}
