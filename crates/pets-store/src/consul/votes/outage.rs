//! Whether Consul is failing the vote lanes right now, shared by the lanes
//! (which see every failure and success), the cluster watcher (which sees
//! whether there is a leader) and the dispatcher (which refuses new ballots
//! at once, sending nothing, while every lane is tied up in an outage or
//! while the cluster has had no leader for longer than an election takes).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// How long the cluster may be seen without a leader before new ballots are
/// refused without a try: longer than an election takes (about 1 to 3 s with
/// `raft_multiplier = 1`), so a vote cast during one waits for the new
/// leader, but not as long as a vote's deadline, so that without a quorum
/// voters hear "no" at once instead of after the deadline.
pub const FAIL_FAST_AFTER: Duration = Duration::from_secs(3);

/// Set when a group fails for want of Consul or a write's outcome is being
/// settled; cleared when a group commits. During an outage each group gets a
/// single try instead of retries until its deadline, so votes fail fast.
#[derive(Clone, Default)]
pub struct Outage(Arc<State>);

#[derive(Default)]
struct State {
    on: AtomicBool,
    /// Since when the cluster watcher has seen no leader, if it sees none.
    leaderless_since: Mutex<Option<Instant>>,
}

impl Outage {
    /// Records a failure; true if an outage was already known (the caller
    /// should give up rather than retry).
    pub fn failed(&self) -> bool {
        self.0.on.swap(true, Ordering::Relaxed)
    }

    /// Records a commit: Consul answers again.
    pub fn recovered(&self) {
        self.0.on.store(false, Ordering::Relaxed);
    }

    pub fn is_on(&self) -> bool {
        self.0.on.load(Ordering::Relaxed)
    }

    /// What the cluster watcher saw on its last look: a leader, or none (no
    /// quorum, an election, or no answer at all).
    pub fn leader_seen(&self, seen: bool) {
        let mut since = self
            .0
            .leaderless_since
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match (seen, *since) {
            (true, _) => *since = None,
            (false, None) => *since = Some(Instant::now()),
            (false, Some(_)) => {}
        }
    }

    /// True when the cluster has been seen without a leader for at least
    /// [`FAIL_FAST_AFTER`]: a ballot sent now would only wait for its
    /// deadline.
    pub fn leaderless_too_long(&self, now: Instant) -> bool {
        let since = *self
            .0
            .leaderless_since
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        since.is_some_and(|since| now.duration_since(since) >= FAIL_FAST_AFTER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_failure_says_an_outage_is_known() {
        let outage = Outage::default();
        assert!(!outage.failed());
        assert!(outage.failed());
        assert!(outage.clone().is_on());
        outage.recovered();
        assert!(!outage.is_on());
    }

    #[tokio::test(start_paused = true)]
    async fn no_leader_for_longer_than_an_election_means_refuse_at_once() {
        let outage = Outage::default();
        assert!(!outage.leaderless_too_long(Instant::now()));
        outage.leader_seen(false);
        tokio::time::advance(FAIL_FAST_AFTER / 2).await;
        outage.leader_seen(false);
        assert!(
            !outage.leaderless_too_long(Instant::now()),
            "an election's time"
        );
        tokio::time::advance(FAIL_FAST_AFTER / 2).await;
        assert!(
            outage.leaderless_too_long(Instant::now()),
            "counted from the first look"
        );
        outage.leader_seen(true);
        assert!(
            !outage.leaderless_too_long(Instant::now()),
            "a leader again"
        );
    }
}
