//! The embedded store: everything in this process, nothing shared.
//!
//! This is what `pets` runs on with no `DB` configured. Each replica has its
//! own tally, which the pages say in a discreet line.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::clock::{minute_now, unix_millis};
use crate::domain::{Ballot, PetChoice, Receipt, VoterId, VoterKey};
use crate::faults::{FaultCommand, FaultOrder, FaultOrders, FaultTarget};
use crate::fleet::{Fleet, FleetStore, Registration};
use crate::revoked::RevokedSessions;
use crate::rounds::{Round, RoundBook};
use crate::snapshot::{Snapshot, StoreKind, StoreStatus, Tally};
use crate::store::{
    FaultOrderStore, FleetRoster, LabDocument, LabStore, RoundStore, SessionStore, Store,
    StoreError, VoteStore,
};
use crate::sync::Locked;

pub struct MemoryStore {
    ballots: Mutex<Ballots>,
    served: AtomicU64,
    changes: watch::Sender<Snapshot>,
    /// Ended sessions and when they would have expired.
    revoked: RevokedSessions,
    /// Failed logins: the minute and how many in it.
    failures: Mutex<(u64, u64)>,
    /// This replica, once registered, and the votes it recorded.
    me: Mutex<Option<Registration>>,
    recorded: AtomicU64,
    /// The fleet is this replica, so both orders apply to it.
    faults: watch::Sender<FaultOrders>,
    /// This process's own: nobody else signs voters for this store.
    voter_key: VoterKey,
    /// The lab guide's document, once written.
    lab: Mutex<Option<LabDocument>>,
}

/// The most voters the embedded store keeps (about 40 MB of memory): past
/// it, new voters are refused with a message saying to use Consul. With the
/// per-address limit on new voters (`PETS_NEW_VOTERS_PER_MINUTE`), this is
/// what bounds its memory.
pub const MAX_VOTERS: usize = 1_000_000;

/// The current round's voters and votes, and the rounds before.
struct Ballots {
    by_voter: HashMap<VoterId, PetChoice>,
    votes: [u64; 3],
    book: RoundBook,
    /// Each closed round's votes.
    past: BTreeMap<u64, [u64; 3]>,
}

impl MemoryStore {
    pub fn new() -> Self {
        let ballots = Ballots {
            by_voter: HashMap::new(),
            votes: [0; 3],
            book: RoundBook::first(unix_millis()),
            past: BTreeMap::new(),
        };
        Self {
            ballots: Mutex::new(ballots),
            served: AtomicU64::new(0),
            changes: watch::Sender::new(Self::snapshot_of(Tally::default(), 1)),
            revoked: RevokedSessions::default(),
            failures: Mutex::default(),
            me: Mutex::default(),
            recorded: AtomicU64::new(0),
            faults: watch::Sender::new(FaultOrders::default()),
            voter_key: VoterKey::random(),
            lab: Mutex::default(),
        }
    }

    fn snapshot_of(tally: Tally, round: u64) -> Snapshot {
        Snapshot {
            tally,
            round,
            stale: false,
            status: StoreStatus {
                kind: StoreKind::Memory,
                reachable: true,
                ..StoreStatus::default()
            },
        }
    }

