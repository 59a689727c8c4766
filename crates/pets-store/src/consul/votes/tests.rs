//! Every branch of the commit, settle and undo protocol, against the
//! scripted fake under `tokio::time::pause()`: what each voter is told, and
//! what the counters and records hold afterwards.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::{sleep, Instant};

use crate::consul::fake::{FakeKv, Fault};
use crate::consul::keys::Keys;
use crate::consul::kv::KvEntry;
use crate::consul::records::{sum_counters, Counter, VoterRecord};
use crate::consul::votes::outage::FAIL_FAST_AFTER;
use crate::consul::votes::{Outage, VoteLanes, VOTE_DEADLINE};
use crate::domain::{Ballot, PetChoice, VoterId, VoterName};
use crate::store::StoreError;

struct Harness {
    kv: Arc<FakeKv>,
    keys: Arc<Keys>,
    lanes: VoteLanes,
    /// What the cluster watcher would tell the lanes.
    outage: Outage,
}

impl Harness {
    fn new(lanes: usize) -> Self {
        let kv = Arc::new(FakeKv::default());
        let keys = Arc::new(Keys::new("t/", "r"));
        let outage = Outage::default();
        let lanes = VoteLanes::start(
            kv.clone(),
            keys.clone(),
            lanes,
            Arc::new(Notify::new()),
            Arc::default(),
            Arc::default(),
            outage.clone(),
        );
        Self {
            kv,
            keys,
            lanes,
            outage,
        }
    }

    async fn vote(&self, voter: VoterId, choice: PetChoice, first: bool) -> Result<(), StoreError> {
        self.lanes
            .cast(Ballot {
                voter,
                name: VoterName::parse("Ann").unwrap(),
                choice,
                first_vote: first,
            })
            .await
    }

    fn tally(&self) -> [u64; 3] {
        sum_counters(&self.kv.under(&self.keys.votes()))
    }

    fn record(&self, voter: VoterId) -> Option<VoterRecord> {
        let entry = self.kv.get(&self.keys.voter(&voter))?;
        serde_json::from_slice(&entry.bytes()).ok()
    }

    /// Another replica recorded `voter` for `choice` on its own counter.
    fn voted_elsewhere(&self, voter: VoterId, choice: PetChoice, token: &str) {
        let record = VoterRecord {
            name: "Ann".into(),
            vote: choice.id().into(),
            token: token.into(),
        };
        self.kv.put(
            &self.keys.voter(&voter),
            &serde_json::to_vec(&record).unwrap(),
        );
        let mut delta = [0; 3];
        delta[choice.index()] = 1;
        let counter = Counter::default().moved(delta, token);
        self.kv
            .put("t/votes/other/0", &serde_json::to_vec(&counter).unwrap());
    }
}

fn failed(answer: Result<(), StoreError>) -> bool {
    matches!(answer, Err(StoreError::Unavailable(_)))
}

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
async fn a_record_written_elsewhere_fails_the_check_and_is_read_again() {
    let h = Harness::new(1);
    let ann = VoterId::random();
    h.voted_elsewhere(ann, PetChoice::B, "theirs");
    // Marked as a first vote, so written with "must not exist": rolled back.
    h.vote(ann, PetChoice::A, true).await.unwrap();
    assert_eq!(h.tally(), [1, 0, 0], "moved from b, not added");
}

