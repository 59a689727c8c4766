//! The fleet row: 16 pets replicas (processes on loopback) against the one
//! cluster. Idle, what their background work (fleet records, watches,
//! session renewals, folds) costs Consul in CPU, over what Consul spends
//! with nobody talking to it; under `pets load` spread
//! over all of them, that the totals stay exact: visitors whose vote was
//! accepted = votes counted, pages answered 200 = pets served.

use std::path::Path;
use std::time::Duration;

use pets_load::options::Target;
use pets_load::LoadOptions;

use crate::consul::cpu_seconds;
use crate::pets::Pets;

pub const REPLICAS: usize = 16;
/// The load spread over the fleet, requests a second.
const RATE: u32 = 600;

pub struct FleetRow {
    /// Consul's CPU while the fleet idled, as a share of one core, and
    /// while nothing at all talked to it (its own heartbeats and gossip).
    pub idle_core_share: f64,
    pub baseline_core_share: f64,
    pub load: pets_load::report::Report,
    /// Votes counted and pets served, before and after the load.
    pub counted: u64,
    pub served: u64,
}

impl FleetRow {
    /// What the idle fleet adds to Consul's own CPU, as a share of one core.
    pub fn pets_core_share(&self) -> f64 {
        (self.idle_core_share - self.baseline_core_share).max(0.0)
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
    let idle = Duration::from_secs(seconds.max(5));
    let before = cpu_seconds(consul_pids)?;
    tokio::time::sleep(idle).await;
    let baseline_core_share = (cpu_seconds(consul_pids)? - before) / idle.as_secs_f64();
    eprintln!("starting {REPLICAS} pets replicas against the cluster");
    let mut fleet = Vec::new();
    for i in 0..REPLICAS {
        let log = out.join(format!("fleet-{i}.log"));
        fleet.push(Pets::start(binary, db, &prefix, &log)?.0);
    }
    // Let start-up writes settle, then measure the idle fleet.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = cpu_seconds(consul_pids)?;
    tokio::time::sleep(idle).await;
    let idle_core_share = (cpu_seconds(consul_pids)? - before) / idle.as_secs_f64();

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
    eprintln!("  pets load over {REPLICAS} replicas at {RATE}/s");
    let load = pets_load::run(options, None).await;
    let (served_after, counted_after) = fleet[0].tally()?;
    let sum = |v: [u64; 3]| v.iter().sum::<u64>();
    Ok(FleetRow {
        idle_core_share,
        baseline_core_share,
        load,
        counted: sum(counted_after) - sum(counted_before),
        served: served_after - served_before,
    })
}
