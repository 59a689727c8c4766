//! Rounds: the votes of one session of a room, closed, kept and started
//! again.
//!
//! Every vote belongs to exactly one round, the one current when the store
//! committed it. Closing a round keeps its results (a [`ClosedRound`] in the
//! [`RoundBook`]) and starts the next at zero; every voter may vote again
//! in it. A store keeps the book and the counts by round; the console lists
//! every round as a [`Round`] and exports one as CSV or JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::PetChoice;

/// The most rounds a store keeps: the book is one Consul value (512 KiB at
/// most), and a closed round takes about 200 bytes of it.
pub const MAX_ROUNDS: usize = 1000;

/// One round closed: when it ran, what the options were called then, and
/// the pets served in it as the replica that closed it counted them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedRound {
    pub number: u64,
    /// Unix milliseconds.
    pub started_at: u64,
    pub ended_at: u64,
    pub names: [String; 3],
    pub pets_served: u64,
}

/// The rounds so far: the current one's number and start, and every closed
/// one. A store without one is in round 1, started when it began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundBook {
    pub number: u64,
    /// Unix milliseconds.
    pub started_at: u64,
    /// Pets served across the fleet when this round started.
    #[serde(default)]
    pub served_at_start: u64,
    #[serde(default)]
    pub closed: Vec<ClosedRound>,
}

impl RoundBook {
    /// Round 1, started at `now` (Unix milliseconds).
    pub fn first(now: u64) -> Self {
        Self {
            number: 1,
            started_at: now,
            served_at_start: 0,
            closed: Vec::new(),
        }
    }

    /// The book once the current round is closed at `now` with the option
    /// `names`, `served` pets served so far across the fleet. An error says
    /// why it cannot be (the book is full).
    pub fn closed_at(&self, now: u64, names: [String; 3], served: u64) -> Result<Self, String> {
        if self.closed.len() + 1 >= MAX_ROUNDS {
            return Err(format!(
                "{MAX_ROUNDS} rounds is the most a store keeps; start a new store (another PETS_KV_PREFIX) for more"
            ));
        }
        let mut next = self.clone();
        next.closed.push(ClosedRound {
            number: self.number,
            started_at: self.started_at,
            ended_at: now.max(self.started_at),
            names,
            pets_served: served.saturating_sub(self.served_at_start),
        });
        next.number += 1;
        next.started_at = now.max(self.started_at);
        next.served_at_start = served.max(self.served_at_start);
        Ok(next)
    }

    /// Every round, the closed ones and then the current, with their votes
    /// from `votes` (by round number), the current one's options called
    /// `names` and `served` pets served so far across the fleet.
    pub fn rounds(
        &self,
        votes: &BTreeMap<u64, [u64; 3]>,
        names: &[String; 3],
        served: u64,
    ) -> Vec<Round> {
        let counts = |n: u64| votes.get(&n).copied().unwrap_or_default();
        let mut rounds: Vec<Round> = self
            .closed
            .iter()
            .map(|c| Round::new(c.number, &c.names, counts(c.number), c.pets_served))
            .zip(&self.closed)
            .map(|(round, c)| round.between(c.started_at, Some(c.ended_at)))
            .collect();
        let current = Round::new(
            self.number,
            names,
            counts(self.number),
            served.saturating_sub(self.served_at_start),
        );
        rounds.push(current.between(self.started_at, None));
        rounds
    }
}

/// One option's result in a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoundOption {
    pub id: &'static str,
    pub name: String,
    pub votes: u64,
}

/// A round as the console lists and exports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Round {
    /// From 1.
    pub number: u64,
    pub options: Vec<RoundOption>,
    /// Voters who voted in it: each has exactly one vote there.
    pub voters: u64,
    pub pets_served: u64,
    /// Unix milliseconds; `ended_at` is `None` for the round in progress.
    pub started_at: u64,
    pub ended_at: Option<u64>,
}

impl Round {
    fn new(number: u64, names: &[String; 3], votes: [u64; 3], pets_served: u64) -> Self {
        let options = PetChoice::ALL
            .iter()
            .map(|&c| RoundOption {
                id: c.id(),
                name: names[c.index()].clone(),
                votes: votes[c.index()],
            })
            .collect();
        Self {
            number,
            options,
            voters: votes.iter().sum(),
            pets_served,
            started_at: 0,
            ended_at: None,
        }
    }

    fn between(self, started_at: u64, ended_at: Option<u64>) -> Self {
        Self {
            started_at,
            ended_at,
            ..self
        }
    }

    /// Whether it is still going on.
    pub fn in_progress(&self) -> bool {
        self.ended_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> [String; 3] {
        ["Cats".into(), "Dogs".into(), "Whales".into()]
    }

    #[test]
    fn closing_keeps_the_round_and_starts_the_next_at_zero() {
        let book = RoundBook::first(1_000);
        let next = book.closed_at(5_000, names(), 40).unwrap();
        assert_eq!(
            (next.number, next.started_at, next.served_at_start),
            (2, 5_000, 40)
        );
        let votes = BTreeMap::from([(1, [3, 1, 0]), (2, [0, 0, 2])]);
        let later = ["Cats".into(), "Dogs".into(), "Owls".into()];
        let rounds = next.rounds(&votes, &later, 52);
        assert_eq!(rounds.len(), 2);
        let (first, second) = (&rounds[0], &rounds[1]);
        assert_eq!((first.number, first.voters, first.pets_served), (1, 4, 40));
        assert_eq!((first.started_at, first.ended_at), (1_000, Some(5_000)));
        assert_eq!(first.options[2].name, "Whales", "the names it had then");
        assert_eq!(
            (second.number, second.voters, second.pets_served),
            (2, 2, 12)
        );
        assert!(second.in_progress() && !first.in_progress());
        assert_eq!(second.options[2].name, "Owls");
        assert_eq!(second.options[2].votes, 2);
    }

    #[test]
    fn the_book_is_bounded_and_reads_back() {
        let mut book = RoundBook::first(0);
        for i in 1..MAX_ROUNDS as u64 {
            book = book.closed_at(i, names(), 0).unwrap();
        }
        assert!(book
            .closed_at(0, names(), 0)
            .unwrap_err()
            .contains("1000 rounds"));
        let bytes = serde_json::to_vec(&book).unwrap();
        assert!(bytes.len() < 512 * 1024 / 2, "{} bytes", bytes.len());
        assert_eq!(serde_json::from_slice::<RoundBook>(&bytes).unwrap(), book);
    }
}
