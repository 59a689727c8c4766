//! The processes the benchmark runs and talks to: pets (release build)
//! against the cluster, nginx serving the pet page's own bytes, and the
//! small blocking HTTP/1.0 client that checks on them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

/// A child process stopped when dropped: SIGQUIT first, so a server with
/// workers (nginx) takes them down with it, then SIGKILL.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGQUIT) };
        for _ in 0..50 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One blocking HTTP/1.0 exchange; returns status and body.
pub fn send(addr: SocketAddr, request: &str) -> std::io::Result<(u16, String)> {
    send_within(
        addr,
        request,
        Duration::from_millis(200),
        Duration::from_secs(5),
    )
}

/// [`send`], with the time the connection and the answer may each take.
pub fn send_within(
    addr: SocketAddr,
    request: &str,
    connect: Duration,
    answer_in: Duration,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, connect)?;
    stream.set_read_timeout(Some(answer_in))?;
    stream.write_all(request.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

pub fn get(addr: SocketAddr, path: &str, cookie: &str) -> std::io::Result<(u16, String)> {
    send(
        addr,
        &format!("GET {path} HTTP/1.0\r\nHost: bench\r\nCookie: {cookie}\r\n\r\n"),
    )
}

pub struct Pets {
    process: Running,
    pub web: SocketAddr,
    pub admin: SocketAddr,
}

impl Pets {
    /// Starts pets and returns it with the time from exec to its first
    /// healthy `/health`. Its ports are picked free, but another socket (an
    /// outgoing connection's ephemeral port, after rows of 256 connections)
    /// can take one before pets binds it: a pets that exits at start is
    /// started again on other ports, a few times.
    pub fn start(
        binary: &Path,
        db: &str,
        prefix: &str,
        log: &Path,
    ) -> anyhow::Result<(Self, Duration)> {
        Self::start_with(binary, db, prefix, log, &[])
    }

    /// [`Pets::start`], with more settings in its environment.
    pub fn start_with(
        binary: &Path,
        db: &str,
        prefix: &str,
        log: &Path,
        settings: &[(&str, &str)],
    ) -> anyhow::Result<(Self, Duration)> {
        const ATTEMPTS: usize = 3;
        for attempt in 1..=ATTEMPTS {
            match Self::start_once(binary, db, prefix, log, settings)? {
                Some(started) => return Ok(started),
                None => {
                    let said = std::fs::read_to_string(log).unwrap_or_default();
                    let last = said.lines().find(|l| l.contains("cannot start"));
                    eprintln!(
                        "pets exited at start (attempt {attempt} of {ATTEMPTS}): {}",
                        last.unwrap_or("no reason logged")
                    );
                }
            }
        }
        bail!(
            "pets exited at start {ATTEMPTS} times; see {}",
            log.display()
        )
    }

    /// One start: `None` if pets exited before it was healthy.
    fn start_once(
        binary: &Path,
        db: &str,
        prefix: &str,
        log: &Path,
        settings: &[(&str, &str)],
    ) -> anyhow::Result<Option<(Self, Duration)>> {
        let (web, admin) = (pets_testkit::free_port(), pets_testkit::free_port());
        let log = std::fs::File::create(log)?;
        let started = Instant::now();
        let child = Command::new(binary)
            .env("WEB_PORT", web.to_string())
            .env("ADMIN_PORT", admin.to_string())
            .env("PETS_BIND", "127.0.0.1")
            .env("DB", db)
            .env("PETS_KV_PREFIX", prefix)
            // Every vote of the votes rows is a new voter from 127.0.0.1.
            .env("PETS_NEW_VOTERS_PER_MINUTE", "0")
            .envs(settings.iter().copied())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut pets = Self {
            process: Running(child),
            web: SocketAddr::from(([127, 0, 0, 1], web)),
            admin: SocketAddr::from(([127, 0, 0, 1], admin)),
        };
        loop {
            if let Ok((200, _)) = get(pets.web, "/health", "") {
                return Ok(Some((pets, started.elapsed())));
            }
            if pets.process.0.try_wait()?.is_some() {
                return Ok(None);
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("pets did not become healthy in 10 s");
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    fn results(&self) -> anyhow::Result<Value> {
        let (status, body) = get(self.admin, "/api/results", "")?;
        if status != 200 {
            bail!("/api/results answered {status}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    /// Pets served and votes for Cats, once every replica's counts are flushed.
    pub fn counts(&self) -> anyhow::Result<(u64, u64)> {
        let (served, votes) = self.tally()?;
        Ok((served, votes[0]))
    }

    /// Pets served and every option's votes, once every replica's counts
    /// are flushed.
    pub fn tally(&self) -> anyhow::Result<(u64, [u64; 3])> {
        std::thread::sleep(Duration::from_millis(1200));
        let results = self.results()?;
        Ok((results["hits"].as_u64().unwrap_or(0), votes_of(&results)))
    }

    /// Every option's votes as this replica shows them now.
    pub fn votes_now(&self) -> anyhow::Result<[u64; 3]> {
        Ok(votes_of(&self.results()?))
    }

    /// pets' resident memory now.
    pub fn resident(&self) -> anyhow::Result<Resident> {
        Resident::of(self.pid())
    }

    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// pets' resident memory once it has been idle for [`SETTLE`]: what it
    /// keeps after a burst, rather than where its once-a-second hand-back
    /// of freed pages happened to be when the load stopped.
    pub fn resident_settled(&self) -> anyhow::Result<Resident> {
        std::thread::sleep(SETTLE);
        self.resident()
    }
}

fn votes_of(results: &Value) -> [u64; 3] {
    let votes = |i: usize| results["options"][i]["votes"].as_u64().unwrap_or(0);
    [votes(0), votes(1), votes(2)]
}

/// How long pets idles before its settled memory is read: two of its
/// once-a-second returns of freed memory (`crates/pets/src/memory.rs`).
pub const SETTLE: Duration = Duration::from_millis(2100);

/// Resident memory, and where it is.
#[derive(Clone, Copy)]
pub struct Resident {
    pub total_kib: u64,
    /// Anonymous pages: the heap, stacks and the allocator's arenas.
    pub heap_kib: u64,
    /// Pages mapped from files: the executable's code and read-only data
    /// (the pictures and templates are built in) and the shared libraries;
    /// shared with the page cache, and the same from start to end.
    pub mapped_kib: u64,
}

impl Resident {
    /// A process's resident memory now, from `/proc/<pid>/status`.
    pub fn of(pid: u32) -> anyhow::Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .with_context(|| format!("no {name} in /proc/{pid}/status"))
        };
        Ok(Self {
            total_kib: field("VmRSS:")?,
            heap_kib: field("RssAnon:")?,
            mapped_kib: field("RssFile:")?,
        })
    }

    /// The resident memory of several processes, summed, in KiB.
    pub fn total_kib_of(pids: impl IntoIterator<Item = u32>) -> anyhow::Result<u64> {
        pids.into_iter()
            .map(|pid| Self::of(pid).map(|r| r.total_kib))
            .sum()
    }

    pub fn mib(kib: u64) -> f64 {
        kib as f64 / 1024.0
    }
}

/// nginx (Debian's nginx-light) serving one file on a free port.
pub fn start_nginx(dir: &Path, page: &str) -> anyhow::Result<(Running, SocketAddr)> {
    let port = pets_testkit::free_port();
    std::fs::create_dir_all(dir.join("html"))?;
    std::fs::write(dir.join("html/index.html"), page)?;
    let conf = format!(
        "worker_processes 2;\nworker_rlimit_nofile 20000;\nerror_log {dir}/error.log;\npid {dir}/nginx.pid;\ndaemon off;\n\
         events {{ worker_connections 16384; }}\n\
         http {{ access_log {dir}/access.log; sendfile on; tcp_nopush on; keepalive_requests 1000000;\n\
         server {{ listen 127.0.0.1:{port}; root {dir}/html; location / {{ default_type text/html; }} }} }}\n",
        dir = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf)?;
    let child = Command::new("nginx")
        .args([
            "-c",
            &dir.join("nginx.conf").display().to_string(),
            "-p",
            &dir.display().to_string(),
        ])
        .stderr(Stdio::null())
        .spawn()
        .context("nginx is not installed: run scripts/install-deps.sh")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while !matches!(get(addr, "/", ""), Ok((200, _))) {
        if started.elapsed() > Duration::from_secs(5) {
            bail!("nginx did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((Running(child), addr))
}

pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}
