//! The enforcer follows the fault orders this replica obeys and puts them
//! in force: sets
//! latency and errors for the middleware, turns health off when an
//! "unhealthy after" deadline passes, holds memory ballast, and runs the
//! one-off actions (crash, CPU burn) once per command, never for a command
//! issued before this replica started.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pets_store::{FaultOrders, FaultSpec, Store};
use time::OffsetDateTime;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{effective, Faults};
use crate::health::Health;
use pets_store::sync::Locked;

/// What "crash now" does: in the binary, exit with a non-zero code.
pub type Crash = Arc<dyn Fn() + Send + Sync>;

/// The exit code of a crash a fault asked for.
pub const CRASH_EXIT_CODE: i32 = 70;

/// How long a crash waits, so the command that asked for it is answered.
const CRASH_DELAY: Duration = Duration::from_millis(200);

/// The crash the binary uses: log why, then exit without shutting down.
pub fn exit_process() -> Crash {
    Arc::new(|| {
        tracing::error!(
            code = CRASH_EXIT_CODE,
            "crashing because a fault asked to: exiting in {CRASH_DELAY:?}"
        );
        std::thread::spawn(|| {
            std::thread::sleep(CRASH_DELAY);
            std::process::exit(CRASH_EXIT_CODE)
        });
    })
}

/// Everything the enforcer acts on.
pub struct Enforcer {
    pub store: Arc<dyn Store>,
    pub faults: Arc<Faults>,
    pub health: Health,
    /// Faults set at start (`PETS_FAULT_*`).
    pub at_start: FaultSpec,
    /// When this replica started, Unix milliseconds.
    pub started_ms: u64,
    pub crash: Crash,
}

impl Enforcer {
    /// Applies orders until `stopping` is cancelled or the store goes away.
    pub async fn run(self, stopping: CancellationToken) {
        let mut orders = self.store.fault_orders();
        let mut acted = [0u64; 2];
        let mut unhealthy: Option<(u64, Instant)> = None;
        let mut in_force = FaultSpec::default();
        let mut ballast = Vec::new();
        let burner = Burner::default();
        loop {
            let current = orders.borrow_and_update().clone();
            self.one_offs(&current, &mut acted, &burner);
            let spec = effective(self.at_start, self.started_ms, &current);
            match spec.unhealthy_after_s {
                Some(after) if unhealthy.map(|u| u.0) != Some(after) => {
                    unhealthy = Some((after, Instant::now() + Duration::from_secs(after)));
                    self.health.set_faulty(false);
                }
                None => {
                    unhealthy = None;
                    self.health.set_faulty(false);
                }
                _ => {}
            }
            resize(&mut ballast, spec.memory_mib.unwrap_or(0)).await;
            if in_force != spec {
                tracing::warn!(faults = ?spec, "faults in force changed");
                in_force = spec;
            }
            self.faults.set(spec, burner.until());

            let turns_unhealthy = unhealthy.map(|u| u.1).filter(|_| !self.health.is_faulty());
            let burn_ends = burner.ends();
            tokio::select! {
                changed = orders.changed() => if changed.is_err() { return },
                _ = sleep_until(turns_unhealthy), if turns_unhealthy.is_some() => {
                    tracing::warn!("turning unhealthy, as a fault asked");
                    self.health.set_faulty(true);
                }
                _ = sleep_until(burn_ends), if burn_ends.is_some() => {}
                _ = stopping.cancelled() => return,
            }
        }
    }

