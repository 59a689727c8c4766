//! Outages: a blip shorter than an election is waited out, a longer one fails votes fast.

use super::*;

/// Failures shorter than an election are waited out; once they have
/// lasted [`FAIL_FAST_AFTER`] the ballot in them is refused, and every later
/// one gets a single try, until a write commits again.
#[tokio::test(start_paused = true)]
async fn in_an_outage_votes_fail_fast() {
    let h = Harness::new(1);
    h.kv.lose_quorum();
    let started = Instant::now();
    assert!(failed(h.vote(VoterId::random(), PetChoice::B, true).await));
    let took = started.elapsed();
    assert!(
        took >= FAIL_FAST_AFTER && took < FAIL_FAST_AFTER + Duration::from_millis(200),
        "an election's time, then no: {took:?}"
    );
    let started = Instant::now();
    assert!(failed(h.vote(VoterId::random(), PetChoice::B, true).await));
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "one try in an outage"
    );
    h.kv.restore_quorum();
    h.vote(VoterId::random(), PetChoice::B, true).await.unwrap();
    assert_eq!(h.tally(), [0, 1, 0]);
}

/// Writes refused for less than an election (no leader for a moment): every
/// ballot cast meanwhile, on both lanes, waits and commits.
#[tokio::test(start_paused = true)]
async fn a_blip_shorter_than_an_election_is_waited_out() {
    let h = Arc::new(Harness::new(2));
    h.kv.lose_quorum();
    let voters: Vec<_> = [PetChoice::A, PetChoice::B, PetChoice::C]
        .into_iter()
        .cycle()
        .take(6)
        .map(|choice| spawn_vote(&h, VoterId::random(), choice, true))
        .collect();
    sleep(FAIL_FAST_AFTER / 2).await;
    h.kv.restore_quorum();
    for voter in voters {
        voter.await.unwrap().unwrap();
    }
    assert_eq!(h.tally(), [2, 2, 2]);
}

/// A write held while the leader changes (its outcome unknown for a
/// moment): it is settled as committed, and the ballots that arrived
/// meanwhile wait for the lane instead of being refused.
#[tokio::test(start_paused = true)]
async fn ballots_behind_a_write_held_for_a_moment_wait_for_it() {
    let h = Arc::new(Harness::new(1));
    h.kv.script(&[Fault::HeldUntilQuorum]);
    let first = spawn_vote(&h, VoterId::random(), PetChoice::A, true);
    sleep(Duration::from_millis(200)).await;
    let second = spawn_vote(&h, VoterId::random(), PetChoice::B, true);
    sleep(FAIL_FAST_AFTER / 2).await;
    h.kv.restore_quorum();
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    assert_eq!(h.tally(), [1, 1, 0]);
}

/// Quorum lost where Consul holds writes until a leader appears: once the
/// cluster watcher has seen no leader for longer than an election, ballots
/// are refused at once and nothing is sent; a leader seen again lets them
/// through.
#[tokio::test(start_paused = true)]
async fn without_a_leader_for_longer_than_an_election_ballots_are_refused_unsent() {
    let h = Harness::new(2);
    h.outage.leader_seen(false);
    sleep(FAIL_FAST_AFTER).await;
    let writes = h.kv.writes();
    let started = Instant::now();
    assert!(failed(h.vote(VoterId::random(), PetChoice::A, true).await));
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(h.kv.writes(), writes, "nothing sent");
    h.outage.leader_seen(true);
    h.vote(VoterId::random(), PetChoice::A, true).await.unwrap();
    assert_eq!(h.tally(), [1, 0, 0]);
}

/// During an election (no leader for less than [`FAIL_FAST_AFTER`]) a ballot
/// is sent and waits: it commits once the writes are answered again.
#[tokio::test(start_paused = true)]
async fn during_an_election_a_ballot_waits_for_the_new_leader() {
    let h = Harness::new(1);
    h.outage.leader_seen(false);
    h.kv.script(&[Fault::HeldUntilQuorum]);
    h.kv.lose_quorum();
    let kv = h.kv.clone();
    let outage = h.outage.clone();
    tokio::spawn(async move {
        sleep(FAIL_FAST_AFTER / 2).await;
        outage.leader_seen(true);
        kv.restore_quorum();
    });
    h.vote(VoterId::random(), PetChoice::C, true).await.unwrap();
    assert_eq!(h.tally(), [0, 0, 1]);
}

/// A lane settling a write for longer than an election: the ballot that
/// waited for it is refused then, and new ones at once.
#[tokio::test(start_paused = true)]
async fn while_every_lane_settles_past_an_election_new_ballots_are_refused_at_once() {
    let h = Arc::new(Harness::new(1));
    h.kv.script(&[Fault::HeldUntilQuorum]);
    let first = spawn_vote(&h, VoterId::random(), PetChoice::A, true);
    sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    assert!(failed(h.vote(VoterId::random(), PetChoice::B, true).await));
    let waited = started.elapsed();
    assert!(
        waited >= FAIL_FAST_AFTER - Duration::from_millis(300) && waited < FAIL_FAST_AFTER,
        "refused once the settling outlasted an election: {waited:?}"
    );
    let started = Instant::now();
    assert!(failed(h.vote(VoterId::random(), PetChoice::C, true).await));
    assert!(
        started.elapsed() <= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    assert!(unconfirmed(first.await.unwrap()), "sent, and never settled");
    assert_eq!(h.tally(), [0, 0, 0]);
}
