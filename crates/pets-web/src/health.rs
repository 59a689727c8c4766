//! Whether this replica says it is healthy: the switch (`/kill`,
//! `PUT /health`) and an "unhealthy after" fault, combined into the one flag
//! `/health` answers with, and pushed to the store, whose fleet record shows
//! it. A leaf: the voter site's health routes, the fault enforcer and the
//! state all use it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pets_store::sync::Locked;
use pets_store::Presence;

/// Whether this container says it is healthy. Two things can make it
/// unhealthy: the switch (`/kill`, `PUT /health`) and an "unhealthy after"
/// fault; it is healthy when neither does.
#[derive(Clone)]
pub struct Health {
    /// (switched off, made unhealthy by a fault)
    causes: Arc<Mutex<(bool, bool)>>,
    healthy: Arc<AtomicBool>,
    presence: Presence,
}

impl Health {
    /// Healthy, pushing every change to `presence`.
    pub fn new(presence: Presence) -> Self {
        presence.set_healthy(true);
        Self {
            causes: Arc::default(),
            healthy: Arc::new(AtomicBool::new(true)),
            presence,
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// The switch: `/kill` and `PUT /health`.
    pub fn set(&self, healthy: bool) {
        self.change(|causes| causes.0 = !healthy);
    }

    /// Whether a fault makes this replica unhealthy.
    pub fn set_faulty(&self, faulty: bool) {
        self.change(|causes| causes.1 = faulty);
    }

    pub fn is_faulty(&self) -> bool {
        self.causes.locked().1
    }

    fn change(&self, change: impl FnOnce(&mut (bool, bool))) {
        let mut causes = self.causes.locked();
        change(&mut causes);
        let healthy = !causes.0 && !causes.1;
        self.healthy.store(healthy, Ordering::Relaxed);
        self.presence.set_healthy(healthy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_cause_makes_it_unhealthy_and_the_store_hears_of_it() {
        let presence = Presence::default();
        let mut store_end = presence.subscribe();
        let health = Health::new(presence);
        health.set_faulty(true);
        assert!(!health.is_healthy());
        assert!(store_end.has_changed().unwrap());
        assert!(!store_end.borrow_and_update().healthy);
        health.set(false);
        health.set_faulty(false);
        assert!(!health.is_healthy(), "still switched off");
        health.set(true);
        assert!(health.is_healthy());
        assert!(store_end.borrow_and_update().healthy);
    }
}
