//! Domain types that are valid by construction.
//!
//! Input from the network is parsed into these once, in the web layer; past
//! that point no code can hold an over-long name, an unknown option or a voter
//! id that could be mistaken for a storage key.

use std::fmt;

/// The longest name a voter may give, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A voter's display name: trimmed, 1 to 64 characters, no control characters.
///
/// It is data only. Stores keep it inside a value, never inside a key, so a
/// name such as `hits` or `../votes` cannot reach another record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterName(String);

impl VoterName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("Please enter a name to vote with.".into());
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(format!(
                "Names are at most {MAX_NAME_CHARS} characters long."
            ));
        }
        if name.chars().any(char::is_control) {
            return Err("Names cannot contain control characters.".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One of the three pets on the ballot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PetChoice {
    A,
    B,
    C,
}

impl PetChoice {
    pub const ALL: [PetChoice; 3] = [PetChoice::A, PetChoice::B, PetChoice::C];

    /// Parses the form and cookie spelling: `a`, `b` or `c`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "a" => Ok(Self::A),
            "b" => Ok(Self::B),
            "c" => Ok(Self::C),
            "" => Err("Please choose a pet.".into()),
            _ => Err("That pet is not on the ballot.".into()),
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Self::A => "a",
            Self::B => "b",
            Self::C => "c",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for PetChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A voter's identity: 128 random bits, kept in the voter's cookie.
///
/// Written as 32 lowercase hex digits, which makes it safe to use inside a
/// storage key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VoterId([u8; 16]);

impl VoterId {
    pub fn random() -> Self {
        Self(rand::random())
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        lower_hex(raw)
            .map(Self)
            .ok_or_else(|| "not a voter id".into())
    }
}

impl fmt::Display for VoterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// The secret every replica signs voter ids with, so a cookie naming an id
/// pets never issued is told apart from a real voter's before it reaches
/// the store. Kept by the store (shared through Consul, or this process's
/// own with the embedded store); `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct VoterKey(pub [u8; 32]);

impl VoterKey {
    pub fn random() -> Self {
        Self(rand::random())
    }
}

impl fmt::Debug for VoterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VoterKey(..)")
    }
}

/// Where a voter's first vote was recorded together with others' first
/// votes: 64 random bits, kept in the voter's cookie, so a later vote knows
/// where to find the vote it moves.
///
/// Written as 16 lowercase hex digits, which makes it safe to use inside a
/// storage key (and no prefix of another).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BallotRef([u8; 8]);

impl BallotRef {
    pub fn random() -> Self {
        Self(rand::random())
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        lower_hex(raw)
            .map(Self)
            .ok_or_else(|| "not a ballot reference".into())
    }
}

impl fmt::Display for BallotRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// `raw` as exactly `N` bytes in lowercase hex, the one spelling ids have.
fn lower_hex<const N: usize>(raw: &str) -> Option<[u8; N]> {
    let lower = raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if raw.len() != N * 2 || !lower {
        return None;
    }
    let mut bytes = [0u8; N];
    hex::decode_to_slice(raw, &mut bytes).ok()?;
    Some(bytes)
}

/// A vote to record: who, under which name, for which pet.
///
/// `first_vote` is true when the voter id was minted for this very request,
/// so no earlier record can exist and none needs to be read. `first_in` is
/// where the voter's first vote was recorded, as the voter's cookie says
/// (a store that groups first votes uses it to find the vote being moved).
#[derive(Debug, Clone)]
pub struct Ballot {
    pub voter: VoterId,
    pub name: VoterName,
    pub choice: PetChoice,
    pub first_vote: bool,
    pub first_in: Option<BallotRef>,
}

/// What a committed vote leaves the voter to keep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Where this first vote was recorded, when the store grouped it with
    /// others (the voter's later votes need it); `None` otherwise.
    pub first_in: Option<BallotRef>,
    /// The round the vote counts in.
    pub round: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(VoterName::parse("  Ann ").unwrap().as_str(), "Ann");
        assert!(VoterName::parse("   ").is_err());
        assert!(VoterName::parse(&"x".repeat(65)).is_err());
        assert!(VoterName::parse(&"é".repeat(64)).is_ok());
        assert!(VoterName::parse("a\u{0}b").is_err());
        assert!(VoterName::parse("a\nb").is_err());
        assert_eq!(VoterName::parse("hits").unwrap().as_str(), "hits");
    }

    #[test]
    fn choices_parse_only_the_three_ids() {
        assert_eq!(PetChoice::parse("b"), Ok(PetChoice::B));
        assert!(PetChoice::parse("d").is_err());
        assert!(PetChoice::parse("A").is_err());
        assert!(PetChoice::parse("").is_err());
    }

    #[test]
    fn voter_ids_round_trip_and_reject_anything_else() {
        let id = VoterId::random();
        assert_eq!(VoterId::parse(&id.to_string()), Ok(id));
        assert!(VoterId::parse("../../hits").is_err());
        assert!(VoterId::parse(&"A".repeat(32)).is_err());
        assert!(VoterId::parse(&"a".repeat(31)).is_err());
    }

    #[test]
    fn ballot_refs_round_trip_and_reject_anything_else() {
        let at = BallotRef::random();
        assert_eq!(BallotRef::parse(&at.to_string()), Ok(at));
        assert!(BallotRef::parse("").is_err(), "no prefix of every key");
        assert!(BallotRef::parse("../votes/archive").is_err());
        assert!(BallotRef::parse(&"F".repeat(16)).is_err());
        assert!(BallotRef::parse(&"f".repeat(15)).is_err());
        assert!(BallotRef::parse(&"f".repeat(17)).is_err());
    }
}
