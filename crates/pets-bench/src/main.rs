//! The benchmark behind `scripts/bench.sh`.
//!
//! Starts a real three-server Consul cluster, the release `pets` against it
//! and nginx serving the pet page's own bytes, then loads each with wrk at
//! each concurrency (64 and 256 connections by default) for the same time.
//! It prints one table of absolute figures and the ratios the targets are
//! stated in, the closed-loop bound Consul's own latency sets on votes and
//! Consul's CPU per 1,000 votes, memory at each row's end and settled, and
//! exec-to-healthy time, and checks that no page view or vote was lost.
//! Then three curves of how cost grows, each with its targets and drawn as
//! an SVG chart: an idle fleet of 1 to 64 replicas ([`fleet`]), 256 to
//! 10,000 keep-alive clients ([`connections`]), and a store of 0 to 100,000
//! voters, or 1,000,000 with `--scale` ([`voters`]).
//! A lost count fails the run; the ratios are reported, never enforced, so a
//! noisy machine cannot fail it.

mod charts;
mod connections;
mod consul;
mod curves;
mod fill;
mod fleet;
mod pets;
mod report;
mod round;
mod voters;
mod wrk;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use pets_testkit::Cluster;

use crate::pets::{get, median, start_nginx, Pets};
use crate::round::{Round, Targets};
use crate::wrk::Wrk;

/// Sequential transactions whose median is Consul's unloaded latency.
pub const PROBES: usize = 300;

const USAGE: &str = "usage: pets-bench [--seconds N] [--connections N[,N...]] [--scale]
  --seconds N        each row's length (default 10)
  --connections ...  wrk's concurrencies (default 64,256)
  --scale            the voters curve goes on to 1,000,000 (about 10 minutes more)
  --charts DIR       where the curves' SVG charts go (default target/bench/charts)
  PETS_BIN=path      the pets binary to measure (default target/release/pets)";

struct Options {
    seconds: u64,
    connections: Vec<u32>,
    scale: bool,
    charts: Option<PathBuf>,
}

impl Options {
    fn parse() -> anyhow::Result<Self> {
        let mut options = Self {
            seconds: 10,
            connections: vec![64, 256],
            scale: false,
            charts: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if matches!(arg.as_str(), "--help" | "-h") {
                println!("{USAGE}");
                std::process::exit(0);
            }
            if arg == "--scale" {
                options.scale = true;
                continue;
            }
            let value = args
                .next()
                .with_context(|| format!("{arg} needs a value"))?;
            match arg.as_str() {
                "--seconds" => options.seconds = value.parse()?,
                "--charts" => options.charts = Some(PathBuf::from(value)),
                "--connections" => {
                    options.connections = value
                        .split(',')
                        .map(|c| c.trim().parse())
                        .collect::<Result<_, _>>()?
                }
                _ => bail!("unknown argument {arg}\n{USAGE}"),
            }
        }
        Ok(options)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse()?;
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let binary = std::env::var_os("PETS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target/release/pets"));
    let out = workspace.join("target/bench");
    std::fs::create_dir_all(&out)?;
    let wrk = Wrk::new(&out, options.seconds, 64)?;

    eprintln!("starting a three-server Consul cluster");
    let cluster = Cluster::start();
    cluster.wait_for_leader(Duration::from_secs(60)).await;
    let leader = cluster.leader().await.context("no leader")?;
    let leader_addr = format!("{}:8500", pets_testkit::SERVERS[leader]).parse()?;
    let prefix = format!("bench-{}/", std::process::id());
    let txn = consul::txn_latency(leader_addr, &prefix, PROBES)?;

