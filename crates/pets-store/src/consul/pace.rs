//! How long the watchers wait before asking Consul again: after an
//! answer, after an empty one on a prefix that keeps no folder key, after a
//! failure, and on `replicas/`, a pause that grows with the fleet
//! ([`fleet_pace`]).

use std::time::Duration;

/// The shortest time between two blocking queries on one prefix: every
/// commit wakes them, and pacing keeps the re-reads from costing Consul more
/// than the writes.
pub(super) const WATCH_PACE: Duration = Duration::from_millis(100);
/// The watch on `replicas/` is paced by the fleet's size, this much a
/// replica, between [`WATCH_PACE`] and [`FLEET_PACE_MAX`]: every replica's
/// heartbeat wakes every replica's watch, and each answer holds every
/// record, so at a fixed pace an idle fleet of n costs Consul n² records a
/// heartbeat (docs/PERFORMANCE.md, "How cost grows").
const FLEET_PACE_PER_REPLICA: Duration = Duration::from_millis(15);
/// Fast enough that the console shows a new replica within 2 s and a
/// killed one within 10 s ([`GONE_AFTER`](crate::fleet::GONE_AFTER) is 8 s).
const FLEET_PACE_MAX: Duration = Duration::from_secs(1);
/// The pause after an empty answer on a prefix watched with
/// [`WhenEmpty::Slow`].
pub(super) const EMPTY_PACE: Duration = Duration::from_secs(1);

/// What a watcher does about its prefix holding no key: Consul answers a
/// blocking query on such a prefix whenever anything near it changes, so
/// every heartbeat of the fleet would wake it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum WhenEmpty {
    /// Keep the prefix's folder key there
    /// ([`folders`](crate::consul::folders)): for prefixes an idle fleet
    /// leaves empty and that hold only whole keys under them.
    Folder,
    /// Wait [`EMPTY_PACE`] before the next query: the lab guide's key (its
    /// own prefix, which a folder key can't serve) before the first look.
    Slow,
    /// Ask again at the usual pace: `votes/` and `replicas/`, empty only for
    /// a moment at start, when what comes first must show at once.
    Ask,
}

/// The pause after a failed blocking query.
pub(super) const WATCH_RETRY: Duration = Duration::from_secs(1);
/// The pause between two blocking queries on `replicas/` when the last
/// answer held `replicas` records.
pub(super) fn fleet_pace(replicas: usize) -> Duration {
    let replicas = u32::try_from(replicas).unwrap_or(u32::MAX);
    FLEET_PACE_PER_REPLICA
        .saturating_mul(replicas)
        .clamp(WATCH_PACE, FLEET_PACE_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fleet_watch_slows_with_the_fleet_within_the_consoles_promise() {
        assert_eq!(fleet_pace(0), WATCH_PACE);
        assert_eq!(fleet_pace(3), WATCH_PACE, "a small fleet as before");
        assert_eq!(fleet_pace(16), Duration::from_millis(240));
        assert_eq!(fleet_pace(64), Duration::from_millis(960));
        assert_eq!(fleet_pace(100_000), FLEET_PACE_MAX);
        let shown = FLEET_PACE_MAX + Duration::from_millis(100);
        assert!(
            shown < Duration::from_millis(1500),
            "a new replica within 2 s"
        );
        assert!(crate::fleet::GONE_AFTER + shown < Duration::from_secs(10));
    }
}