    /// Runs the crash and CPU burn of commands not acted on yet.
    fn one_offs(&self, orders: &FaultOrders, acted: &mut [u64; 2], burner: &Burner) {
        for (slot, order) in [&orders.fleet, &orders.own].into_iter().enumerate() {
            let Some(order) = order else { continue };
            if order.issued_at_ms < self.started_ms || order.issued_at_ms <= acted[slot] {
                continue;
            }
            acted[slot] = order.issued_at_ms;
            if let Some(seconds) = order.cpu_seconds.filter(|&s| s > 0) {
                tracing::warn!(seconds, "burning a CPU, as a fault asked");
                burner.burn(Duration::from_secs(seconds));
            }
            if order.crash {
                (self.crash)();
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Holds `mib` MiB, every page written so that it is really resident.
async fn resize(ballast: &mut Vec<u8>, mib: u64) {
    let bytes = usize::try_from(mib)
        .unwrap_or(usize::MAX)
        .saturating_mul(1 << 20);
    if ballast.len() == bytes {
        return;
    }
    *ballast = Vec::new();
    if bytes > 0 {
        tracing::warn!(mib, "holding memory ballast, as a fault asked");
        *ballast = tokio::task::spawn_blocking(move || vec![0x5a_u8; bytes])
            .await
            .unwrap_or_default();
    }
}

/// One thread spinning until a deadline that later commands extend.
#[derive(Default, Clone)]
struct Burner {
    /// The end of the burn, on the clock the thread reads.
    until: Arc<Mutex<Option<std::time::Instant>>>,
    /// The same end for the enforcer's timer and the fleet record.
    ends: Arc<Mutex<Option<(Instant, OffsetDateTime)>>>,
    running: Arc<AtomicBool>,
}

impl Burner {
    fn burn(&self, length: Duration) {
        let end = std::time::Instant::now() + length;
        {
            let mut until = self.until.locked();
            if until.is_some_and(|u| u >= end) {
                return;
            }
            *until = Some(end);
        }
        *self.ends.locked() = Some((Instant::now() + length, OffsetDateTime::now_utc() + length));
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let burner = self.clone();
        std::thread::spawn(move || burner.spin());
    }

    fn spin(&self) {
        let mut x = 0u64;
        loop {
            let end = *self.until.locked();
            match end {
                Some(end) if std::time::Instant::now() < end => {
                    for i in 0..100_000u64 {
                        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                    }
                }
                _ => break,
            }
        }
        *self.until.locked() = None;
        *self.ends.locked() = None;
        self.running.store(false, Ordering::Release);
    }

    /// When the enforcer should look again (the burn's end), if one runs.
    fn ends(&self) -> Option<Instant> {
        let ends = *self.ends.locked();
        ends.map(|(at, _)| at.max(Instant::now()) + Duration::from_millis(50))
    }

    /// The burn's end for the record, RFC 3339.
    fn until(&self) -> Option<String> {
        let ends = *self.ends.locked();
        ends.and_then(|(_, wall)| {
            wall.replace_nanosecond(0)
                .ok()?
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use pets_store::{
        FaultCommand, FaultOrderStore, FaultTarget, FleetRoster, MemoryStore, Presence,
        Registration, ReplicaIdentity,
    };

    use super::*;

    struct Running {
        store: Arc<MemoryStore>,
        faults: Arc<Faults>,
        health: Health,
        crashes: Arc<AtomicUsize>,
        /// The store's end of what the web layer pushes.
        record: tokio::sync::watch::Receiver<pets_store::ReplicaState>,
        _stop: tokio_util::sync::DropGuard,
    }

    fn start(at_start: FaultSpec, started_ms: u64) -> Running {
        let store = Arc::new(MemoryStore::new());
        let presence = Presence::default();
        let health = Health::new(presence.clone());
        let faults = Arc::new(Faults::new(presence.clone()));
        store.register(Registration {
            identity: ReplicaIdentity {
                id: "me".into(),
                ..ReplicaIdentity::default()
            },
            state: presence.subscribe(),
        });
        let crashes = Arc::new(AtomicUsize::new(0));
        let counted = crashes.clone();
        let enforcer = Enforcer {
            store: store.clone(),
            faults: faults.clone(),
            health: health.clone(),
            at_start,
            started_ms,
            crash: Arc::new(move || {
                counted.fetch_add(1, Ordering::Relaxed);
            }),
        };
        let stop = CancellationToken::new();
        tokio::spawn(enforcer.run(stop.clone()));
        Running {
            store,
            faults,
            health,
            crashes,
            record: presence.subscribe(),
            _stop: stop.drop_guard(),
        }
    }

    async fn order(running: &Running, target: FaultTarget, command: FaultCommand) {
        running.store.order_faults(&target, &command).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    fn me() -> FaultTarget {
        FaultTarget::Replica("me".into())
    }

    fn spec(f: impl FnOnce(&mut FaultSpec)) -> FaultCommand {
        let mut command = FaultCommand::default();
        f(&mut command.spec);
        command
    }

    #[tokio::test(start_paused = true)]
    async fn unhealthy_after_turns_health_off_at_its_deadline_and_clear_restores_it() {
        let running = start(FaultSpec::default(), 0);
        order(
            &running,
            FaultTarget::Fleet,
            spec(|s| s.unhealthy_after_s = Some(20)),
        )
        .await;
        tokio::time::sleep(Duration::from_secs(19)).await;
        assert!(running.health.is_healthy(), "not before its time");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!running.health.is_healthy());
        assert!(!running.record.borrow().healthy, "the record says so too");
        let clear = FaultCommand {
            clear: true,
            ..FaultCommand::default()
        };
        order(&running, FaultTarget::Fleet, clear).await;
        assert!(running.health.is_healthy());
        running.health.set(false);
        assert!(
            !running.health.is_healthy(),
            "the switch still works on its own"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn faults_set_at_start_hold_until_cleared() {
        let at_start = FaultSpec {
            unhealthy_after_s: Some(5),
            latency_ms: Some(40),
            ..FaultSpec::default()
        };
        let running = start(at_start, 0);
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(!running.health.is_healthy());
        assert_eq!(running.faults.latency_ms(), 40);
        let clear = FaultCommand {
            clear: true,
            ..FaultCommand::default()
        };
        order(&running, me(), clear).await;
        assert!(running.health.is_healthy());
        assert_eq!(running.faults.latency_ms(), 0);
        assert!(running.faults.active().spec.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn latency_and_errors_are_in_force_and_on_the_record() {
        let running = start(FaultSpec::default(), 0);
        order(
            &running,
            FaultTarget::Fleet,
            spec(|s| s.latency_ms = Some(300)),
        )
        .await;
        order(&running, me(), spec(|s| s.error_percent = Some(25))).await;
        assert_eq!(running.faults.latency_ms(), 300);
        assert_eq!(running.faults.error_percent(), 25);
        let record = running.store.fleet().replicas[0].faults.clone();
        assert_eq!(record.spec.latency_ms, Some(300));
        assert_eq!(record.spec.error_percent, Some(25));
    }

    #[tokio::test(start_paused = true)]
    async fn a_crash_happens_once_per_command_and_never_for_an_old_one() {
        let running = start(FaultSpec::default(), 0);
        let crash = FaultCommand {
            crash: true,
            ..FaultCommand::default()
        };
        order(&running, me(), crash.clone()).await;
        assert_eq!(running.crashes.load(Ordering::Relaxed), 1);
        order(&running, me(), spec(|s| s.latency_ms = Some(1))).await;
        assert_eq!(running.crashes.load(Ordering::Relaxed), 1, "not again");
        order(&running, FaultTarget::Fleet, crash.clone()).await;
        assert_eq!(running.crashes.load(Ordering::Relaxed), 2);

        let later = start(FaultSpec::default(), u64::MAX);
        order(&later, me(), crash).await;
        assert_eq!(
            later.crashes.load(Ordering::Relaxed),
            0,
            "issued before this replica started"
        );
    }
}
