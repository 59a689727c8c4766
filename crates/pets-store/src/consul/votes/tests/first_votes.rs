//! First votes recorded together, and the moves that find them through the voter's cookie.

use super::*;

/// A group of first votes costs two keys: one record holding them all, and
/// the lane's counter. Each voter is told where it is.
#[tokio::test(start_paused = true)]
async fn first_votes_share_one_record_and_each_voter_learns_where() {
    let h = Arc::new(Harness::new(1));
    let voters: Vec<VoterId> = (0..5).map(|_| VoterId::random()).collect();
    let votes: Vec<_> = voters
        .iter()
        .map(|&voter| spawn_vote(&h, voter, PetChoice::B, true))
        .collect();
    for vote in votes {
        vote.await.unwrap().unwrap();
    }
    assert_eq!(h.tally(), [0, 5, 0]);
    assert!(h.kv.under("t/voters/").is_empty(), "no record per voter");
    let records = h.kv.under("t/ballots/");
    let cookies = h.cookies.lock().unwrap().clone();
    assert_eq!(cookies.len(), 5);
    for (voter, at) in cookies {
        let record =
            h.kv.get(&h.keys.first_votes(&at))
                .expect("the cookie's record");
        assert_eq!(
            FirstVotes::choice_of(&record.bytes(), &voter, 1),
            Some(PetChoice::B)
        );
    }
    assert!(records.len() < 5, "grouped: {} records", records.len());
}

/// A voter's later vote finds the first one through the cookie, moves it,
/// and from then on has a record of its own.
#[tokio::test(start_paused = true)]
async fn a_move_finds_the_first_vote_through_the_cookie() {
    let h = Harness::new(2);
    let ann = VoterId::random();
    h.vote(ann, PetChoice::A, true).await.unwrap();
    h.vote(ann, PetChoice::C, false).await.unwrap();
    assert_eq!(h.tally(), [0, 0, 1]);
    assert_eq!(h.record(ann).unwrap().vote, "c");
    h.vote(ann, PetChoice::B, false).await.unwrap();
    assert_eq!(h.tally(), [0, 1, 0]);
}

/// A cookie naming a record that does not hold the voter (another voter's,
/// or one that is gone) finds no vote to move: the vote counts as new.
#[tokio::test(start_paused = true)]
async fn a_cookie_naming_someone_elses_record_moves_nothing() {
    let h = Harness::new(1);
    let (ann, bob) = (VoterId::random(), VoterId::random());
    h.vote(ann, PetChoice::A, true).await.unwrap();
    let anns = h.cookies.lock().unwrap()[&ann];
    h.cookies.lock().unwrap().insert(bob, anns);
    h.vote(bob, PetChoice::B, false).await.unwrap();
    assert_eq!(h.tally(), [1, 1, 0], "Ann's vote stays");
    h.cookies.lock().unwrap().insert(bob, BallotRef::random());
    h.vote(bob, PetChoice::C, false).await.unwrap();
    assert_eq!(h.tally(), [1, 0, 1], "Bob's own record moved");
}

/// One transaction with a move and first votes: a failed check on the
/// mover's record (the first operation) has it read again, and the retry
/// writes everything once.
#[tokio::test(start_paused = true)]
async fn a_group_mixing_a_move_and_first_votes_retries_as_a_whole() {
    let h = Arc::new(Harness::new(1));
    let ann = VoterId::random();
    h.vote(ann, PetChoice::A, true).await.unwrap();
    h.kv.script(&[Fault::Conflict]);
    let votes: Vec<_> = [(ann, PetChoice::C, false)]
        .into_iter()
        .chain((0..2).map(|_| (VoterId::random(), PetChoice::B, true)))
        .map(|(voter, choice, first)| spawn_vote(&h, voter, choice, first))
        .collect();
    for vote in votes {
        vote.await.unwrap().unwrap();
    }
    assert_eq!(h.tally(), [0, 2, 1]);
    assert_eq!(h.record(ann).unwrap().vote, "c");
}

/// Another replica moved the voter first (her own record now outranks her
/// first vote), and a check fails on her record: read again, moved from
/// what the record says.
#[tokio::test(start_paused = true)]
async fn a_record_written_elsewhere_outranks_the_first_vote_and_is_read_again() {
    let h = Harness::new(1);
    let ann = VoterId::random();
    h.vote(ann, PetChoice::A, true).await.unwrap();
    h.voted_elsewhere(ann, PetChoice::B, "theirs");
    h.kv.put(
        "t/votes/other/0",
        &serde_json::to_vec(&Counter::default().moved(1, [-1, 1, 0], "theirs")).unwrap(),
    );
    assert_eq!(h.tally(), [0, 1, 0]);
    h.kv.script(&[Fault::Conflict]);
    h.vote(ann, PetChoice::C, false).await.unwrap();
    assert_eq!(h.tally(), [0, 0, 1], "moved from b, not from a");
}

/// 120 voters whose first votes went out in 120 different groups move their
/// votes at once: a group of 62 movers reads 124 keys, which Consul takes
/// only in transactions of 64 operations, so the reads are split, and every
/// move commits and counts once.
#[tokio::test(start_paused = true)]
async fn movers_from_many_first_vote_records_read_in_transactions_consul_takes() {
    let h = Arc::new(Harness::new(2));
    let voters: Vec<VoterId> = (0..120).map(|_| VoterId::random()).collect();
    for voter in &voters {
        h.vote(*voter, PetChoice::A, true).await.unwrap();
    }
    let refs: std::collections::HashSet<BallotRef> =
        h.cookies.lock().unwrap().values().copied().collect();
    assert_eq!(refs.len(), 120, "each first vote in a record of its own");
    let moves: Vec<_> = voters
        .iter()
        .map(|&v| spawn_vote(&h, v, PetChoice::B, false))
        .collect();
    for moved in moves {
        moved.await.unwrap().expect("every move commits");
    }
    assert_eq!(h.tally(), [0, 120, 0]);
}
