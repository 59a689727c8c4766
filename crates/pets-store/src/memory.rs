//! The embedded store: everything in this process, nothing shared.
//!
//! This is what `pets` runs on with no `DB` configured. Each replica has its
//! own tally, which the pages say in a discreet line.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::domain::{Ballot, PetChoice, VoterId};
use crate::store::{Store, StoreError, StoreStatus, Tally};

pub struct MemoryStore {
    ballots: Mutex<Ballots>,
    served: AtomicU64,
    changes: watch::Sender<Tally>,
}

#[derive(Default)]
struct Ballots {
    by_voter: HashMap<VoterId, PetChoice>,
    votes: [u64; 3],
}

impl MemoryStore {
    pub fn new() -> Self {
        Self {
            ballots: Mutex::default(),
            served: AtomicU64::new(0),
            changes: watch::Sender::new(Tally::default()),
        }
    }

    fn snapshot(&self) -> Tally {
        let votes = self.ballots.lock().unwrap_or_else(|e| e.into_inner()).votes;
        Tally {
            votes,
            pets_served: self.served.load(Ordering::Relaxed),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn cast_vote(&self, ballot: Ballot) -> Result<(), StoreError> {
        {
            let mut ballots = self.ballots.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(previous) = ballots.by_voter.insert(ballot.voter, ballot.choice) {
                ballots.votes[previous.index()] -= 1;
            }
            ballots.votes[ballot.choice.index()] += 1;
        }
        self.changes.send_replace(self.snapshot());
        Ok(())
    }

    fn count_pet_served(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    fn pets_served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    async fn tally(&self) -> Result<Tally, StoreError> {
        Ok(self.snapshot())
    }

    fn subscribe(&self) -> watch::Receiver<Tally> {
        self.changes.send_replace(self.snapshot());
        self.changes.subscribe()
    }

    fn status(&self) -> StoreStatus {
        StoreStatus {
            kind: "memory",
            reachable: true,
            ..StoreStatus::default()
        }
    }

    fn describe(&self) -> String {
        "embedded in-memory store (this replica only; set DB to share votes)".into()
    }

    async fn shutdown(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::VoterName;

    fn ballot(voter: VoterId, choice: PetChoice) -> Ballot {
        Ballot {
            voter,
            name: VoterName::parse("Ann").unwrap(),
            choice,
            first_vote: false,
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
        assert_eq!(store.tally().await.unwrap().votes, [0, 0, 2]);
    }
}
