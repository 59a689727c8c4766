//! Faults on demand: latency, errors, turning unhealthy, crashing, burning
//! CPU and holding memory, for teaching health checks, rolling updates,
//! rollbacks and resource limits.
//!
//! An operator sends a command from the console (`console::faults`); the
//! store carries it to every replica it is for (see [`pets_store::faults`]);
//! each replica's [`enforcer`] turns the orders it follows into the faults in
//! force here, which the voter site's middleware (`voter::faults`) and the
//! health check read, and which are pushed to this replica's fleet record. Faults can also be set
//! at start (`PETS_FAULT_*`), which is how the `broken` image turns
//! unhealthy 20 s after it starts.

pub mod enforcer;
mod request;

use std::sync::atomic::{AtomicU64, Ordering};

use pets_store::{ActiveFaults, FaultOrders, FaultSpec, Presence};

pub use request::{FaultForm, FaultRequest};

/// The faults in force on this replica, read on every voter-site request.
pub struct Faults {
    latency_ms: AtomicU64,
    error_percent: AtomicU64,
    /// Where what is in force is pushed, for the fleet record.
    presence: Presence,
}

impl Faults {
    /// Milliseconds to add to each voter-site response.
    pub fn latency_ms(&self) -> u64 {
        self.latency_ms.load(Ordering::Relaxed)
    }

    /// Percent of voter-site requests to answer with 500.
    pub fn error_percent(&self) -> u64 {
        self.error_percent.load(Ordering::Relaxed)
    }

    /// None in force, pushing what comes to `presence`.
    pub fn new(presence: Presence) -> Self {
        Self {
            latency_ms: AtomicU64::new(0),
            error_percent: AtomicU64::new(0),
            presence,
        }
    }

    /// What is in force, as the fleet record shows it.
    pub fn active(&self) -> ActiveFaults {
        self.presence.current().faults
    }

    fn set(&self, spec: FaultSpec, cpu_until: Option<String>) {
        self.latency_ms
            .store(spec.latency_ms.unwrap_or(0), Ordering::Relaxed);
        self.error_percent
            .store(spec.error_percent.unwrap_or(0).into(), Ordering::Relaxed);
        self.presence.set_faults(ActiveFaults { spec, cpu_until });
    }
}

/// The lasting faults in force, from the faults set at start and the orders
/// this replica follows. Its own order overrides the fleet's fault by fault;
/// a clear wipes whatever was set before it, at start or by the other order.
pub fn effective(at_start: FaultSpec, started_ms: u64, orders: &FaultOrders) -> FaultSpec {
    let cleared_after = |t: u64| {
        [&orders.fleet, &orders.own]
            .into_iter()
            .flatten()
            .any(|o| o.cleared && o.issued_at_ms >= t)
    };
    let mut spec = if cleared_after(started_ms) {
        FaultSpec::default()
    } else {
        at_start
    };
    let newer_clear = |other: &Option<pets_store::FaultOrder>, t: u64| {
        other
            .as_ref()
            .is_some_and(|o| o.cleared && o.issued_at_ms > t)
    };
    if let Some(fleet) = &orders.fleet {
        if !newer_clear(&orders.own, fleet.issued_at_ms) {
            spec = spec.overlay(&fleet.spec);
        }
    }
    if let Some(own) = &orders.own {
        if !newer_clear(&orders.fleet, own.issued_at_ms) {
            spec = spec.overlay(&own.spec);
        }
    }
    spec.active()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pets_store::FaultOrder;

    fn order(at: u64, spec: FaultSpec, cleared: bool) -> Option<FaultOrder> {
        Some(FaultOrder {
            spec,
            cleared,
            issued_at_ms: at,
            ..FaultOrder::default()
        })
    }

    fn latency(ms: u64) -> FaultSpec {
        FaultSpec {
            latency_ms: Some(ms),
            ..FaultSpec::default()
        }
    }

    fn errors(p: u8) -> FaultSpec {
        FaultSpec {
            error_percent: Some(p),
            ..FaultSpec::default()
        }
    }

    #[test]
    fn own_overrides_fleet_and_both_override_start() {
        let orders = FaultOrders {
            fleet: order(200, latency(100).overlay(&errors(5)), false),
            own: order(150, latency(300), false),
        };
        let spec = effective(errors(50), 100, &orders);
        assert_eq!(spec.latency_ms, Some(300));
        assert_eq!(spec.error_percent, Some(5));
    }

    #[test]
    fn a_clear_wipes_what_came_before_it() {
        let start = FaultSpec {
            unhealthy_after_s: Some(20),
            ..FaultSpec::default()
        };
        let none = FaultOrders::default();
        assert_eq!(effective(start, 100, &none), start, "start faults hold");
        let own_clear = FaultOrders {
            fleet: order(120, latency(100), false),
            own: order(130, FaultSpec::default(), true),
        };
        assert!(effective(start, 100, &own_clear).is_empty());
        let fleet_after = FaultOrders {
            fleet: order(140, latency(100), false),
            ..own_clear.clone()
        };
        assert_eq!(effective(start, 100, &fleet_after), latency(100));
        let old_clear = FaultOrders {
            fleet: order(50, FaultSpec::default(), true),
            own: None,
        };
        assert_eq!(
            effective(start, 100, &old_clear),
            start,
            "a clear from before this replica started does not touch it"
        );
    }
}
