//! Whether Consul is failing the vote lanes right now, shared by the lanes
//! (which see every failure and success), the cluster watcher (which sees
//! whether there is a leader) and the dispatcher (which refuses new ballots
//! at once, sending nothing, once every lane is tied up in an outage that
//! has lasted longer than an election takes, or once the cluster has had no
//! leader for that long).
//!
//! A failure shorter than that (an election, a leader stepping down, a
//! write held for a moment) is waited out: the ballots in it are retried
//! until their deadline, so a voter during a blip is late, not refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::sync::Locked;
use tokio::time::Instant;

/// How long Consul may fail (or the cluster be seen without a leader) before
/// ballots get a single try or are refused without one: longer than an
/// election takes (about 1 to 3 s with `raft_multiplier = 1`), so a vote
/// cast during one waits for the new leader, but not as long as a vote's
/// deadline, so that without a quorum voters hear "no" at once instead of
/// after the deadline.
pub const FAIL_FAST_AFTER: Duration = Duration::from_secs(3);

/// Since when a group has failed for want of Consul, or a write's outcome
/// has been being settled; cleared when a group commits.
#[derive(Clone, Default)]
pub struct Outage(Arc<State>);

#[derive(Default)]
struct State {
    /// Since when writes have been failing, if they are.
    failing_since: Mutex<Option<Instant>>,
    /// Since when the cluster watcher has seen no leader, if it sees none.
    leaderless_since: Mutex<Option<Instant>>,
}

/// What a failure recorded with [`Outage::failed`] amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failing {
    /// The first since the last commit: an outage may be starting.
    Began,
    /// Failures for less than [`FAIL_FAST_AFTER`]: wait it out.
    Brief,
    /// Failures for at least [`FAIL_FAST_AFTER`]: give up rather than retry.
    Lasting,
}

impl Outage {
    /// Records a failure, and says how long failures have gone on.
    pub fn failed(&self) -> Failing {
        let now = Instant::now();
        let mut since = lock(&self.0.failing_since);
        match *since {
            None => {
                *since = Some(now);
                Failing::Began
            }
            Some(at) if outlasted_election(at, now) => Failing::Lasting,
            Some(_) => Failing::Brief,
        }
    }

    /// Records a commit: Consul answers again.
    pub fn recovered(&self) {
        *lock(&self.0.failing_since) = None;
    }

    /// True when writes have been failing for at least [`FAIL_FAST_AFTER`].
    pub fn lasting(&self, now: Instant) -> bool {
        lock(&self.0.failing_since).is_some_and(|since| outlasted_election(since, now))
    }

    /// What the cluster watcher saw on its last look: a leader, or none (no
    /// quorum, an election, or no answer at all); and what that amounts to,
    /// counting from the first look without one.
    pub fn leader_seen(&self, seen: bool) -> Leadership {
        let now = Instant::now();
        let mut since = lock(&self.0.leaderless_since);
        match (seen, *since) {
            (true, _) => *since = None,
            (false, None) => *since = Some(now),
            (false, Some(_)) => {}
        }
        match *since {
            None => Leadership::Elected,
            Some(at) if outlasted_election(at, now) => Leadership::Lost,
            Some(_) => Leadership::Electing,
        }
    }

    /// True when the cluster has been seen without a leader for at least
    /// [`FAIL_FAST_AFTER`]: a ballot sent now would only wait for its
    /// deadline.
    pub fn leaderless_too_long(&self, now: Instant) -> bool {
        lock(&self.0.leaderless_since).is_some_and(|since| outlasted_election(since, now))
    }
}

/// What the cluster's leadership amounts to, as votes see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leadership {
    /// A server names a leader.
    Elected,
    /// None has for less than [`FAIL_FAST_AFTER`]: an election (a server
    /// back on a new address can force one), which votes wait out.
    Electing,
    /// None has for [`FAIL_FAST_AFTER`] or longer: no quorum, and votes are
    /// refused at once.
    Lost,
}

/// True when something that began at `since` has lasted [`FAIL_FAST_AFTER`].
fn outlasted_election(since: Instant, now: Instant) -> bool {
    now.duration_since(since) >= FAIL_FAST_AFTER
}

fn lock(since: &Mutex<Option<Instant>>) -> std::sync::MutexGuard<'_, Option<Instant>> {
    since.locked()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn failures_count_as_an_outage_once_they_outlast_an_election() {
        let outage = Outage::default();
        assert_eq!(outage.failed(), Failing::Began);
        tokio::time::advance(FAIL_FAST_AFTER / 2).await;
        assert_eq!(outage.failed(), Failing::Brief, "an election's time");
        assert!(!outage.clone().lasting(Instant::now()));
        tokio::time::advance(FAIL_FAST_AFTER / 2).await;
        assert!(outage.lasting(Instant::now()), "counted from the first");
        assert_eq!(outage.failed(), Failing::Lasting);
        outage.recovered();
        assert!(!outage.lasting(Instant::now()));
        assert_eq!(outage.failed(), Failing::Began, "a new outage, a new clock");
    }

    #[tokio::test(start_paused = true)]
    async fn no_leader_for_longer_than_an_election_means_refuse_at_once() {
        let outage = Outage::default();
        assert!(!outage.leaderless_too_long(Instant::now()));
        assert_eq!(outage.leader_seen(false), Leadership::Electing);
        tokio::time::advance(FAIL_FAST_AFTER / 2).await;
        assert_eq!(outage.leader_seen(false), Leadership::Electing);
        assert!(
            !outage.leaderless_too_long(Instant::now()),
            "an election's time"
        );
        tokio::time::advance(FAIL_FAST_AFTER / 2).await;
        assert!(
            outage.leaderless_too_long(Instant::now()),
            "counted from the first look"
        );
        assert_eq!(outage.leader_seen(false), Leadership::Lost);
        assert_eq!(outage.leader_seen(true), Leadership::Elected);
        assert!(
            !outage.leaderless_too_long(Instant::now()),
            "a leader again"
        );
    }
}
