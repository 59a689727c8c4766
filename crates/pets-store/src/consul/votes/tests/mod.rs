//! Every branch of the commit, settle and undo protocol, against the
//! scripted fake under `tokio::time::pause()`: what each voter is told, and
//! what the counters and records hold afterwards. The harness is here; the
//! tests are grouped by what they exercise.

mod commits;
mod first_votes;
mod outages;
mod recovery;
mod rounds;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{sleep, Instant};

use crate::consul::fake::{FakeKv, Fault};
use crate::consul::keys::Keys;
use crate::consul::kv::KvEntry;
use crate::consul::records::{sum_counters, Counter, FirstVotes, VoterRecord};
use crate::consul::rounds::{CurrentRound, Seen};
use crate::consul::votes::outage::FAIL_FAST_AFTER;
use crate::consul::votes::{Outage, Shared, VoteLanes, VOTE_DEADLINE};
use crate::domain::{Ballot, BallotRef, PetChoice, Receipt, VoterId, VoterName};
use crate::store::StoreError;

struct Harness {
    kv: Arc<FakeKv>,
    keys: Arc<Keys>,
    lanes: VoteLanes,
    /// What the cluster watcher would tell the lanes.
    outage: Outage,
    /// Each voter's ballot cookie.
    cookies: Mutex<HashMap<VoterId, BallotRef>>,
}

impl Harness {
    fn new(lanes: usize) -> Self {
        let kv = Arc::new(FakeKv::default());
        let keys = Arc::new(Keys::new("t/", "r"));
        // The book every replica makes at start, there before any vote.
        let book = crate::rounds::RoundBook::first(0);
        kv.put(&keys.round_book(), &serde_json::to_vec(&book).unwrap());
        let round = Arc::new(CurrentRound::default());
        round.saw(Seen {
            number: 1,
            index: kv.get(&keys.round_book()).unwrap().modify_index,
        });
        let outage = Outage::default();
        let shared = Shared {
            outage: outage.clone(),
            round,
            ..Shared::default()
        };
        let closing = tokio_util::sync::CancellationToken::new();
        let lanes = VoteLanes::start(kv.clone(), keys.clone(), lanes, shared, closing);
        Self {
            kv,
            keys,
            lanes,
            outage,
            cookies: Mutex::default(),
        }
    }

    /// Votes as a browser would: the place of the voter's first vote, as
    /// its cookie would keep it, goes with every later vote.
    async fn vote(
        &self,
        voter: VoterId,
        choice: PetChoice,
        first: bool,
    ) -> Result<Receipt, StoreError> {
        let first_in = self.cookies.lock().unwrap().get(&voter).copied();
        let receipt = self
            .lanes
            .cast(Ballot {
                voter,
                name: VoterName::parse("Ann").unwrap(),
                choice,
                first_vote: first,
                first_in,
            })
            .await?;
        if let Some(at) = receipt.first_in {
            self.cookies.lock().unwrap().insert(voter, at);
        }
        Ok(receipt)
    }

    /// A first vote for b sent as the quorum goes, in the leader's log:
    /// answered unconfirmed at its deadline. Then `then` is scripted and the
    /// quorum returns, which commits it.
    async fn unconfirmed_b_then_quorum(&self, then: &[Fault]) {
        self.kv.script(&[Fault::HeldUntilQuorum]);
        assert!(unconfirmed(
            self.vote(VoterId::random(), PetChoice::B, true).await
        ));
        self.kv.script(then);
        self.kv.restore_quorum();
    }

    /// Round 1's votes, as every replica sums them.
    fn tally(&self) -> [u64; 3] {
        self.tally_of(1)
    }

    fn tally_of(&self, round: u64) -> [u64; 3] {
        let sums = sum_counters(&self.kv.under(&self.keys.votes()));
        sums.get(&round).copied().unwrap_or_default()
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
            round: 1,
            token: token.into(),
        };
        self.kv.put(
            &self.keys.voter(&voter),
            &serde_json::to_vec(&record).unwrap(),
        );
        let mut delta = [0; 3];
        delta[choice.index()] = 1;
        let counter = Counter::default().moved(1, delta, token);
        self.kv
            .put("t/votes/other/0", &serde_json::to_vec(&counter).unwrap());
    }
}

/// Casts a vote in the background, as another visitor would meanwhile.
fn spawn_vote(
    h: &Arc<Harness>,
    voter: VoterId,
    choice: PetChoice,
    first: bool,
) -> tokio::task::JoinHandle<Result<Receipt, StoreError>> {
    let h = h.clone();
    tokio::spawn(async move { h.vote(voter, choice, first).await })
}

/// Sent, and not settled by the deadline: it may have been recorded.
fn unconfirmed<T>(answer: Result<T, StoreError>) -> bool {
    matches!(answer, Err(StoreError::Unconfirmed(_)))
}

fn failed<T>(answer: Result<T, StoreError>) -> bool {
    matches!(answer, Err(StoreError::Unavailable(_)))
}
