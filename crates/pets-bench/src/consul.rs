//! What Consul itself can do on this machine, measured in the same run as
//! pets: the unloaded latency of one write transaction (so the closed-loop
//! bound `connections / latency` says how far the votes are from the
//! machine's limit), and the CPU time the three servers spend (so a row can
//! say what 1,000 votes, or an idle fleet, cost Consul).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::pets::median;

/// The median of `n` sequential one-key write transactions on `server`.
pub fn txn_latency(server: SocketAddr, prefix: &str, n: usize) -> anyhow::Result<Duration> {
    let body = format!(r#"[{{"KV":{{"Verb":"set","Key":"{prefix}txn-probe","Value":"eA=="}}}}]"#);
    let mut took = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let (status, answer) = crate::pets::send(
            server,
            &format!(
                "PUT /v1/txn HTTP/1.0\r\nHost: bench\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )?;
        if status != 200 {
            bail!("a probe transaction answered {status}: {answer}");
        }
        took.push(started.elapsed());
    }
    Ok(median(took))
}

/// CPU seconds (user and system) the given processes have used so far.
pub fn cpu_seconds(pids: &[u32]) -> anyhow::Result<f64> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut total = 0.0;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        // The fields after the command name, which may hold spaces.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15; `rest` starts at field 3.
        let utime: f64 = fields.get(11).context("no utime")?.parse()?;
        let stime: f64 = fields.get(12).context("no stime")?.parse()?;
        total += (utime + stime) / ticks;
    }
    Ok(total)
}

/// CPU seconds a process group used while `f` ran.
pub fn cpu_during<T>(
    pids: &[u32],
    f: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<(T, f64)> {
    let before = cpu_seconds(pids)?;
    let value = f()?;
    Ok((value, cpu_seconds(pids)? - before))
}

/// Whether the cluster had a leader all along while something ran: every
/// 200 ms each server is asked whom it follows, and a look at which no
/// server names a leader counts as leaderless.
pub struct LeaderWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<(u64, u64)>>,
}

impl LeaderWatch {
    pub fn start(servers: Vec<SocketAddr>) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let watching = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut looks, mut leaderless) = (0, 0);
            while !watching.load(Ordering::Relaxed) {
                let named = servers.iter().any(|server| {
                    crate::pets::get(*server, "/v1/status/leader", "")
                        .is_ok_and(|(status, body)| status == 200 && body.trim().len() > 2)
                });
                looks += 1;
                if !named {
                    leaderless += 1;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            (looks, leaderless)
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Looks made, and how many of them found no leader.
    pub fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or((0, 0))
    }
}
