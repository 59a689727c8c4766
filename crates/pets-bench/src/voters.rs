//! The voters curve: what a store full of voters costs. One pets, on a
//! prefix of its own, is filled to each size in [`sizes`] through the real
//! vote path (every voter a real first vote, one in ten then changing it
//! with the cookie it was given), and at each size the benchmark measures
//! votes a second and the console's results rate (against the empty
//! store's, in the same run), pets' settled memory, the keys and bytes the
//! prefix holds in Consul, Consul's own memory, and how long a new replica
//! takes from exec to its first exact tally. At the largest size the store
//! is saved with `consul snapshot save`, restored with `consul snapshot
//! restore`, and a new replica must read the very same tally from it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::fill::{fill, Filled};
use crate::pets::{Pets, Resident};
use crate::wrk::{Load, Report, Wrk};

/// The concurrency of the filling and of each point's rows.
pub const CONNECTIONS: u32 = 64;
/// How long a new replica may take to read the exact tally.
const FIRST_TALLY_LIMIT: Duration = Duration::from_secs(60);

/// The sizes measured: 100,000 in every run, a million with `--scale`.
pub fn sizes(scale: bool) -> Vec<u64> {
    if scale {
        vec![0, 100_000, 1_000_000]
    } else {
        vec![0, 100_000]
    }
}

/// One size of the store.
pub struct VoterPoint {
    /// Distinct voters in the store when the point was measured.
    pub voters: u64,
    /// How the store was filled up to this size (none for the empty one).
    pub filled: Option<Filled>,
    pub votes: Report,
    pub admin: Report,
    /// pets' memory, settled after this size's rows.
    pub resident: Resident,
    pub kv: KvSize,
    /// The three Consul servers' resident memory, summed.
    pub consul_kib: u64,
    /// A new replica, from exec to its first answer with the exact tally.
    pub first_tally: Duration,
}

/// What the prefix holds in Consul.
pub struct KvSize {
    pub keys: u64,
    /// Key names and values, as stored.
    pub bytes: u64,
}

/// A snapshot of the largest store, saved and restored.
pub struct SnapshotCheck {
    pub bytes: u64,
    pub save: Duration,
    pub restore: Duration,
    /// The tally a new replica read after the restore, against the one
    /// before the save.
    pub before: [u64; 3],
    pub after: [u64; 3],
}

impl SnapshotCheck {
    pub fn identical(&self) -> bool {
        self.before == self.after
    }
}

pub struct VotersCurve {
    pub points: Vec<VoterPoint>,
    pub snapshot: SnapshotCheck,
}

impl VotersCurve {
    /// Every fill counted exactly, and the restored tally identical.
    pub fn exact(&self) -> bool {
        self.points
            .iter()
            .filter_map(|p| p.filled.as_ref())
            .all(Filled::exact)
            && self.snapshot.identical()
    }

    pub fn empty(&self) -> &VoterPoint {
        &self.points[0]
    }
}

/// Where the curve runs.
pub struct Setup<'a> {
    pub binary: &'a Path,
    pub db: String,
    pub out: &'a Path,
    pub wrk: &'a Wrk,
    pub consul_pids: &'a [u32],
    pub leader: SocketAddr,
    pub scale: bool,
}

