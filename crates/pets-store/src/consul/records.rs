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

/// A vote lane's counter, `votes/<replica>/<lane>`: the votes this lane
/// moved. Values may be negative (a lane can move votes it did not add).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counter {
    /// The key's ModifyIndex when read or written; not stored.
    #[serde(skip)]
    pub index: u64,
    pub a: i64,
    pub b: i64,
    pub c: i64,
    /// The transaction that wrote this value.
    pub token: String,
}

impl Counter {
    /// This counter moved by `delta`, as written by the write `token`.
    pub fn moved(&self, delta: [i64; 3], token: &str) -> Self {
        Self {
            index: self.index,
            a: self.a + delta[0],
            b: self.b + delta[1],
            c: self.c + delta[2],
            token: token.to_owned(),
        }
    }

    pub fn from_entry(entry: &KvEntry) -> Option<Self> {
        let mut counter: Counter = serde_json::from_slice(&entry.bytes()).ok()?;
        counter.index = entry.modify_index;
        Some(counter)
    }

    pub fn counts(&self) -> [i64; 3] {
        [self.a, self.b, self.c]
    }
}

/// Sums every lane counter under `votes/`.
pub fn sum_counters(entries: &[KvEntry]) -> [u64; 3] {
    let mut sum = [0i64; 3];
    for counter in entries.iter().filter_map(Counter::from_entry) {
        for (s, c) in sum.iter_mut().zip(counter.counts()) {
            *s += c;
        }
    }
    sum.map(|v| v.max(0) as u64)
}

/// A voter's record, `voters/<id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoterRecord {
    pub name: String,
    pub vote: String,
    /// The transaction that wrote it.
    pub token: String,
}

/// First votes committed together, `ballots/<ref>`: written once, by the
/// write `token` (the ref's own spelling), and never changed. A voter with
/// no record of its own has the vote it holds here.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FirstVotes {
    pub token: String,
    /// Voter id -> `[name, vote]`.
    pub voters: BTreeMap<String, [String; 2]>,
}

impl FirstVotes {
    pub fn new(token: &str) -> Self {
        Self {
            token: token.to_owned(),
            voters: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, voter: &VoterId, name: &str, choice: PetChoice) {
        self.voters
            .insert(voter.to_string(), [name.to_owned(), choice.id().to_owned()]);
    }

    /// The first vote `voter` cast, if the record `raw` holds it.
    pub fn choice_of(raw: &[u8], voter: &VoterId) -> Option<PetChoice> {
        let record: FirstVotes = serde_json::from_slice(raw).ok()?;
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
    pub token: String,
}

/// What every record says of itself: the write that made it, and the vote
/// (a voter's record only).
#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    vote: String,
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
    /// The record as read.
    Record(Stored),
}

impl Previous {
    /// The index a check-and-set against this must expect (0: absent).
    pub fn index(&self) -> u64 {
        match self {
            Self::Record(stored) => stored.index,
            Self::Unread | Self::Absent | Self::First(_) => 0,
        }
    }

    /// The vote this record holds, if any.
    pub fn choice(&self) -> Option<PetChoice> {
        match self {
            Self::Record(stored) => stored.choice,
            Self::First(choice) => Some(*choice),
            Self::Unread | Self::Absent => None,
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
    fn counters_sum_and_never_go_below_zero() {
        let entry =
            |key: &str, c: &Counter| KvEntry::new(key.into(), &serde_json::to_vec(c).unwrap(), 1);
        let one = Counter::default().moved([2, -1, 0], "t1");
        let two = Counter::default().moved([1, 0, 3], "t2");
        let junk = KvEntry::new("x".into(), b"not json", 1);
        assert_eq!(
            sum_counters(&[entry("1", &one), entry("2", &two), junk]),
            [3, 0, 3]
        );
    }

    #[test]
    fn a_voter_record_reads_back_its_choice_and_token() {
        let record = VoterRecord {
            name: "Ann".into(),
            vote: "b".into(),
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
        let mut first = FirstVotes::new("t");
        first.add(&ann, "Ann", PetChoice::C);
        let entry = KvEntry::new("k".into(), &serde_json::to_vec(&first).unwrap(), 4);
        let raw = entry.bytes();
        assert_eq!(FirstVotes::choice_of(&raw, &ann), Some(PetChoice::C));
        assert_eq!(FirstVotes::choice_of(&raw, &bob), None);
        assert_eq!(FirstVotes::choice_of(b"junk", &ann), None);
        let stored = Stored::from_entry(&entry);
        assert_eq!((stored.token.as_str(), stored.choice), ("t", None));
        let previous = Previous::First(PetChoice::C);
        assert_eq!(
            (previous.index(), previous.choice()),
            (0, Some(PetChoice::C))
        );
    }
}