    fn tally(&self) -> (Tally, u64) {
        let (votes, round) = {
            let ballots = self.ballots.locked();
            (ballots.votes, ballots.book.number)
        };
        let tally = Tally {
            votes,
            pets_served: self.served.load(Ordering::Relaxed),
        };
        (tally, round)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl VoteStore for MemoryStore {
    async fn cast_vote(&self, ballot: Ballot) -> Result<Receipt, StoreError> {
        let round = {
            let mut ballots = self.ballots.locked();
            if ballots.by_voter.len() >= MAX_VOTERS && !ballots.by_voter.contains_key(&ballot.voter)
            {
                return Err(StoreError::Unavailable(format!(
                    "the embedded store holds {MAX_VOTERS} voters, its most; \
                     a store for more is Consul (set DB)"
                )));
            }
            if let Some(previous) = ballots.by_voter.insert(ballot.voter, ballot.choice) {
                ballots.votes[previous.index()] -= 1;
            }
            ballots.votes[ballot.choice.index()] += 1;
            ballots.book.number
        };
        self.recorded.fetch_add(1, Ordering::Relaxed);
        self.changes.send_replace(self.snapshot());
        Ok(Receipt {
            first_in: None,
            round,
        })
    }

    async fn voter_key(&self) -> Result<VoterKey, StoreError> {
        Ok(self.voter_key.clone())
    }

    fn count_pet_served(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    fn pets_served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    fn current_round(&self) -> u64 {
        self.ballots.locked().book.number
    }

    async fn read(&self) -> Snapshot {
        self.snapshot()
    }

    fn snapshot(&self) -> Snapshot {
        let (tally, round) = self.tally();
        Self::snapshot_of(tally, round)
    }

    fn changes(&self) -> watch::Receiver<Snapshot> {
        self.changes.subscribe()
    }
}

#[async_trait]
impl RoundStore for MemoryStore {
    async fn close_round(
        &self,
        number: Option<u64>,
        names: [String; 3],
    ) -> Result<Round, StoreError> {
        let closed = {
            let mut ballots = self.ballots.locked();
            let current = ballots.book.number;
            if let Some(number) = number.filter(|&n| n != current) {
                return Err(StoreError::Conflict(format!(
                    "round {number} is not in progress; round {current} is"
                )));
            }
            let served = self.served.load(Ordering::Relaxed);
            let next = ballots
                .book
                .closed_at(unix_millis(), names.clone(), served)
                .map_err(StoreError::Conflict)?;
            let votes = std::mem::take(&mut ballots.votes);
            ballots.past.insert(current, votes);
            ballots.by_voter.clear();
            ballots.book = next;
            current
        };
        self.changes.send_replace(self.snapshot());
        self.rounds(&names)
            .into_iter()
            .find(|r| r.number == closed)
            .ok_or_else(|| StoreError::Unavailable(format!("round {closed} was not kept")))
    }

    fn rounds(&self, names: &[String; 3]) -> Vec<Round> {
        let ballots = self.ballots.locked();
        let mut counts = ballots.past.clone();
        counts.insert(ballots.book.number, ballots.votes);
        ballots
            .book
            .rounds(&counts, names, self.served.load(Ordering::Relaxed))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn revoke_session(&self, id: &str, until: u64) -> Result<(), StoreError> {
        self.revoked.revoke(id, until);
        Ok(())
    }

    fn session_revoked(&self, id: &str) -> bool {
        self.revoked.is_revoked(id)
    }

    async fn login_failed(&self) {
        let mut failures = self.failures.locked();
        let minute = minute_now();
        if failures.0 != minute {
            *failures = (minute, 0);
        }
        failures.1 += 1;
    }

    fn login_failures(&self) -> u64 {
        let failures = self.failures.locked();
        if failures.0 == minute_now() {
            failures.1
        } else {
            0
        }
    }
}

impl FleetRoster for MemoryStore {
    fn register(&self, registration: Registration) {
        *self.me.locked() = Some(registration);
    }

    /// The fleet is this process alone.
    fn fleet(&self) -> Fleet {
        let me = self.me.locked();
        Fleet {
            replicas: me
                .iter()
                .map(|r| r.record(self.pets_served(), self.recorded.load(Ordering::Relaxed), 0))
                .collect(),
            store: FleetStore {
                kind: StoreKind::Memory,
                quorum: Some(true),
                ..FleetStore::default()
            },
        }
    }
}

#[async_trait]
impl FaultOrderStore for MemoryStore {
    async fn order_faults(
        &self,
        target: &FaultTarget,
        command: &FaultCommand,
    ) -> Result<(), StoreError> {
        let own_id = self.me.locked().as_ref().map(|r| r.identity.id.clone());
        let now = crate::clock::unix_millis();
        let mut found = true;
        self.faults.send_modify(|orders| {
            let slot = match target {
                FaultTarget::Fleet => &mut orders.fleet,
                FaultTarget::Replica(id) if Some(id) == own_id.as_ref() => &mut orders.own,
                FaultTarget::Replica(_) => {
                    found = false;
                    return;
                }
            };
            *slot = Some(FaultOrder::next(slot.as_ref(), command, now));
        });
        if found {
            Ok(())
        } else {
            Err(StoreError::NoSuchReplica)
        }
    }

    fn fault_orders(&self) -> watch::Receiver<FaultOrders> {
        self.faults.subscribe()
    }
}

#[async_trait]
impl LabStore for MemoryStore {
    async fn lab_read(&self) -> Result<Option<LabDocument>, StoreError> {
        Ok(self.lab.locked().clone())
    }

    async fn lab_write(&self, replaces: u64, json: String) -> Result<Option<u64>, StoreError> {
        let mut lab = self.lab.locked();
        let version = lab.as_ref().map_or(0, |d| d.version);
        if version != replaces {
            return Ok(None);
        }
        *lab = Some(LabDocument {
            version: version + 1,
            json,
        });
        Ok(Some(version + 1))
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Memory
    }

    fn describe(&self) -> String {
        "embedded in-memory store (this replica only; set DB to share votes)".into()
    }

    async fn shutdown(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::unix_now;
    use crate::domain::VoterName;

    fn ballot(voter: VoterId, choice: PetChoice) -> Ballot {
        Ballot {
            voter,
            name: VoterName::parse("Ann").unwrap(),
            choice,
            first_vote: false,
            first_in: None,
        }
    }

    #[tokio::test]
    async fn a_second_vote_moves_the_first() {
        let store = MemoryStore::new();
        let ann = VoterId::random();
        store.cast_vote(ballot(ann, PetChoice::A)).await.unwrap();
        store.cast_vote(ballot(ann, PetChoice::C)).await.unwrap();
        store
            .cast_vote(ballot(VoterId::random(), PetChoice::C))
            .await
            .unwrap();
        assert_eq!(store.read().await.tally.votes, [0, 0, 2]);
        assert_eq!(store.changes().borrow().tally.votes, [0, 0, 2]);
    }

    #[tokio::test]
    async fn a_closed_round_keeps_its_votes_and_everyone_votes_again() {
        let store = MemoryStore::new();
        let names: [String; 3] = ["Cats".into(), "Dogs".into(), "Whales".into()];
        let ann = VoterId::random();
        store.cast_vote(ballot(ann, PetChoice::A)).await.unwrap();
        store.count_pet_served();
        let closed = store.close_round(None, names.clone()).await.unwrap();
        assert_eq!(
            (closed.number, closed.voters, closed.pets_served),
            (1, 1, 1)
        );
        assert_eq!(store.snapshot().round, 2);
        assert_eq!(store.snapshot().tally.votes, [0, 0, 0]);
        let receipt = store.cast_vote(ballot(ann, PetChoice::B)).await.unwrap();
        assert_eq!(receipt.round, 2);
        assert_eq!(
            store.snapshot().tally.votes,
            [0, 1, 0],
            "a new vote, none moved"
        );
        let stale = store.close_round(Some(1), names.clone()).await;
        assert!(matches!(stale, Err(StoreError::Conflict(_))));
        let rounds = store.rounds(&names);
        assert_eq!(rounds.len(), 2);
        assert_eq!(rounds[0].options[0].votes, 1);
        assert_eq!(rounds[1].options[1].votes, 1);
        assert!(rounds[1].in_progress());
    }

    #[tokio::test]
    async fn ended_sessions_and_failed_logins_are_remembered() {
        let store = MemoryStore::new();
        store.revoke_session("abc", unix_now() + 60).await.unwrap();
        store.revoke_session("old", unix_now() - 1).await.unwrap();
        assert!(store.session_revoked("abc"));
        assert!(!store.session_revoked("old"), "past its expiry anyway");
        assert!(!store.session_revoked("other"));
        store.login_failed().await;
        store.login_failed().await;
        assert_eq!(store.login_failures(), 2);
    }
}
