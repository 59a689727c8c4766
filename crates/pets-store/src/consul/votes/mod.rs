//! Committing votes to Consul: exact, grouped, and never reported wrongly.
//!
//! Ballots queue at a [`dispatch`]er that hands them, in groups
//! ([`ballots`]), to a small pool of [`lane`]s, at the [`pace`] that keeps
//! groups large: the voters just answered are gathered for a moment, and a
//! second lane starts only when the group in flight is stuck. A lane writes
//! its group in a single `/v1/txn`:
//!
//! * a check that the round book `votes/round` is still at the index the
//!   lane knows, so the votes commit in the round they will be told of,
//! * the group's first votes, all in one new record `ballots/<ref>` (a first
//!   voter's id was minted for that very vote, so nobody else can hold it;
//!   the ref goes back to each of them, for their cookie),
//! * the record `voters/<id>` of each voter who moves a vote, check-and-set
//!   against the index it was read at (0 while the voter has only a first
//!   vote, found through the ref the voter's cookie carries), and
//! * the lane's own counter `votes/<replica>/<lane>`, check-and-set too, moved
//!   by the sum of the group's changes.
//!
//! So a group of first votes costs Consul two keys, not one per voter. The
//! counter key is written by this lane alone, so it never contends; a voter
//! record changed elsewhere in between fails the check, the transaction
//! rolls back as a whole, and the lane reads again and retries. Nothing is
//! ever read, changed and written back unchecked. A write whose outcome is
//! unknown is settled before anyone is answered, and a group that commits
//! after its voters were refused is undone ([`recovery`]). A failure shorter
//! than an election is waited out; once failures have lasted longer, groups
//! get one try each, and once the cluster watcher has seen no leader that
//! long, ballots are refused unsent ([`outage`]), so votes fail fast.
//!
//! Everything here runs over the narrow [`Kv`] seam; the unit tests in
//! [`tests`] drive every branch with a scripted fake.

mod ballots;
mod dispatch;
mod lane;
pub mod outage;
pub(crate) mod pace;
mod recovery;
#[cfg(test)]
mod tests;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::ballots::Pending;
use self::lane::Lane;
use crate::consul::keys::Keys;
use crate::consul::kv::Kv;
use crate::consul::rounds::CurrentRound;
use crate::domain::{Ballot, Receipt};
use crate::store::StoreError;

pub use self::ballots::{MAX_FIRST_VOTES_PER_TXN, MAX_MOVES_PER_TXN, VOTE_DEADLINE};
pub use self::outage::{Leadership, Outage};

/// How many ballots may wait for a lane before new ones are turned away.
const QUEUE_DEPTH: usize = 4096;

/// What a replica's lanes share with the rest of its store: `changed` is
/// notified on every commit, `recorded` counts the voters whose ballots
/// this replica committed, `written` keeps the highest index they committed
/// at; `outage` is shared with the cluster watcher, which tells it whether
/// there is a leader, and `round` with the watcher and the close of a round.
#[derive(Clone, Default)]
pub struct Shared {
    pub changed: Arc<Notify>,
    pub recorded: Arc<AtomicU64>,
    pub written: Arc<AtomicU64>,
    pub outage: Outage,
    pub round: Arc<CurrentRound>,
}

/// The handle the store uses to submit ballots.
pub struct VoteLanes {
    queue: mpsc::Sender<Pending>,
    /// Tells the dispatcher to finish: answer what it holds, pay what the
    /// lanes owe, and stop.
    closing: CancellationToken,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
}

impl VoteLanes {
    /// Starts `lanes` lanes and their dispatcher, which also finishes when
    /// `closing` is cancelled.
    pub fn start(
        kv: Arc<dyn Kv>,
        keys: Arc<Keys>,
        lanes: usize,
        shared: Shared,
        closing: CancellationToken,
    ) -> Self {
        let lanes = (0..lanes.max(1))
            .map(|lane| Lane::new(kv.clone(), keys.clone(), lane, &shared))
            .collect();
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let dispatcher = tokio::spawn(dispatch::dispatch(
            rx,
            lanes,
            shared.outage,
            closing.clone(),
        ));
        Self {
            queue,
            closing,
            dispatcher: Mutex::new(Some(dispatcher)),
        }
    }

    /// Stops taking ballots and waits, up to `limit`, for the lanes to
    /// answer those they hold and to pay every undo they owe: a replica
    /// that stops with an undo owed would leave a refused vote counted.
    /// Returns whether they finished.
    pub async fn close(&self, limit: Duration) -> bool {
        self.closing.cancel();
        let dispatcher = self
            .dispatcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(mut dispatcher) = dispatcher else {
            return true;
        };
        match tokio::time::timeout(limit, &mut dispatcher).await {
            Ok(_) => true,
            Err(_) => {
                dispatcher.abort();
                tracing::error!(
                    "the vote lanes did not finish within {limit:?} of the stop: \
                     a vote answered 504 (not confirmed) may stay counted"
                );
                false
            }
        }
    }

    /// Records a ballot: `Ok` once committed; `Unavailable` means it was
    /// not counted and never will be; `Unconfirmed` means it may have been.
    pub async fn cast(&self, ballot: Ballot) -> Result<Receipt, StoreError> {
        if self.closing.is_cancelled() {
            return Err(StoreError::Unavailable("this replica is stopping".into()));
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Pending::new(ballot, reply))
            .map_err(|_| {
                StoreError::Unavailable(
                    "too many votes are waiting for the store; try again".into(),
                )
            })?;
        // The store always answers: it owns the decision, so no timeout here
        // could make a committed vote look refused.
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the vote store stopped".into())))
    }
}
