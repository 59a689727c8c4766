//! The values pets keeps in Consul, as they are on the wire.
//!
//! Every value carries the token of the write that made it, so a write whose
//! outcome was unknown can be recognised later ([`new_token`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::consul::kv::KvEntry;
use crate::domain::{PetChoice, VoterId};

/// A random token naming one write, so its outcome can be recognised.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// Votes by round: each round's `[a, b, c]`. On the wire
/// `{"rounds":{"1":[a,b,c]}}`; a value written before rounds existed,
/// `{"a","b","c"}`, holds round 1's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RoundCountsWire", into = "RoundCountsWire")]
pub struct RoundCounts(pub BTreeMap<u64, [i64; 3]>);

#[derive(Serialize, Deserialize)]
struct RoundCountsWire {
    #[serde(default, skip_serializing_if = "is_zero")]
    a: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    b: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    c: i64,
    /// Round numbers as text: JSON's keys are, and a flattened map's keys
    /// reach serde only as text.
    #[serde(default)]
    rounds: BTreeMap<String, [i64; 3]>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl From<RoundCountsWire> for RoundCounts {
    fn from(wire: RoundCountsWire) -> Self {
        let mut rounds: BTreeMap<u64, [i64; 3]> = wire
            .rounds
            .into_iter()
            .filter_map(|(round, counts)| Some((round.parse().ok()?, counts)))
            .collect();
        if [wire.a, wire.b, wire.c] != [0; 3] {
            let first = rounds.entry(1).or_default();
            for (s, c) in first.iter_mut().zip([wire.a, wire.b, wire.c]) {
                *s += c;
            }
        }
        Self(rounds)
    }
}

impl From<RoundCounts> for RoundCountsWire {
    fn from(counts: RoundCounts) -> Self {
        Self {
            a: 0,
            b: 0,
            c: 0,
            rounds: counts
                .0
                .into_iter()
                .map(|(round, counts)| (round.to_string(), counts))
                .collect(),
        }
    }
}

impl RoundCounts {
    /// These counts with round `round`'s moved by `delta`.
    pub fn moved(&self, round: u64, delta: [i64; 3]) -> Self {
        let mut next = self.clone();
        if delta != [0; 3] {
            let counts = next.0.entry(round).or_default();
            for (s, d) in counts.iter_mut().zip(delta) {
                *s += d;
            }
        }
        next
    }

    /// Adds every round of `other` to these.
    pub fn add(&mut self, other: &RoundCounts) {
        for (&round, &delta) in &other.0 {
            *self = self.moved(round, delta);
        }
    }
}

/// A vote lane's counter, `votes/<replica>/<lane>`: the votes this lane
/// moved, by round. Values may be negative (a lane can move votes it did
/// not add).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counter {
    /// The key's ModifyIndex when read or written; not stored.
    #[serde(skip)]
    pub index: u64,
    #[serde(flatten)]
    pub counts: RoundCounts,
    /// The transaction that wrote this value.
    pub token: String,
}

impl Counter {
    /// This counter with round `round` moved by `delta`, as written by the
    /// write `token`.
    pub fn moved(&self, round: u64, delta: [i64; 3], token: &str) -> Self {
        Self {
            index: self.index,
            counts: self.counts.moved(round, delta),
            token: token.to_owned(),
        }
    }

    pub fn from_entry(entry: &KvEntry) -> Option<Self> {
        let mut counter: Counter = serde_json::from_slice(&entry.bytes()).ok()?;
        counter.index = entry.modify_index;
        Some(counter)
    }
}

/// Sums every lane counter in `entries` (those under `votes/`), by round;
/// a round's sum never goes below zero.
pub fn sum_counters(entries: &[KvEntry]) -> BTreeMap<u64, [u64; 3]> {
    let mut sum = RoundCounts::default();
    for counter in entries.iter().filter_map(Counter::from_entry) {
        sum.add(&counter.counts);
    }
    sum.0
        .into_iter()
        .map(|(round, counts)| (round, counts.map(|v| v.max(0) as u64)))
        .collect()
}

