//! The fleet curve: 1, 16 and 64 pets replicas (processes on loopback)
//! against the one cluster. At each size, idle, what their background work
//! (fleet records, watches, session renewals, folds) costs Consul in CPU,
//! over what Consul spends with nobody talking to it, in all and per
//! replica, and the replicas' resident memory; then, under `pets load`
//! spread over all 64, that the totals stay exact: visitors whose vote was
//! accepted = votes counted, pages answered 200 = pets served.

use std::path::Path;
use std::time::Duration;

use pets_load::options::Target;
use pets_load::LoadOptions;

use crate::consul::cpu_seconds;
use crate::pets::{Pets, Resident};

/// The fleet's sizes, smallest first; the load runs over the largest.
pub const SIZES: [usize; 3] = [1, 16, 64];
/// How long a grown fleet is left before it is measured idle: its new
/// replicas' first records, and every replica's lab guide taking in the
/// new fleet, are start-up work, not idle work.
const SETTLE: Duration = Duration::from_secs(10);
/// The shortest idle measurement, in seconds, whatever the rows' length:
/// about two heartbeats of every replica (a 5 s window held one, and moved by a
/// third between runs with where the heartbeats fell).
const IDLE_AT_LEAST: u64 = 10;
/// The load spread over the fleet, requests a second.
const RATE: u32 = 600;

/// One size of the idle fleet.
pub struct IdlePoint {
    pub replicas: usize,
    /// Consul's CPU while the fleet idled, as a share of one core.
    pub idle_core_share: f64,
    /// The replicas' resident memory, summed.
    pub resident_kib: u64,
}

pub struct FleetRow {
    /// The idle fleet at each of [`SIZES`].
    pub curve: Vec<IdlePoint>,
    /// Consul's CPU while nothing at all talked to it (its own heartbeats
    /// and gossip), as a share of one core.
    pub baseline_core_share: f64,
    pub load: pets_load::report::Report,
    /// Votes counted and pets served, before and after the load.
    pub counted: u64,
    pub served: u64,
}

impl FleetRow {
    /// What an idle fleet adds to Consul's own CPU, as a share of one core.
    pub fn pets_core_share(&self, point: &IdlePoint) -> f64 {
        (point.idle_core_share - self.baseline_core_share).max(0.0)
    }

    /// The largest fleet's point.
    pub fn largest(&self) -> &IdlePoint {
        self.curve.last().expect("at least one size")
    }

    /// Counted exactly, within the requests in flight at the end.
    pub fn exact(&self) -> bool {
        let t = &self.load.total;
        self.counted == self.load.voters
            && self.served >= t.pages_ok
            && self.served - t.pages_ok <= u64::from(RATE)
    }
}

pub async fn run(
    binary: &Path,
    db: &str,
    out: &Path,
    consul_pids: &[u32],
    seconds: u64,
) -> anyhow::Result<FleetRow> {
    let prefix = format!("bench-fleet-{}/", std::process::id());
    let idle = Duration::from_secs(seconds.max(IDLE_AT_LEAST));
    let before = cpu_seconds(consul_pids)?;
    tokio::time::sleep(idle).await;
    let baseline_core_share = (cpu_seconds(consul_pids)? - before) / idle.as_secs_f64();
    let mut fleet: Vec<Pets> = Vec::new();
    let mut curve = Vec::new();
    for size in SIZES {
        eprintln!("growing the fleet to {size} pets replicas");
        while fleet.len() < size {
            let log = out.join(format!("fleet-{}.log", fleet.len()));
            fleet.push(Pets::start(binary, db, &prefix, &log)?.0);
        }
        // Let start-up writes settle, then measure the idle fleet.
        tokio::time::sleep(SETTLE).await;
        let before = cpu_seconds(consul_pids)?;
        tokio::time::sleep(idle).await;
        let idle_core_share = (cpu_seconds(consul_pids)? - before) / idle.as_secs_f64();
        let resident_kib = Resident::total_kib_of(fleet.iter().map(Pets::pid))?;
        curve.push(IdlePoint {
            replicas: size,
            idle_core_share,
            resident_kib,
        });
    }
    let replicas = fleet.len();

    let (served_before, counted_before) = fleet[0].tally()?;
    let options = LoadOptions {
        targets: fleet
            .iter()
            .map(|p| Target {
                host: p.web.ip().to_string(),
                port: p.web.port(),
                tls: false,
            })
            .collect(),
        resolve: Vec::new(),
        ca_cert: None,
        rate: RATE,
        voters: 2_000,
        duration: Some(Duration::from_secs(seconds)),
        vote_share: 0.1,
        json: false,
    };
    eprintln!("  pets load over {replicas} replicas at {RATE}/s");
    let load = pets_load::run(options, None).await;
    let (served_after, counted_after) = fleet[0].tally()?;
    let sum = |v: [u64; 3]| v.iter().sum::<u64>();
    Ok(FleetRow {
        curve,
        baseline_core_share,
        load,
        counted: sum(counted_after) - sum(counted_before),
        served: served_after - served_before,
    })
}
