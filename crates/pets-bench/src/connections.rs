//! The connections curve: the pet page at 256, 2,048 and 10,000 keep-alive
//! clients, against nginx on the same bytes at each, with pets' memory at
//! each row's end and settled, and `/health` asked on a new connection
//! every 100 ms throughout (it must answer within 1 s).
//!
//! pets' connection cap (`PETS_MAX_CONNECTIONS`, 1,024 per port by default)
//! is below 10,000, so this curve's pets runs with the cap at [`CAP`], and
//! the benchmark raises its own open-files limit (which pets, wrk and nginx
//! inherit) to [`OPEN_FILES`] so that the cap fits. Nothing outside the
//! benchmark changes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::pets::{get, send_within, start_nginx, Pets, Resident};
use crate::wrk::{Load, Report, Wrk};

/// The clients at each point.
pub const SIZES: [u32; 3] = [256, 2_048, 10_000];
/// pets' connection cap for this curve: the largest point and room for
/// the health probe.
pub const CAP: u32 = 10_240;
/// The open-files limit the benchmark asks for: two ports at [`CAP`] each
/// with room to spare, for pets; wrk and nginx need one per client.
const OPEN_FILES: u64 = 65_536;
/// How often `/health` is asked during a row.
const PROBE_EVERY: Duration = Duration::from_millis(100);

pub struct ConnectionPoint {
    pub connections: u32,
    pub page: Report,
    pub nginx: Report,
    pub at_end: Resident,
    pub settled: Resident,
    /// The slowest `/health` during the page row, and the probes that got
    /// no 200 at all.
    pub health_worst: Duration,
    pub health_failed: u64,
}

pub struct ConnectionsCurve {
    pub points: Vec<ConnectionPoint>,
    /// pets' memory before the first row, idle.
    pub idle: Resident,
    /// The open-files limit the rows ran with.
    pub open_files: u64,
}

impl ConnectionPoint {
    /// pets' memory per connection at the row's end, over its idle figure.
    pub fn kib_per_connection(&self, idle: &Resident) -> f64 {
        self.at_end.total_kib.saturating_sub(idle.total_kib) as f64 / f64::from(self.connections)
    }

    pub fn ratio(&self) -> f64 {
        self.page.requests_per_second / self.nginx.requests_per_second
    }
}

pub fn run(binary: &Path, db: &str, out: &Path, wrk: &Wrk) -> anyhow::Result<ConnectionsCurve> {
    let open_files = pets_web::open_files::raise_open_files_to(OPEN_FILES);
    let prefix = format!("bench-connections-{}/", std::process::id());
    let cap = CAP.to_string();
    let (pets, _) = Pets::start_with(
        binary,
        db,
        &prefix,
        &out.join("connections-pets.log"),
        &[("PETS_MAX_CONNECTIONS", &cap)],
    )?;
    let (_, page) = get(pets.web, "/", "pets_vote=a")?;
    let (_nginx, nginx) = start_nginx(&out.join("connections-nginx"), &page)?;
    let idle = pets.resident_settled()?;
    let mut points = Vec::new();
    for connections in SIZES {
        eprintln!("the pet page at {connections} keep-alive clients");
        let wrk = wrk.with_connections(connections);
        let probe = HealthProbe::start(pets.web);
        let page = wrk.run(
            "pet page",
            &format!("http://{}/", pets.web),
            Load::Get {
                cookie: "pets_vote=a",
            },
        )?;
        let at_end = pets.resident()?;
        let (health_worst, health_failed) = probe.finish();
        let nginx = wrk.run(
            "nginx, same bytes",
            &format!("http://{nginx}/"),
            Load::Get {
                cookie: "pets_vote=a",
            },
        )?;
        points.push(ConnectionPoint {
            connections,
            page,
            nginx,
            at_end,
            settled: pets.resident_settled()?,
            health_worst,
            health_failed,
        });
    }
    Ok(ConnectionsCurve {
        points,
        idle,
        open_files,
    })
}

/// `GET /health` on a new connection every [`PROBE_EVERY`], on a thread of
/// its own, until finished.
struct HealthProbe {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Duration, u64)>,
}

impl HealthProbe {
    fn start(web: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let probing = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut worst, mut failed) = (Duration::ZERO, 0);
            while !probing.load(Ordering::Relaxed) {
                let started = Instant::now();
                let asked = send_within(
                    web,
                    "GET /health HTTP/1.0\r\nHost: bench\r\n\r\n",
                    Duration::from_secs(1),
                    Duration::from_secs(1),
                );
                if !matches!(asked, Ok((200, _))) {
                    failed += 1;
                }
                worst = worst.max(started.elapsed());
                std::thread::sleep(PROBE_EVERY);
            }
            (worst, failed)
        });
        Self { stop, thread }
    }

    fn finish(self) -> (Duration, u64) {
        self.stop.store(true, Ordering::Relaxed);
        // A probe that panicked counts as one that never answered.
        self.thread.join().unwrap_or((Duration::MAX, 1))
    }
}
