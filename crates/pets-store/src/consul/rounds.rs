//! Rounds in Consul: the round book `votes/round`, what this replica knows
//! of it, and closing a round.
//!
//! Every vote transaction checks the book's index (`check-index`), so a
//! vote commits in the round its lane believed current, or not at all: a
//! round closed in between fails the check, and the lane reads the book
//! again and commits the votes in the new round. Closing a round is one
//! check-and-set of the book, so the book's index at the close splits the
//! votes: every vote committed before it is in the old round, every one
//! after in the new. The counts of each round are kept in the lane counters
//! by round (see [`RoundCounts`](crate::consul::records::RoundCounts)).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::clock::unix_millis;
use crate::consul::keys::Keys;
use crate::consul::kv::{CallError, Kv, KvEntry, TxnOp, TxnOutcome};
use crate::consul::records::sum_counters;
use crate::rounds::RoundBook;
use crate::store::StoreError;
use crate::sync::Locked;

/// The round as a replica last knew it: its number and the book's index
/// (0 until the book was read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub number: u64,
    pub index: u64,
}

/// What this replica knows of the current round, shared by its lanes, its
/// watcher and the close.
#[derive(Debug)]
pub struct CurrentRound(Mutex<Seen>);

impl Default for CurrentRound {
    fn default() -> Self {
        Self(Mutex::new(Seen {
            number: 1,
            index: 0,
        }))
    }
}

impl CurrentRound {
    pub fn get(&self) -> Seen {
        *self.0.locked()
    }

    /// Takes `seen` if it is newer than what is known.
    pub fn saw(&self, seen: Seen) {
        let mut known = self.0.locked();
        if seen.index > known.index {
            *known = seen;
        }
    }
}

/// What the entries under `votes/` say, read at one index: the round book
/// and each round's votes.
#[derive(Debug, Clone, Default)]
pub struct VotesRead {
    /// `None` until a replica has made it: round 1.
    pub book: Option<RoundBook>,
    pub counts: BTreeMap<u64, [u64; 3]>,
}

impl VotesRead {
    /// Reads `entries`, telling `current` of the book.
    pub fn of(keys: &Keys, entries: &[KvEntry], current: &CurrentRound) -> Self {
        let book_key = keys.round_book();
        let (books, counters): (Vec<KvEntry>, Vec<KvEntry>) =
            entries.iter().cloned().partition(|e| e.key == book_key);
        let book = books.first().and_then(|entry| {
            let book = book_of(entry)?;
            current.saw(Seen {
                number: book.number,
                index: entry.modify_index,
            });
            Some(book)
        });
        Self {
            book,
            counts: sum_counters(&counters),
        }
    }

    /// The current round's number.
    pub fn round(&self) -> u64 {
        self.book.as_ref().map_or(1, |b| b.number)
    }

    /// The current round's votes.
    pub fn current(&self) -> [u64; 3] {
        self.counts.get(&self.round()).copied().unwrap_or_default()
    }
}

/// The book in `entry`, if it reads as one.
pub fn book_of(entry: &KvEntry) -> Option<RoundBook> {
    serde_json::from_slice(&entry.bytes()).ok()
}

/// Reads the book from the leader and makes sure it exists: a store
/// without one gets round 1, started now (check-and-set against "must not
/// exist", so replicas starting together agree).
pub async fn load(kv: &dyn Kv, key: &str, current: &CurrentRound) -> Result<Seen, CallError> {
    for _ in 0..3 {
        if let Some(entry) = kv.read_consistent(key).await? {
            let number = book_of(&entry).map_or(1, |b| b.number);
            current.saw(Seen {
                number,
                index: entry.modify_index,
            });
            return Ok(current.get());
        }
        let op = TxnOp::cas_json(key.to_owned(), &RoundBook::first(unix_millis()), 0);
        if let outcome @ TxnOutcome::Committed(_) = kv.write(&[op]).await? {
            let index = outcome.last_index().unwrap_or(0);
            current.saw(Seen { number: 1, index });
            return Ok(current.get());
        }
        // Another replica made it in between: read it.
    }
    Err(CallError::NotSent(
        "the round book changes too fast to read".into(),
    ))
}

/// Makes sure the book exists, once, at start (every second until Consul
/// answers, or `stop`): the console lists round 1 with its start before
/// anyone votes.
pub async fn make_book(
    kv: Arc<dyn Kv>,
    key: String,
    current: Arc<CurrentRound>,
    stop: CancellationToken,
) {
    while stop
        .run_until_cancelled(load(kv.as_ref(), &key, &current))
        .await
        .is_some_and(|loaded| loaded.is_err())
    {
        let pause = tokio::time::sleep(std::time::Duration::from_secs(1));
        if stop.run_until_cancelled(pause).await.is_none() {
            return;
        }
    }
}

