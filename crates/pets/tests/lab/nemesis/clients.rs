//! The nemesis's clients: voters, each with their own cookies, voting and
//! voting again through every web task the nodes report (the isolated
//! node's too), and fetching their pet's page after each vote. Every answer
//! is recorded with when it was sent, where, and what it said, for the
//! checker.
//!
//! Cookies are kept by hand, one jar per voter for every address: a browser
//! would keep one per site, and the site here is every task at once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::prod::service;
use crate::rig::Lab;

/// What an answer said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 303 for a vote (committed), 200 for a page (served).
    Done,
    /// A 5xx: pets says it was not done.
    Refused(u16),
    /// No connection was made: nothing reached pets.
    Undelivered,
    /// The connection broke or timed out after the request was sent: it
    /// may or may not have been done.
    Unknown,
    /// Any other answer: a bug.
    Odd(u16),
}

/// One request and its answer.
#[derive(Clone, Debug)]
pub struct Sent {
    /// After the run's start.
    pub at: Duration,
    pub node: usize,
    pub ip: String,
    /// The vote (0 to 2), or `None` for a page.
    pub choice: Option<usize>,
    /// The voter id the request's cookie named, if any.
    pub as_id: Option<String>,
    pub outcome: Outcome,
}

/// One voter's name (unique), their current voter id, and everything they
/// sent.
#[derive(Clone, Debug, Default)]
pub struct VoterLog {
    pub name: String,
    pub id: Option<String>,
    pub sent: Vec<Sent>,
}

pub struct Clients {
    logs: Vec<Arc<Mutex<VoterLog>>>,
    stop: Arc<AtomicBool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

/// The web tasks' addresses, by node, as last read from each node's engine.
type Targets = Arc<Mutex<Vec<(usize, String)>>>;

impl Clients {
    /// `voters` voters, from `began`, for at most `limit`.
    pub fn start(lab: &Arc<Lab>, voters: usize, began: Instant, limit: Duration) -> Self {
        let targets: Targets = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = vec![refresher(lab.clone(), targets.clone(), stop.clone())];
        let mut logs = Vec::new();
        for v in 0..voters {
            let log = Arc::new(Mutex::new(VoterLog {
                name: format!("nemesis voter {v:03}"),
                ..VoterLog::default()
            }));
            logs.push(log.clone());
            let voter = Voter {
                log,
                targets: targets.clone(),
                jar: BTreeMap::new(),
                began,
                turn: v,
            };
            let stop = stop.clone();
            handles.push(tokio::spawn(async move {
                voter.run(&stop, limit).await;
            }));
        }
        Self {
            logs,
            stop,
            handles,
        }
    }

    /// Stops, waits for the answers in flight, and returns every log.
    pub async fn stop(mut self) -> Vec<VoterLog> {
        self.stop.store(true, Ordering::Relaxed);
        for handle in std::mem::take(&mut self.handles) {
            handle.await.unwrap();
        }
        self.logs
            .iter()
            .map(|l| l.lock().unwrap().clone())
            .collect()
    }
}

impl Drop for Clients {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Voter {
    log: Arc<Mutex<VoterLog>>,
    targets: Targets,
    /// Cookie name -> value.
    jar: BTreeMap<String, String>,
    began: Instant,
    turn: usize,
}

impl Voter {
    async fn run(mut self, stop: &AtomicBool, limit: Duration) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut last: Option<usize> = None;
        while !stop.load(Ordering::Relaxed) && self.began.elapsed() < limit {
            let Some((node, ip)) = self.next_target() else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            // Always another pet than the last one sent, so a vote that
            // stayed when it should not have shows.
            let choice = match last {
                Some(l) => (l + rand::rng().random_range(1..=2)) % 3,
                None => rand::rng().random_range(0..3),
            };
            last = Some(choice);
            let name = self.log.lock().unwrap().name.clone();
            let request = client
                .post(format!("http://{ip}:5000/vote"))
                .form(&[("name", name.as_str()), ("vote", ["a", "b", "c"][choice])]);
            let voted = self.send(request, node, &ip, Some(choice), 303).await;
            if voted == Outcome::Done {
                if let Some((node, ip)) = self.next_target() {
                    let request = client.get(format!("http://{ip}:5000/"));
                    self.send(request, node, &ip, None, 200).await;
                }
            }
            let pause = rand::rng().random_range(300..=700);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }

    /// The next task in this voter's turn, over every task of every node.
    fn next_target(&mut self) -> Option<(usize, String)> {
        let targets = self.targets.lock().unwrap();
        self.turn += 1;
        (!targets.is_empty()).then(|| targets[self.turn % targets.len()].clone())
    }

    /// Sends with this voter's cookies, keeps the ones the answer sets, and
    /// records the answer.
    async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
        node: usize,
        ip: &str,
        choice: Option<usize>,
        done: u16,
    ) -> Outcome {
        let as_id = self.voter_id();
        let cookie: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let at = self.began.elapsed();
        let outcome = match request.header("cookie", cookie.join("; ")).send().await {
            Ok(answer) => {
                let status = answer.status().as_u16();
                if status == done {
                    self.keep_cookies(&answer);
                }
                match status {
                    s if s == done => Outcome::Done,
                    500..=599 => Outcome::Refused(status),
                    _ => Outcome::Odd(status),
                }
            }
            Err(e) if e.is_connect() => Outcome::Undelivered,
            Err(_) => Outcome::Unknown,
        };
        let mut log = self.log.lock().unwrap();
        log.id = self.voter_id();
        log.sent.push(Sent {
            at,
            node,
            ip: ip.to_owned(),
            choice,
            as_id,
            outcome: outcome.clone(),
        });
        outcome
    }

    fn keep_cookies(&mut self, answer: &reqwest::Response) {
        for line in answer.headers().get_all("set-cookie") {
            let Some(pair) = line.to_str().ok().and_then(|l| l.split(';').next()) else {
                continue;
            };
            if let Some((name, value)) = pair.split_once('=') {
                self.jar
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    /// The id in the voter cookie (`<id>.<mac>`).
    fn voter_id(&self) -> Option<String> {
        let cookie = self.jar.get("pets_voter")?;
        Some(cookie.split_once('.')?.0.to_owned())
    }
}

/// Reads each node's web tasks every second, off the runtime's threads. A
/// node whose engine does not answer keeps its last list while it runs
/// (its tasks may still answer: an isolated node keeps its clients) and
/// loses it when it is killed.
fn refresher(
    lab: Arc<Lab>,
    targets: Targets,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        let mut by_node: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        while !stop.load(Ordering::Relaxed) {
            for node in &lab.nodes {
                if !node.up() {
                    by_node.remove(&node.index);
                } else if let Ok(tasks) = node.tasks(&service("web")) {
                    by_node.insert(node.index, tasks.into_iter().map(|t| t.ip).collect());
                }
            }
            *targets.lock().unwrap() = by_node
                .iter()
                .flat_map(|(n, ips)| ips.iter().map(|ip| (*n, ip.clone())))
                .collect();
            std::thread::sleep(Duration::from_secs(1));
        }
    })
}
