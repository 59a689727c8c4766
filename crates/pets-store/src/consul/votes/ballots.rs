//! Ballots waiting for Consul, and the groups a lane commits together.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::consul::kv::MAX_OPS_PER_TXN;
use crate::consul::records::Previous;
use crate::domain::{Ballot, BallotRef, Receipt, VoterId};
use crate::store::StoreError;

/// Consul takes at most 64 operations in one transaction; one is the
/// check of the round, one the lane's counter and one the group's first
/// votes, and each voter who moves a vote takes one.
pub const MAX_MOVES_PER_TXN: usize = MAX_OPS_PER_TXN - 3;
/// First votes share one record, so they are bounded by its size, not by
/// operations: a voter takes at most about 300 bytes of it (a 64-character
/// name), so 512 stay far below Consul's 512 KiB limit on a value.
pub const MAX_FIRST_VOTES_PER_TXN: usize = 512;
/// How long a voter may wait before being told the vote was not recorded
/// (or, sent and unsettled, not confirmed).
pub const VOTE_DEADLINE: Duration = Duration::from_secs(4);

/// Where a voter's answer goes.
pub type Reply = oneshot::Sender<Result<Receipt, StoreError>>;

/// A ballot waiting for a lane.
pub struct Pending {
    pub ballot: Ballot,
    pub deadline: Instant,
    pub reply: Reply,
}

impl Pending {
    pub fn new(ballot: Ballot, reply: Reply) -> Self {
        Self {
            ballot,
            deadline: Instant::now() + VOTE_DEADLINE,
            reply,
        }
    }

    /// Tells the voter the vote was not recorded (it never was sent).
    pub fn refuse(self) {
        let _ = self.reply.send(Err(StoreError::Unavailable(
            "the vote store is unavailable; the vote was not counted".into(),
        )));
    }
}

/// A failure as a voter is told it: the kind, and the words.
type Said<'a> = (fn(String) -> StoreError, &'a str);

/// One voter in a group: the last ballot wins, every sender is answered.
pub struct Entry {
    pub ballot: Ballot,
    pub replies: Vec<Reply>,
    pub previous: Previous,
}

impl Entry {
    /// How this voter's ballot moves the counts.
    pub fn delta(&self) -> [i64; 3] {
        let mut delta = [0; 3];
        if let Some(previous) = self.previous.choice() {
            delta[previous.index()] -= 1;
        }
        delta[self.ballot.choice.index()] += 1;
        delta
    }
}

/// The sum of `entries`' moves.
pub fn sum_of_moves<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> [i64; 3] {
    let mut sum = [0i64; 3];
    for entry in entries {
        for (s, d) in sum.iter_mut().zip(entry.delta()) {
            *s += d;
        }
    }
    sum
}

/// A group of ballots being committed together.
pub struct Group {
    pub entries: Vec<Entry>,
    /// The earliest deadline of its ballots.
    pub deadline: Instant,
    /// True once the voters were told the outcome.
    pub answered: bool,
}

impl Group {
    /// Takes from `waiting` every ballot whose voter has nothing in flight,
    /// up to one transaction's worth of voters; a voter's later ballots in
    /// the queue replace the earlier (all of them are answered).
    pub fn take(waiting: &mut VecDeque<Pending>, in_flight: &HashSet<VoterId>) -> Self {
        let mut group = Group {
            deadline: Instant::now() + VOTE_DEADLINE,
            entries: Vec::new(),
            answered: false,
        };
        let mut slots: HashMap<VoterId, usize> = HashMap::new();
        let (mut firsts, mut moves) = (0, 0);
        let mut left = VecDeque::with_capacity(waiting.len());
        while let Some(pending) = waiting.pop_front() {
            let (voter, deadline) = (pending.ballot.voter, pending.deadline);
            if in_flight.contains(&voter) {
                left.push_back(pending);
                continue;
            }
            match slots.get(&voter) {
                Some(&slot) => {
                    let entry = &mut group.entries[slot];
                    entry.ballot.name = pending.ballot.name;
                    entry.ballot.choice = pending.ballot.choice;
                    entry.replies.push(pending.reply);
                }
                None if pending.ballot.first_vote && firsts < MAX_FIRST_VOTES_PER_TXN
                    || !pending.ballot.first_vote && moves < MAX_MOVES_PER_TXN =>
                {
                    slots.insert(voter, group.entries.len());
                    let previous = if pending.ballot.first_vote {
                        firsts += 1;
                        Previous::Absent
                    } else {
                        moves += 1;
                        Previous::Unread
                    };
                    group.entries.push(Entry {
                        ballot: pending.ballot,
                        replies: vec![pending.reply],
                        previous,
                    });
                }
                None => {
                    left.push_back(pending);
                    continue;
                }
            }
            group.deadline = group.deadline.min(deadline);
        }
        *waiting = left;
        group
    }

    /// The voters in this group.
    pub fn voters(&self) -> Vec<VoterId> {
        self.entries.iter().map(|e| e.ballot.voter).collect()
    }

    /// How many ballots the group answers (a voter may have sent several).
    pub fn asked(&self) -> usize {
        self.entries.iter().map(|e| e.replies.len()).sum()
    }

    /// The sum of every voter's move.
    pub fn delta(&self) -> [i64; 3] {
        sum_of_moves(&self.entries)
    }

    /// Tells every voter the outcome, once; later calls do nothing. A
    /// commit says the round it counts in, and where the group's first
    /// votes were recorded, if they were recorded together: their voters
    /// keep it.
    pub fn answer(&mut self, outcome: Result<(Option<BallotRef>, u64), &str>) {
        self.tell(outcome.map_err(|m| (StoreError::Unavailable as fn(String) -> StoreError, m)));
    }