/// Closes round `expected` (the current one when `None`) under the option
/// `names`, with `served` pets served across the fleet: one check-and-set
/// of the book. Returns the round closed and the index the close committed
/// at; an error changes nothing.
pub async fn close(
    kv: &dyn Kv,
    key: &str,
    current: &CurrentRound,
    expected: Option<u64>,
    names: [String; 3],
    served: u64,
) -> Result<(u64, u64), StoreError> {
    let unavailable = |e: CallError| StoreError::Unavailable(e.to_string());
    load(kv, key, current).await.map_err(unavailable)?;
    let entry = kv.read_consistent(key).await.map_err(unavailable)?;
    let (book, index) = match &entry {
        Some(entry) => (
            book_of(entry).ok_or_else(|| {
                StoreError::Unavailable(format!("{key} does not read as a round book"))
            })?,
            entry.modify_index,
        ),
        None => return Err(StoreError::Unavailable("the round book was removed".into())),
    };
    if let Some(expected) = expected.filter(|&n| n != book.number) {
        return Err(StoreError::Conflict(format!(
            "round {expected} is not in progress; round {} is",
            book.number
        )));
    }
    let next = book
        .closed_at(unix_millis(), names, served)
        .map_err(StoreError::Conflict)?;
    let op = TxnOp::cas_json(key.to_owned(), &next, index);
    match kv.write(&[op]).await {
        Ok(outcome @ TxnOutcome::Committed(_)) => {
            let at = outcome.last_index().unwrap_or(index);
            current.saw(Seen {
                number: next.number,
                index: at,
            });
            tracing::info!(round = book.number, index = at, "round closed");
            Ok((book.number, at))
        }
        Ok(TxnOutcome::RolledBack(_)) => Err(StoreError::Conflict(format!(
            "round {} was closed by another request meanwhile",
            book.number
        ))),
        Err(CallError::Unknown(message)) => Err(StoreError::Unavailable(format!(
            "{message}; the round may have closed: look at the rounds before closing again"
        ))),
        Err(e) => Err(unavailable(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consul::fake::FakeKv;

    const KEY: &str = "p/votes/round";

    fn names() -> [String; 3] {
        ["Cats".into(), "Dogs".into(), "Whales".into()]
    }

    #[tokio::test]
    async fn the_first_read_makes_round_one_once() {
        let kv = FakeKv::default();
        let (one, two) = (CurrentRound::default(), CurrentRound::default());
        let first = load(&kv, KEY, &one).await.unwrap();
        let again = load(&kv, KEY, &two).await.unwrap();
        assert_eq!(first.number, 1);
        assert_eq!(first, again, "the second replica reads what the first made");
    }

    #[tokio::test]
    async fn closing_moves_to_the_next_round_and_only_once() {
        let kv = FakeKv::default();
        let current = CurrentRound::default();
        let (closed, at) = close(&kv, KEY, &current, None, names(), 10).await.unwrap();
        assert_eq!(closed, 1);
        assert_eq!(
            current.get(),
            Seen {
                number: 2,
                index: at
            }
        );
        let stale = close(&kv, KEY, &current, Some(1), names(), 10).await;
        assert!(matches!(stale, Err(StoreError::Conflict(m)) if m.contains("round 2 is")));
        let (closed, _) = close(&kv, KEY, &current, Some(2), names(), 25)
            .await
            .unwrap();
        assert_eq!(closed, 2);
        let book = book_of(&kv.read_consistent(KEY).await.unwrap().unwrap()).unwrap();
        assert_eq!(book.number, 3);
        assert_eq!(book.closed[1].pets_served, 15);
    }

    #[tokio::test]
    async fn a_replica_that_knew_an_older_round_learns_the_new_one() {
        let kv = FakeKv::default();
        let (here, there) = (CurrentRound::default(), CurrentRound::default());
        load(&kv, KEY, &here).await.unwrap();
        close(&kv, KEY, &there, None, names(), 0).await.unwrap();
        assert_eq!(here.get().number, 1, "not told yet");
        assert_eq!(load(&kv, KEY, &here).await.unwrap().number, 2);
        here.saw(Seen {
            number: 1,
            index: 1,
        });
        assert_eq!(here.get().number, 2, "an older look changes nothing");
    }
}