    let mut starts = Vec::new();
    for round in 0..5 {
        let log = out.join(format!("pets-start-{round}.log"));
        let (pets, took) = Pets::start(&binary, &cluster.db(), &prefix, &log)?;
        drop(pets);
        starts.push(took);
    }
    let exec_to_healthy = median(starts);
    let consul_pids = cluster.pids();
    // The idle fleet first, on a cluster nothing has loaded yet: after the
    // rounds' hundreds of thousands of writes, Consul spends a while taking
    // Raft snapshots of them, which an idle window would count as the
    // fleet's (docs/PERFORMANCE.md, "How cost grows").
    let fleet = fleet::run(&binary, &cluster.db(), &out, &consul_pids, options.seconds).await?;
    let logs = Logs::new(&out, options.seconds)?;
    let (pets, _) = Pets::start(&binary, &cluster.db(), &prefix, &logs.dir.join("pets.log"))?;
    let (_, page) = get(pets.web, "/", "pets_vote=a")?;
    let (nginx_running, nginx) = start_nginx(&logs.dir.join("nginx"), &page)?;
    let targets = Targets {
        pets: &pets,
        nginx,
        consul_put: format!("http://{leader_addr}/v1/kv/{prefix}raw-put"),
        consul_pids: &consul_pids,
        consul_http: pets_testkit::SERVERS
            .iter()
            .map(|s| format!("{s}:8500").parse())
            .collect::<Result<_, _>>()?,
    };
    let mut rounds = Vec::new();
    for &connections in &options.connections {
        rounds.push(round::run(&wrk, connections, &targets)?);
    }
    drop(pets);
    drop(nginx_running);
    let connections = connections::run(&binary, &cluster.db(), &logs.dir, &wrk)?;
    // Last: it restores a snapshot of the whole cluster.
    let voters = voters::run(&voters::Setup {
        binary: &binary,
        db: cluster.db(),
        out: &logs.dir,
        wrk: &wrk,
        consul_pids: &consul_pids,
        leader: leader_addr,
        scale: options.scale,
    })
    .await?;
    report::report(options.seconds, &rounds, txn, exec_to_healthy);
    curves::connections(&connections);
    curves::fleet(&fleet);
    curves::voters(&voters);
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let charts = options.charts.clone().unwrap_or_else(|| out.join("charts"));
    for chart in curves::charts(&charts, &date, &fleet, &voters, &connections)? {
        println!("chart: {}", chart.display());
    }
    drop(cluster);
    let exact = rounds.iter().all(|r| r.pages_exact() && r.votes_exact());
    if !exact || !fleet.exact() || !voters.exact() {
        logs.keep(&out);
        bail!("counts were lost: see above");
    }
    let refused: u64 = rounds.iter().map(Round::refused_with_a_leader).sum();
    if refused > 0 {
        print_warnings(&logs.dir.join("pets.log"));
        logs.keep(&out);
        bail!("{refused} votes were refused while Consul had a leader at every look: see pets' warnings above");
    }
    Ok(())
}

/// pets' warnings and errors from its log, the last 40.
fn print_warnings(log: &std::path::Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    eprintln!(
        "pets' warnings during the run ({} in all, the last 40):",
        lines.len()
    );
    for line in &lines[lines.len().saturating_sub(40)..] {
        eprintln!("  {line}");
    }
}

/// Where pets and nginx write their logs during the rows: in memory
/// (`/dev/shm`) where there is one, so that writing back a run's hundreds
/// of MB of log lines does not queue in front of Consul's `fdatasync` on
/// the same disk. With the logs on disk, a 10 s votes row after a page row
/// often met one vote transaction stalled for 90 to 260 ms, and wrk, which
/// counts the requests a stalled connection did not send, made that the
/// whole p99 at 64 connections (see `docs/PERFORMANCE.md`).
/// Both servers still format and write every line. Removed after the run,
/// unless counts were lost. Where `/dev/shm` has too little room for a
/// run's lines, they go to disk, and the run says so.
struct Logs {
    dir: PathBuf,
    in_memory: bool,
}

impl Logs {
    fn new(out: &std::path::Path, seconds: u64) -> anyhow::Result<Self> {
        let shm = std::path::Path::new("/dev/shm");
        // A run of 10 s rows wrote 366 MiB of lines, both servers
        // together, on a machine serving 65,000 pages/s: ask for about
        // twice that.
        let wanted = (seconds.saturating_mul(64) << 20).max(512 << 20);
        let free = free_bytes(shm);
        let in_memory = free.is_some_and(|free| free >= wanted);
        if !in_memory {
            eprintln!(
                "logs on disk in {}: /dev/shm has {} MiB free, a run wants {} MiB",
                out.display(),
                free.unwrap_or(0) >> 20,
                wanted >> 20
            );
        }
        let dir = if in_memory {
            shm.join(format!("pets-bench-{}", std::process::id()))
        } else {
            out.to_path_buf()
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self { dir, in_memory })
    }

    /// Copies pets' log to `out` to be read after the run.
    fn keep(&self, out: &std::path::Path) {
        if self.in_memory {
            let _ = std::fs::copy(self.dir.join("pets.log"), out.join("pets.log"));
            eprintln!("pets' log: {}", out.join("pets.log").display());
        }
    }
}

impl Drop for Logs {
    fn drop(&mut self) {
        if self.in_memory {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The bytes free to an unprivileged writer on the file system at `path`.
fn free_bytes(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs only writes the struct given; all-zero is a valid one.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `stat` is writable.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}