    /// Tells every voter, once, that the write was sent and its outcome is
    /// not known: it may have been recorded. Never "not counted", which
    /// only a replica that lives to take it back could make true.
    pub fn unconfirmed(&mut self, message: &str) {
        self.tell(Err((StoreError::Unconfirmed, message)));
    }

    fn tell(&mut self, outcome: Result<(Option<BallotRef>, u64), Said<'_>>) {
        if self.answered {
            return;
        }
        self.answered = true;
        for entry in &mut self.entries {
            let answer = match outcome {
                Ok((first_in, round)) => Ok(Receipt {
                    first_in: first_in.filter(|_| entry.ballot.first_vote),
                    round,
                }),
                Err(said) => Err(said),
            };
            for reply in entry.replies.drain(..) {
                let _ = reply.send(answer.map_err(|(error, m)| error(m.to_owned())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PetChoice, VoterName};

    fn pending(
        voter: VoterId,
        choice: PetChoice,
    ) -> (Pending, oneshot::Receiver<Result<Receipt, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let ballot = Ballot {
            voter,
            name: VoterName::parse("Ann").unwrap(),
            choice,
            first_vote: false,
            first_in: None,
        };
        (Pending::new(ballot, reply), answer)
    }

    #[tokio::test(start_paused = true)]
    async fn a_voters_later_ballot_replaces_the_earlier_and_both_are_answered() {
        let ann = VoterId::random();
        let (first, first_answer) = pending(ann, PetChoice::A);
        let (second, second_answer) = pending(ann, PetChoice::C);
        let mut waiting = VecDeque::from([first, second]);
        let mut group = Group::take(&mut waiting, &HashSet::new());
        assert!(waiting.is_empty());
        assert_eq!(group.entries.len(), 1);
        assert_eq!(group.entries[0].ballot.choice, PetChoice::C);
        assert_eq!(group.delta(), [0, 0, 1]);
        group.answer(Ok((Some(BallotRef::random()), 4)));
        group.answer(Err("ignored: already answered"));
        let moved = Receipt {
            first_in: None,
            round: 4,
        };
        assert_eq!(first_answer.await.unwrap().unwrap(), moved);
        assert_eq!(second_answer.await.unwrap().unwrap(), moved);
    }

    #[tokio::test(start_paused = true)]
    async fn only_first_votes_are_told_where_they_were_recorded() {
        let (mut first, first_answer) = pending(VoterId::random(), PetChoice::A);
        first.ballot.first_vote = true;
        let (moved, moved_answer) = pending(VoterId::random(), PetChoice::B);
        let mut waiting = VecDeque::from([first, moved]);
        let mut group = Group::take(&mut waiting, &HashSet::new());
        assert_eq!(
            group.entries[0].previous,
            Previous::Absent,
            "nothing to read"
        );
        assert_eq!(group.entries[1].previous, Previous::Unread);
        let at = BallotRef::random();
        group.answer(Ok((Some(at), 1)));
        assert_eq!(first_answer.await.unwrap().unwrap().first_in, Some(at));
        assert_eq!(moved_answer.await.unwrap().unwrap().first_in, None);
    }

    #[tokio::test(start_paused = true)]
    async fn voters_in_flight_wait_and_a_group_holds_one_transaction() {
        let busy = VoterId::random();
        let first = |_| {
            let (mut p, _) = pending(VoterId::random(), PetChoice::C);
            p.ballot.first_vote = true;
            p
        };
        let mut waiting: VecDeque<Pending> = (0..MAX_MOVES_PER_TXN + 2)
            .map(|_| pending(VoterId::random(), PetChoice::B).0)
            .chain((0..MAX_FIRST_VOTES_PER_TXN + 1).map(first))
            .collect();
        waiting.push_front(pending(busy, PetChoice::A).0);
        let group = Group::take(&mut waiting, &HashSet::from([busy]));
        assert_eq!(
            group.entries.len(),
            MAX_MOVES_PER_TXN + MAX_FIRST_VOTES_PER_TXN
        );
        assert!(!group.voters().contains(&busy));
        assert_eq!(
            waiting.len(),
            4,
            "the busy voter, two moves and a first vote over the limits wait"
        );
        assert_eq!(waiting[0].ballot.voter, busy, "order is kept");
        let ops = 1 + MAX_MOVES_PER_TXN + 1 + 1;
        assert!(ops <= 64, "Consul's limit on operations");
    }

    #[test]
    fn the_largest_first_votes_record_fits_in_a_consul_value() {
        let mut record = crate::consul::records::FirstVotes::new("0123456789abcdef", 1);
        let name = "\u{1d11e}".repeat(crate::domain::MAX_NAME_CHARS);
        for _ in 0..MAX_FIRST_VOTES_PER_TXN {
            record.add(&VoterId::random(), &name, PetChoice::A);
        }
        let bytes = serde_json::to_vec(&record).unwrap().len();
        // base64 in the transaction's body: 4 bytes for every 3.
        assert!(bytes * 4 / 3 < 512 * 1024 / 2, "{bytes} bytes");
    }

    #[test]
    fn a_moved_vote_takes_one_from_the_old_choice() {
        let (p, _) = pending(VoterId::random(), PetChoice::B);
        let stored = crate::consul::records::Stored {
            index: 3,
            raw: Vec::new(),
            choice: Some(PetChoice::A),
            round: 1,
            token: String::new(),
        };
        let entry = Entry {
            ballot: p.ballot,
            replies: Vec::new(),
            previous: Previous::Record(stored),
        };
        assert_eq!(entry.delta(), [-1, 1, 0]);
    }
}
