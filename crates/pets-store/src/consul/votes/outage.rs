//! Whether Consul is failing the vote lanes right now, shared by the lanes
//! (which see every failure and success) and the dispatcher (which refuses
//! new ballots at once while every lane is tied up in an outage).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set when a group fails for want of Consul or a write's outcome is being
/// settled; cleared when a group commits. During an outage each group gets a
/// single try instead of retries until its deadline, so votes fail fast.
#[derive(Clone, Default)]
pub struct Outage(Arc<AtomicBool>);

impl Outage {
    /// Records a failure; true if an outage was already known (the caller
    /// should give up rather than retry).
    pub fn failed(&self) -> bool {
        self.0.swap(true, Ordering::Relaxed)
    }

    /// Records a commit: Consul answers again.
    pub fn recovered(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::Relaxed)
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
}