/// A voter's record, `voters/<id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoterRecord {
    pub name: String,
    pub vote: String,
    /// The round the vote is in: a record from an earlier round holds no
    /// vote in this one.
    #[serde(default = "round_one")]
    pub round: u64,
    /// The transaction that wrote it.
    pub token: String,
}

/// The round of a value written before rounds existed.
fn round_one() -> u64 {
    1
}

/// First votes committed together, `ballots/<ref>`: written once, by the
/// write `token` (the ref's own spelling), and never changed. A voter with
/// no record of its own has the vote it holds here.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FirstVotes {
    pub token: String,
    /// The round these votes are in.
    #[serde(default = "round_one")]
    pub round: u64,
    /// Voter id -> `[name, vote]`.
    pub voters: BTreeMap<String, [String; 2]>,
}

impl FirstVotes {
    pub fn new(token: &str, round: u64) -> Self {
        Self {
            token: token.to_owned(),
            round,
            voters: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, voter: &VoterId, name: &str, choice: PetChoice) {
        self.voters
            .insert(voter.to_string(), [name.to_owned(), choice.id().to_owned()]);
    }

    /// The first vote `voter` cast in round `round`, if the record `raw`
    /// holds it.
    pub fn choice_of(raw: &[u8], voter: &VoterId, round: u64) -> Option<PetChoice> {
        let record: FirstVotes = serde_json::from_slice(raw).ok()?;
        if record.round != round {
            return None;
        }
        let [_, vote] = record.voters.get(&voter.to_string())?;
        PetChoice::parse(vote).ok()
    }
}

/// A record as read, a voter's or a group's first votes: its raw value (to
/// restore it), its index, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub index: u64,
    pub raw: Vec<u8>,
    pub choice: Option<PetChoice>,
    /// The round its vote is in.
    pub round: u64,
    pub token: String,
}

/// What every record says of itself: the write that made it, and the vote
/// (a voter's record only).
#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    vote: String,
    #[serde(default = "round_one")]
    round: u64,
    #[serde(default)]
    token: String,
}

impl Stored {
    pub fn from_entry(entry: &KvEntry) -> Self {
        let raw = entry.bytes();
        let head: Option<Head> = serde_json::from_slice(&raw).ok();
        Self {
            index: entry.modify_index,
            choice: head.as_ref().and_then(|r| PetChoice::parse(&r.vote).ok()),
            round: head.as_ref().map_or(1, |r| r.round),
            token: head.map(|r| r.token).unwrap_or_default(),
            raw,
        }
    }
}

/// What is known of a voter's record before a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Previous {
    /// Not read yet (or read before a write that failed its check).
    Unread,
    /// There is no record: a first vote.
    Absent,
    /// No record of its own: its first vote, recorded with others, is this.
    First(PetChoice),
    /// The record as read, its vote in this round.
    Record(Stored),
    /// The voter's record, from an earlier round: no vote to move, but the
    /// record is overwritten (check-and-set against it).
    Earlier(Stored),
}

impl Previous {
    /// A voter's own record, as it stands in round `round`.
    pub fn of_record(stored: Stored, round: u64) -> Self {
        if stored.round == round {
            Self::Record(stored)
        } else {
            Self::Earlier(stored)
        }
    }

    /// The index a check-and-set against this must expect (0: absent).
    pub fn index(&self) -> u64 {
        match self {
            Self::Record(stored) | Self::Earlier(stored) => stored.index,
            Self::Unread | Self::Absent | Self::First(_) => 0,
        }
    }

    /// The vote this record holds, if any.
    pub fn choice(&self) -> Option<PetChoice> {
        match self {
            Self::Record(stored) => stored.choice,
            Self::First(choice) => Some(*choice),
            Self::Unread | Self::Absent | Self::Earlier(_) => None,
        }
    }
}

/// A replica's pets-served counter, `served/<replica>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServedValue {
    pub n: u64,
    #[serde(default)]
    pub token: String,
}

impl ServedValue {
    pub fn from_entry(entry: &KvEntry) -> Option<Self> {
        serde_json::from_slice(&entry.bytes()).ok()
    }
}