pub async fn run(setup: &Setup<'_>) -> anyhow::Result<VotersCurve> {
    let prefix = format!("bench-voters-{}/", std::process::id());
    let log = setup.out.join("voters-pets.log");
    let (pets, _) = Pets::start(setup.binary, &setup.db, &prefix, &log)?;
    let wrk = setup.wrk.with_connections(CONNECTIONS);
    let mut points = Vec::new();
    for size in sizes(setup.scale) {
        let (_, before) = pets.tally()?;
        let have: u64 = before.iter().sum();
        let filled = if size > have {
            eprintln!("filling the store from {have} to {size} voters");
            let sent = fill(pets.web, size - have, CONNECTIONS as usize).await?;
            let (_, after) = pets.tally()?;
            Some(Filled {
                sent,
                before,
                after,
            })
        } else {
            None
        };
        let tally = match &filled {
            Some(filled) => filled.after,
            None => before,
        };
        let voters = tally.iter().sum();
        let kv = kv_size(setup.leader, &prefix).await?;
        let consul_kib = Resident::total_kib_of(setup.consul_pids.iter().copied())?;
        let first_tally = first_tally(setup, &prefix, tally)?;
        eprintln!("  at {voters} voters");
        let votes = wrk.run("votes", &format!("http://{}/vote", pets.web), Load::Vote)?;
        let admin = wrk.run(
            "admin results",
            &format!("http://{}/api/results", pets.admin),
            Load::Get { cookie: "" },
        )?;
        // After the same rows at every size: what the store's size adds,
        // not what serving at all does.
        let resident = pets.resident_settled()?;
        points.push(VoterPoint {
            voters,
            filled,
            votes,
            admin,
            resident,
            kv,
            consul_kib,
            first_tally,
        });
    }
    let snapshot = snapshot(setup, &prefix, &pets)?;
    Ok(VotersCurve { points, snapshot })
}

/// Starts a new replica on `prefix` and times it from exec to its first
/// `/api/results` with `tally`.
fn first_tally(setup: &Setup, prefix: &str, tally: [u64; 3]) -> anyhow::Result<Duration> {
    let log = setup.out.join("voters-new-replica.log");
    let started = Instant::now();
    let (replica, _) = Pets::start(setup.binary, &setup.db, prefix, &log)?;
    loop {
        if replica.votes_now().ok() == Some(tally) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > FIRST_TALLY_LIMIT {
            bail!(
                "a new replica did not read the tally {tally:?} in {FIRST_TALLY_LIMIT:?}; it reads {:?}",
                replica.votes_now().ok()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `consul snapshot save`, then `consul snapshot restore` of the same file,
/// and the tally a new replica reads afterwards.
fn snapshot(setup: &Setup, prefix: &str, pets: &Pets) -> anyhow::Result<SnapshotCheck> {
    let file = setup.out.join("voters.snap");
    let (_, before) = pets.tally()?;
    let http = format!("-http-addr={}", setup.leader);
    let consul = pets_testkit::consul_binary();
    let run = |args: &[&str]| -> anyhow::Result<Duration> {
        let started = Instant::now();
        let output = Command::new(&consul).args(args).output()?;
        if !output.status.success() {
            bail!(
                "consul {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(started.elapsed())
    };
    eprintln!("saving and restoring a snapshot of the store");
    let path = file.display().to_string();
    let save = run(&["snapshot", "save", &http, &path])?;
    let bytes = std::fs::metadata(&file)?.len();
    let restore = run(&["snapshot", "restore", &http, &path])?;
    let _ = std::fs::remove_file(&file);
    let log = setup.out.join("voters-restored-replica.log");
    let (replica, _) = Pets::start(setup.binary, &setup.db, prefix, &log)?;
    let (_, after) = replica.tally()?;
    Ok(SnapshotCheck {
        bytes,
        save,
        restore,
        before,
        after,
    })
}

/// The keys under `prefix` and their bytes (names and values), read from
/// the leader in one recursive listing.
async fn kv_size(leader: SocketAddr, prefix: &str) -> anyhow::Result<KvSize> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "Key")]
        key: String,
        #[serde(rename = "Value")]
        value: Option<String>,
    }
    let url = format!("http://{leader}/v1/kv/{prefix}?recurse");
    let entries: Vec<Entry> = reqwest::get(&url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("listing {url}"))?
        .json()
        .await?;
    let decoded = |b64: &str| {
        let padding = b64.bytes().rev().take_while(|&b| b == b'=').count();
        (b64.len() / 4 * 3).saturating_sub(padding) as u64
    };
    Ok(KvSize {
        keys: entries.len() as u64,
        bytes: entries
            .iter()
            .map(|e| e.key.len() as u64 + e.value.as_deref().map_or(0, decoded))
            .sum(),
    })
}
