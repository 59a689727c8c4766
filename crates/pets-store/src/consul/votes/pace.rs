//! When the dispatcher starts a group: the rule that makes groups large
//! without making voters wait on an idle store.
//!
//! Consul's cost is per transaction far more than per vote in it (each one
//! is appended, written to disk and applied by every server), so the fewer
//! transactions carry the votes, the more votes the cluster commits. Two
//! habits of a plain "send whatever is waiting to a free lane" wasted them:
//!
//! * **Gathering.** The voters a group just answered come back together
//!   (browsers following the 303, or a load tool), a moment apart. Sent as
//!   they trickle in, they made many small groups. Now a group starts once as
//!   many ballots wait as the groups that ended since the last start had
//!   asked for, or once the oldest has waited [`GATHER`]: never longer, and
//!   not at all for a ballot nobody was answered before (a lone voter).
//! * **One lane at a time.** A second transaction in flight beside the first
//!   split the voters into two smaller groups and cost Consul a second
//!   write. Now a group starts only while no other is in flight, or once the
//!   one in flight has taken longer than [`STALLED_AFTER`] (a slow write, a
//!   leader lost mid-commit): then another lane takes the ballots waiting
//!   behind it, so one stuck write does not hold every voter.

use std::time::Duration;

use tokio::time::Instant;

/// The longest a ballot waits for the voters just answered to come back.
pub const GATHER: Duration = Duration::from_millis(10);
/// How long a group may be in flight before another lane starts the next.
pub const STALLED_AFTER: Duration = Duration::from_millis(50);

/// What the dispatcher knows about the groups in flight and the voters it
/// expects back.
#[derive(Debug, Default)]
pub struct Pace {
    /// Ballots answered since the last group started, whose voters may be
    /// about to vote again.
    expected: usize,
    /// When the oldest ballot still waiting arrived.
    waiting_since: Option<Instant>,
    /// The lanes with a group in flight, and since when.
    in_flight: Vec<(usize, Instant)>,
}

impl Pace {
    /// Ballots are waiting (`true`) or none are: the gathering clock runs
    /// from the first one.
    pub fn waiting(&mut self, any: bool, now: Instant) {
        match (any, self.waiting_since) {
            (false, _) => self.waiting_since = None,
            (true, None) => self.waiting_since = Some(now),
            (true, Some(_)) => {}
        }
    }

    /// `lane` started a group.
    pub fn started(&mut self, lane: usize, now: Instant) {
        self.in_flight.push((lane, now));
        self.expected = 0;
        self.waiting_since = None;
    }

    /// `lane` answered the `asked` ballots of its group.
    pub fn ended(&mut self, lane: usize, asked: usize) {
        self.in_flight.retain(|(l, _)| *l != lane);
        self.expected += asked;
    }

    /// Whether a group of the `waiting` ballots should start now.
    pub fn may_start(&self, waiting: usize, now: Instant) -> bool {
        waiting > 0 && self.gathered(waiting, now) && self.lane_free(now)
    }

    /// When [`may_start`](Self::may_start) may next turn true with nothing
    /// arriving or ending meanwhile; `None` when only an event can.
    pub fn next_look(&self, waiting: usize, now: Instant) -> Option<Instant> {
        if waiting == 0 {
            return None;
        }
        let gathered = (!self.gathered(waiting, now))
            .then(|| self.waiting_since.map(|since| since + GATHER))
            .flatten();
        let stalled = (!self.lane_free(now))
            .then(|| self.newest_start().map(|since| since + STALLED_AFTER))
            .flatten();
        gathered.into_iter().chain(stalled).max()
    }

    fn gathered(&self, waiting: usize, now: Instant) -> bool {
        waiting >= self.expected
            || self
                .waiting_since
                .is_some_and(|since| now >= since + GATHER)
    }

    /// No group in flight, or the newest has been in flight too long.
    fn lane_free(&self, now: Instant) -> bool {
        self.newest_start()
            .is_none_or(|newest| now >= newest + STALLED_AFTER)
    }

    fn newest_start(&self) -> Option<Instant> {
        self.in_flight.iter().map(|(_, since)| *since).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test(start_paused = true)]
    async fn a_lone_ballot_starts_at_once() {
        let mut pace = Pace::default();
        let now = Instant::now();
        pace.waiting(true, now);
        assert!(pace.may_start(1, now));
    }

    #[tokio::test(start_paused = true)]
    async fn the_voters_just_answered_are_gathered_into_one_group() {
        let (mut pace, now) = (Pace::default(), Instant::now());
        pace.started(0, now);
        pace.ended(0, 3);
        pace.waiting(true, now + MS);
        assert!(!pace.may_start(2, now + 2 * MS), "two of three back");
        assert_eq!(pace.next_look(2, now + 2 * MS), Some(now + MS + GATHER));
        assert!(pace.may_start(3, now + 2 * MS), "all three back");
    }

    #[tokio::test(start_paused = true)]
    async fn voters_who_do_not_come_back_are_waited_for_no_longer_than_gather() {
        let (mut pace, now) = (Pace::default(), Instant::now());
        pace.started(0, now);
        pace.ended(0, 10);
        pace.waiting(true, now);
        assert!(!pace.may_start(1, now + GATHER - MS));
        assert!(pace.may_start(1, now + GATHER));
        pace.started(0, now + GATHER);
        pace.ended(0, 1);
        pace.waiting(true, now + GATHER + MS);
        assert!(
            pace.may_start(1, now + GATHER + MS),
            "the nine who left are not expected again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_group_waits_for_the_first_unless_it_stalls() {
        let (mut pace, now) = (Pace::default(), Instant::now());
        pace.started(0, now);
        pace.waiting(true, now + MS);
        assert!(
            !pace.may_start(5, now + MS),
            "one group in flight at a time"
        );
        assert_eq!(pace.next_look(5, now + MS), Some(now + STALLED_AFTER));
        assert!(pace.may_start(5, now + STALLED_AFTER), "the first is stuck");
        pace.started(1, now + STALLED_AFTER);
        assert!(
            !pace.may_start(5, now + STALLED_AFTER + MS),
            "the newest group in flight is not stuck"
        );
        pace.ended(0, 1);
        pace.ended(1, 5);
        let later = now + STALLED_AFTER + 2 * MS;
        pace.waiting(true, later);
        assert!(
            !pace.may_start(5, later),
            "both groups' voters are expected"
        );
        assert!(pace.may_start(6, later));
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_waiting_means_nothing_to_start_or_look_for() {
        let mut pace = Pace::default();
        let now = Instant::now();
        pace.started(0, now);
        assert!(!pace.may_start(0, now + STALLED_AFTER));
        assert_eq!(pace.next_look(0, now), None);
    }
}