/// An ended admin session, `sessions/<id>`: refused until it would have
/// expired anyway.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Revoked {
    pub until: u64,
}

/// A replica's failed admin logins in one minute, `logins/<replica>`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoginFailures {
    pub minute: u64,
    pub n: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_by_round_and_never_go_below_zero() {
        let entry =
            |key: &str, c: &Counter| KvEntry::new(key.into(), &serde_json::to_vec(c).unwrap(), 1);
        let one = Counter::default().moved(1, [2, -1, 0], "t1");
        let two = Counter::default()
            .moved(1, [1, 0, 3], "t2")
            .moved(2, [0, 1, 0], "t3");
        let junk = KvEntry::new("x".into(), b"not json", 1);
        let sums = sum_counters(&[entry("1", &one), entry("2", &two), junk]);
        assert_eq!(sums, BTreeMap::from([(1, [3, 0, 3]), (2, [0, 1, 0])]));
    }

    #[test]
    fn a_counter_from_before_rounds_is_round_ones() {
        let old = KvEntry::new("k".into(), br#"{"a":2,"b":0,"c":-1,"token":"t"}"#, 7);
        let counter = Counter::from_entry(&old).unwrap();
        assert_eq!((counter.counts.0[&1], counter.index), ([2, 0, -1], 7));
        let moved = counter.moved(3, [0, 1, 0], "u");
        let json = serde_json::to_string(&moved).unwrap();
        assert_eq!(json, r#"{"rounds":{"1":[2,0,-1],"3":[0,1,0]},"token":"u"}"#);
        let back = Counter::from_entry(&KvEntry::new("k".into(), json.as_bytes(), 8)).unwrap();
        assert_eq!(back.counts, moved.counts);
        let record = br#"{"name":"Ann","vote":"b","token":"t"}"#;
        let stored = Stored::from_entry(&KvEntry::new("k".into(), record, 3));
        assert_eq!(stored.round, 1);
        assert!(matches!(
            Previous::of_record(stored.clone(), 1),
            Previous::Record(_)
        ));
        let earlier = Previous::of_record(stored, 2);
        assert_eq!((earlier.index(), earlier.choice()), (3, None));
    }

    #[test]
    fn a_voter_record_reads_back_its_choice_and_token() {
        let record = VoterRecord {
            name: "Ann".into(),
            vote: "b".into(),
            round: 1,
            token: "t".into(),
        };
        let stored = Stored::from_entry(&KvEntry::new(
            "k".into(),
            &serde_json::to_vec(&record).unwrap(),
            9,
        ));
        assert_eq!(stored.choice, Some(PetChoice::B));
        assert_eq!((stored.index, stored.token.as_str()), (9, "t"));
        let previous = Previous::Record(stored);
        assert_eq!(
            (previous.index(), previous.choice()),
            (9, Some(PetChoice::B))
        );
        assert_eq!(
            (Previous::Absent.index(), Previous::Absent.choice()),
            (0, None)
        );
    }

    #[test]
    fn first_votes_say_each_voters_choice_and_their_write() {
        let (ann, bob) = (VoterId::random(), VoterId::random());
        let mut first = FirstVotes::new("t", 2);
        first.add(&ann, "Ann", PetChoice::C);
        let entry = KvEntry::new("k".into(), &serde_json::to_vec(&first).unwrap(), 4);
        let raw = entry.bytes();
        assert_eq!(FirstVotes::choice_of(&raw, &ann, 2), Some(PetChoice::C));
        assert_eq!(FirstVotes::choice_of(&raw, &ann, 3), None, "another round");
        assert_eq!(FirstVotes::choice_of(&raw, &bob, 2), None);
        assert_eq!(FirstVotes::choice_of(b"junk", &ann, 2), None);
        let stored = Stored::from_entry(&entry);
        assert_eq!((stored.token.as_str(), stored.choice), ("t", None));
        let previous = Previous::First(PetChoice::C);
        assert_eq!(
            (previous.index(), previous.choice()),
            (0, Some(PetChoice::C))
        );
    }
}
