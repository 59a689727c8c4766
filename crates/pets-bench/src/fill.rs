//! Filling a store with voters through the real vote path: `count` new
//! voters, each a first `POST /vote` without cookies (for Cats), and every
//! tenth of them voting again with the cookies that vote was given (for
//! Dogs), as a voter changing their mind does. A fixed number of workers
//! share the count, so the concurrency is bounded; every answer is counted
//! by status, and the tally before and after must differ by exactly the
//! votes accepted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};

/// One voter in this many changes their vote.
const CHANGING: u64 = 10;
/// The slowest fill allowed, in votes a second: a run slower than this is
/// stopped rather than left to run for hours.
const SLOWEST: u64 = 300;

/// What a fill sent and how it was answered.
#[derive(Default)]
pub struct Sent {
    pub voters: u64,
    pub took: Duration,
    /// First votes and changed votes answered 303.
    pub first_accepted: u64,
    pub changes_accepted: u64,
    /// Every other answer, by status (0: no answer).
    pub others: BTreeMap<u16, u64>,
}

impl Sent {
    /// Counts one answer; whether it was accepted.
    fn answered(&mut self, status: u16, first: bool) -> bool {
        match (status, first) {
            (303, true) => self.first_accepted += 1,
            (303, false) => self.changes_accepted += 1,
            _ => *self.others.entry(status).or_default() += 1,
        }
        status == 303
    }
}

/// A fill, with the tally (Cats, Dogs, Both) before and after it.
pub struct Filled {
    pub sent: Sent,
    pub before: [u64; 3],
    pub after: [u64; 3],
}

impl Filled {
    /// Every accepted vote counted, and nothing refused: the tally moved by
    /// the votes accepted, and by at most the answers whose outcome is
    /// unknown (no answer, or a 504) on top.
    pub fn exact(&self) -> bool {
        let sum = |t: &[u64; 3]| t.iter().sum::<u64>();
        let unknown = self.sent.others.get(&0).copied().unwrap_or(0)
            + self.sent.others.get(&504).copied().unwrap_or(0);
        let within = |moved: u64, accepted: u64| moved >= accepted && moved - accepted <= unknown;
        within(
            sum(&self.after).saturating_sub(sum(&self.before)),
            self.sent.first_accepted,
        ) && within(
            self.after[1].saturating_sub(self.before[1]),
            self.sent.changes_accepted,
        )
    }

    pub fn votes_per_second(&self) -> f64 {
        let sent = &self.sent;
        (sent.first_accepted + sent.changes_accepted) as f64 / sent.took.as_secs_f64()
    }
}

/// Sends `count` new voters to pets at `web` over `workers` connections.
pub async fn fill(web: SocketAddr, count: u64, workers: usize) -> anyhow::Result<Sent> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(workers)
        .build()?;
    let next = Arc::new(AtomicU64::new(0));
    let counts = Arc::new(Mutex::new(Sent::default()));
    let deadline = Duration::from_secs(30 + count / SLOWEST);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (client, next, counts) = (client.clone(), next.clone(), counts.clone());
        let url = format!("http://{web}/vote");
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return;
                }
                if started.elapsed() > deadline {
                    return;
                }
                let (status, cookies) = vote(&client, &url, "a", None).await;
                if !counts.lock().expect("counts").answered(status, true) {
                    continue;
                }
                if i.is_multiple_of(CHANGING) {
                    let (status, _) = vote(&client, &url, "b", Some(cookies)).await;
                    counts.lock().expect("counts").answered(status, false);
                }
            }
        }));
    }
    for task in tasks {
        task.await.context("a fill worker panicked")?;
    }
    let took = started.elapsed();
    if took > deadline {
        bail!(
            "filling {count} voters took over {deadline:?}: slower than {SLOWEST} votes a second"
        );
    }
    let mut sent = std::mem::take(&mut *counts.lock().expect("counts"));
    sent.voters = count;
    sent.took = took;
    Ok(sent)
}

/// One `POST /vote`: its status (0 if there was no answer) and the cookies
/// it set, as a `Cookie` header.
async fn vote(
    client: &reqwest::Client,
    url: &str,
    choice: &str,
    cookies: Option<String>,
) -> (u16, String) {
    let mut request = client
        .post(url)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("name=voter&vote={choice}"));
    if let Some(cookies) = cookies {
        request = request.header(COOKIE, cookies);
    }
    let Ok(answer) = request.send().await else {
        return (0, String::new());
    };
    let cookies: Vec<&str> = answer
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect();
    (answer.status().as_u16(), cookies.join("; "))
}
