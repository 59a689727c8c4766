//! Running wrk with a Lua script that counts every response by status, so
//! the benchmark knows exactly how many pages and votes were answered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

const COUNTING: &str = r#"
counts = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts")) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do io.write(string.format("status %d %d\n", status, n)) end
  io.write(string.format("p50_us %d\np99_us %d\n", latency:percentile(50), latency:percentile(99)))
end
"#;

pub enum Load<'a> {
    Get {
        cookie: &'a str,
    },
    /// `POST /vote` for Cats, as a new voter every time.
    Vote,
    /// `PUT` of a small value.
    Put,
}

pub struct Wrk {
    dir: PathBuf,
    seconds: u64,
    connections: u32,
}

pub struct Report {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// wrk's socket errors: connects refused or timed out, reads and
    /// writes failed, requests that timed out (2 s).
    pub socket_errors: u64,
    statuses: BTreeMap<u16, u64>,
}

impl Report {
    pub fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// Every status but `except`, with its count: "503 x 12, 500 x 1", or
    /// "none".
    pub fn besides(&self, except: u16) -> String {
        let others: Vec<String> = self
            .statuses
            .iter()
            .filter(|(s, _)| **s != except)
            .map(|(s, n)| format!("{s} x {n}"))
            .collect();
        if others.is_empty() {
            "none".into()
        } else {
            others.join(", ")
        }
    }

    pub fn others(&self, status: u16) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| **s != status)
            .map(|(_, n)| n)
            .sum()
    }
}

impl Wrk {
    pub fn new(dir: &Path, seconds: u64, connections: u32) -> anyhow::Result<Self> {
        Command::new("wrk")
            .arg("--version")
            .output()
            .context("wrk is not installed: run scripts/install-deps.sh")?;
        Ok(Self {
            dir: dir.to_owned(),
            seconds,
            connections,
        })
    }

    /// The same, at another concurrency.
    pub fn with_connections(&self, connections: u32) -> Self {
        Self {
            dir: self.dir.clone(),
            seconds: self.seconds,
            connections,
        }
    }

    pub fn seconds(&self) -> u64 {
        self.seconds
    }

    pub fn run(&self, name: &str, url: &str, load: Load) -> anyhow::Result<Report> {
        let request = match load {
            Load::Get { cookie: "" } => String::new(),
            Load::Get { cookie } => format!("wrk.headers[\"Cookie\"] = \"{cookie}\"\n"),
            Load::Vote => "wrk.method = \"POST\"\nwrk.body = \"name=bench&vote=a\"\n\
                 wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n"
                .into(),
            Load::Put => "wrk.method = \"PUT\"\nwrk.body = \"x\"\n".into(),
        };
        let script = self.dir.join(format!(
            "{}-{}.lua",
            name.replace([' ', ','], "-"),
            self.connections
        ));
        std::fs::write(&script, format!("{request}{COUNTING}"))?;
        eprintln!("  {name}: {url}");
        let output = Command::new("wrk")
            .args([
                "-t2",
                &format!("-c{}", self.connections),
                &format!("-d{}s", self.seconds),
            ])
            .arg("-s")
            .arg(&script)
            .arg(url)
            .output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "wrk failed on {name}: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        parse(&text).with_context(|| format!("reading wrk's report for {name}:\n{text}"))
    }
}

fn parse(text: &str) -> anyhow::Result<Report> {
    let mut report = Report {
        requests_per_second: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        socket_errors: 0,
        statuses: BTreeMap::new(),
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rate] => report.requests_per_second = rate.parse()?,
            ["status", status, n] => {
                report.statuses.insert(status.parse()?, n.parse()?);
            }
            ["p50_us", us] => report.p50_ms = us.parse::<f64>()? / 1e3,
            ["p99_us", us] => report.p99_ms = us.parse::<f64>()? / 1e3,
            ["Socket", "errors:", counts @ ..] => {
                // "connect 0, read 3, write 0, timeout 12"
                report.socket_errors = counts
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    if report.requests_per_second == 0.0 {
        bail!("no Requests/sec line");
    }
    Ok(report)
}