#[tokio::test(start_paused = true)]
async fn a_counter_changed_underneath_is_reloaded() {
    let h = Harness::new(1);
    h.vote(VoterId::random(), PetChoice::A, true).await.unwrap();
    let key = h.keys.vote_counter(0);
    let edited = Counter::default().moved([5, 0, 0], "operator");
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
        .map(|choice| {
            let h = h.clone();
            tokio::spawn(async move { h.vote(VoterId::random(), choice, true).await })
        })
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
    let first = {
        let h = h.clone();
        tokio::spawn(async move { h.vote(VoterId::random(), PetChoice::A, true).await })
    };
    sleep(Duration::from_millis(200)).await;
    let second = {
        let h = h.clone();
        tokio::spawn(async move { h.vote(VoterId::random(), PetChoice::B, true).await })
    };
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
    assert!(failed(h.vote(ann, PetChoice::B, true).await));
    assert!(started.elapsed() >= VOTE_DEADLINE);
    assert_eq!(h.tally(), [0, 0, 0]);
    h.kv.restore_quorum();
    assert_eq!(h.tally(), [0, 1, 0], "committed late: visible until undone");
    sleep(Duration::from_secs(2)).await;
    assert_eq!(h.tally(), [0, 0, 0]);
    assert!(h.record(ann).is_none(), "the record is gone again");
}

#[tokio::test(start_paused = true)]
async fn a_moved_vote_refused_and_committed_late_gets_its_old_record_back() {
    let h = Harness::new(1);
    let ann = VoterId::random();
    h.vote(ann, PetChoice::A, true).await.unwrap();
    h.kv.script(&[Fault::HeldUntilQuorum]);
    assert!(failed(h.vote(ann, PetChoice::C, false).await));
    h.kv.restore_quorum();
    sleep(Duration::from_secs(2)).await;
    assert_eq!(h.tally(), [1, 0, 0]);
    assert_eq!(h.record(ann).unwrap().vote, "a");
}

#[tokio::test(start_paused = true)]
async fn a_record_changed_since_the_late_commit_is_left_alone() {
    let h = Harness::new(1);
    h.kv.script(&[Fault::HeldUntilQuorum]);
    let ann = VoterId::random();
    assert!(failed(h.vote(ann, PetChoice::B, true).await));
    h.kv.restore_quorum();
    // Before the lane looks again, Ann votes c on another replica, which
    // moves her vote from b (its own counter: -b +c).
    let record = VoterRecord {
        name: "Ann".into(),
        vote: "c".into(),
        token: "later".into(),
    };
    h.kv.put(&h.keys.voter(&ann), &serde_json::to_vec(&record).unwrap());
    let moved = Counter::default().moved([0, -1, 1], "later");
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
    h.kv.script(&[Fault::HeldUntilQuorum]);
    assert!(failed(h.vote(VoterId::random(), PetChoice::B, true).await));
    // The fence after the quorum returns passes; the undo reaches no server.
    h.kv.script(&[Fault::Pass, Fault::NotSent]);
    h.kv.restore_quorum();
    sleep(Duration::from_millis(1500)).await;
    h.vote(VoterId::random(), PetChoice::A, true).await.unwrap();
    sleep(Duration::from_secs(2)).await;
    assert_eq!(h.tally(), [1, 0, 0]);
}

#[tokio::test(start_paused = true)]
async fn an_undo_whose_answer_is_lost_is_settled_too() {
    let h = Harness::new(1);
    h.kv.script(&[Fault::HeldUntilQuorum]);
    assert!(failed(h.vote(VoterId::random(), PetChoice::B, true).await));
    h.kv.script(&[Fault::Pass, Fault::AppliedThenLost]);
    h.kv.restore_quorum();
    sleep(Duration::from_secs(3)).await;
    assert_eq!(h.tally(), [0, 0, 0]);
    h.vote(VoterId::random(), PetChoice::B, true).await.unwrap();
    assert_eq!(h.tally(), [0, 1, 0]);
}

/// A lane settling a write for longer than an election: the ballot that
/// waited for it is refused then, and new ones at once.
#[tokio::test(start_paused = true)]
async fn while_every_lane_settles_past_an_election_new_ballots_are_refused_at_once() {
    let h = Arc::new(Harness::new(1));
    h.kv.script(&[Fault::HeldUntilQuorum]);
    let first = {
        let h = h.clone();
        tokio::spawn(async move { h.vote(VoterId::random(), PetChoice::A, true).await })
    };
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
    assert!(failed(first.await.unwrap()));
    assert_eq!(h.tally(), [0, 0, 0]);
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
