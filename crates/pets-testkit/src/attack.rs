//! What the hardening tests throw at a server, shared by pets' tests and
//! `pets paas`' alike: bodies sent a byte at a time, idle connections, and a
//! probe that says whether the server still answers.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Opens `n` connections to `addr`, each starting a form POST to `path` on
/// `host` that declares 16,000 bytes of body and then sends one byte every
/// `every`, until `until`; a connection the server closes is opened again.
/// Each task returns how many connections it opened.
pub fn slow_bodies(
    addr: &str,
    host: &str,
    path: &str,
    n: usize,
    every: Duration,
    until: Instant,
) -> JoinSet<usize> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 16000\r\n\r\n"
    );
    let mut attackers = JoinSet::new();
    for _ in 0..n {
        let (addr, head) = (addr.to_owned(), head.clone());
        attackers.spawn(async move {
            let mut opened = 0;
            while Instant::now() < until {
                let Ok(mut stream) = TcpStream::connect(&addr).await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                opened += 1;
                if stream.write_all(head.as_bytes()).await.is_err() {
                    continue;
                }
                while Instant::now() < until {
                    if stream.write_all(b"a").await.is_err() {
                        break;
                    }
                    tokio::time::sleep(every).await;
                }
            }
            opened
        });
    }
    attackers
}

/// Opens `n` connections to `addr` that send nothing, and holds them.
pub async fn idle_connections(addr: &str, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        if let Ok(stream) = TcpStream::connect(addr).await {
            held.push(stream);
        }
    }
    held
}

/// A GET of `url` on a fresh connection, answered within `limit`: its
/// status, or 0.
pub async fn probe(url: &str, limit: Duration) -> u16 {
    reqwest::Client::builder()
        .timeout(limit)
        .build()
        .expect("a plain client builds")
        .get(url)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Waits for every task of `attackers`, and the connections they opened.
pub async fn opened(mut attackers: JoinSet<usize>) -> usize {
    let mut opened = 0;
    while let Some(n) = attackers.join_next().await {
        opened += n.unwrap_or(0);
    }
    opened
}

/// What [`probe_rounds`] saw: for each URL, how many probes failed, and in
/// which rounds one failed right after another had.
#[derive(Debug, Default)]
pub struct Probes {
    pub rounds: usize,
    pub answered: usize,
    pub slowest: Duration,
    failures: Vec<usize>,
    twice: Vec<usize>,
}

impl Probes {
    /// The standard a health check holds a server to: at least
    /// `min_rounds` rounds, no URL failing twice in a row (an orchestrator
    /// gives up after two failures in a row), nor more than once.
    pub fn assert_held(&self, min_rounds: usize) {
        assert!(
            self.rounds >= min_rounds,
            "{} rounds of probes",
            self.rounds
        );
        assert!(
            self.twice.is_empty(),
            "two failures in a row: rounds {:?}",
            self.twice
        );
        assert!(
            self.failures.iter().all(|&n| n <= 1),
            "at most one probe a URL unanswered: {:?} failed; {} of {} answered",
            self.failures,
            self.answered,
            self.rounds * self.failures.len()
        );
    }
}

impl std::fmt::Display for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} probes answered, the slowest in {:?}",
            self.answered,
            self.rounds * self.failures.len(),
            self.slowest
        )
    }
}

/// Probes every one of `urls` at once, each on a fresh connection within
/// `limit`, every half second until `limit` before `until`. Every failure
/// is printed as it happens.
pub async fn probe_rounds(urls: &[String], limit: Duration, until: Instant) -> Probes {
    let mut seen = Probes {
        failures: vec![0; urls.len()],
        ..Probes::default()
    };
    let mut failed_last = vec![false; urls.len()];
    while Instant::now() + limit < until {
        seen.rounds += 1;
        let timed: Vec<_> = urls
            .iter()
            .map(|url| {
                let url = url.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    (probe(&url, limit).await, started.elapsed())
                })
            })
            .collect();
        for (i, handle) in timed.into_iter().enumerate() {
            let (status, took) = handle.await.expect("a probe does not panic");
            seen.slowest = seen.slowest.max(took);
            if status == 200 {
                seen.answered += 1;
            } else {
                seen.failures[i] += 1;
                eprintln!(
                    "round {}, {}: {status} after {took:?}",
                    seen.rounds, urls[i]
                );
                if failed_last[i] {
                    seen.twice.push(seen.rounds);
                }
            }
            failed_last[i] = status != 200;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    seen
}
