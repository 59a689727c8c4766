//! Which of Consul's refusals were logged, and when: a token Consul does not
//! know is refused by every watcher, every second, each for its own key, so
//! "once in a row" would still be ten lines a second. Each kind is logged
//! once, and again only after [`REPEAT_AFTER`], while it goes on.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A refusal still going on is logged again this often.
pub const REPEAT_AFTER: Duration = Duration::from_secs(300);

/// Kinds remembered at most; past it, the oldest are forgotten.
const KINDS: usize = 64;

#[derive(Default)]
pub struct RefusalLog {
    logged: HashMap<String, Instant>,
}

impl RefusalLog {
    /// Whether a refusal of `kind` at `now` is to be logged; remembers it
    /// if so.
    pub fn should_log(&mut self, kind: &str, now: Instant) -> bool {
        if let Some(at) = self.logged.get(kind) {
            if now.saturating_duration_since(*at) < REPEAT_AFTER {
                return false;
            }
        }
        if self.logged.len() >= KINDS && !self.logged.contains_key(kind) {
            self.logged
                .retain(|_, at| now.saturating_duration_since(*at) < REPEAT_AFTER);
            if self.logged.len() >= KINDS {
                let oldest = self.logged.iter().min_by_key(|(_, at)| **at);
                if let Some(oldest) = oldest.map(|(k, _)| k.clone()) {
                    self.logged.remove(&oldest);
                }
            }
        }
        self.logged.insert(kind.to_owned(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_once_then_again_only_after_the_repeat_period() {
        let start = Instant::now();
        let mut log = RefusalLog::default();
        let kinds = ["GET votes", "GET replicas", "PUT session"];
        // Watchers refusing in turn, every second for a minute.
        let mut lines = 0;
        for second in 0..60 {
            for kind in kinds {
                lines += usize::from(log.should_log(kind, start + Duration::from_secs(second)));
            }
        }
        assert_eq!(lines, 3, "one line a kind");
        assert!(log.should_log("GET votes", start + REPEAT_AFTER));
        assert!(!log.should_log("GET replicas", start + Duration::from_secs(299)));
    }

    #[test]
    fn the_kinds_remembered_are_bounded() {
        let start = Instant::now();
        let mut log = RefusalLog::default();
        for i in 0..1_000u64 {
            assert!(log.should_log(&format!("GET key{i}"), start + Duration::from_millis(i)));
        }
        assert!(log.logged.len() <= KINDS);
        assert!(!log.should_log("GET key999", start + Duration::from_secs(2)));
    }
}
