//! The nemesis's clients: voters, each with their own cookies, voting and
//! voting again through every web task the nodes report (the isolated
//! node's too), and fetching their pet's page after each vote. Every answer
//! is recorded with when it was sent, where, and what it said, for the
//! checker.
//!
//! A voter casts a few to a few dozen votes and leaves; a new voter, with no
//! cookies, takes their place. So voters leave during faults as well as
//! between them, and the vote each one leaves behind is checked. Every vote
//! names itself in the voter's name (`nemesis 0042 vote 7`), which the
//! record keeps, so the checker knows which vote a record holds.
//!
//! Cookies are kept by hand, one jar per voter for every address: a browser
//! would keep one per site, and the site here is every task at once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// A 5xx but 504: pets says it was not done.
    Refused(u16),
    /// No connection was made: nothing reached pets.
    Undelivered,
    /// The connection broke or timed out after the request was sent, or
    /// pets answered 504 (it sent the vote on and Consul did not say in
    /// time): it may or may not have been done.
    Unknown,
    /// Any other answer: a bug.
    Odd(u16),
}

/// One request and its answer.
#[derive(Clone, Debug)]
pub struct Sent {
    /// The vote's number for its voter (a page: the vote before it).
    pub seq: usize,
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

/// One voter's name (unique; each vote adds its number to it), their
/// current voter id, and everything they sent.
#[derive(Clone, Debug, Default)]
pub struct VoterLog {
    pub name: String,
    pub id: Option<String>,
    pub sent: Vec<Sent>,
}

pub struct Clients {
    stop: Arc<AtomicBool>,
    refresher: tokio::task::JoinHandle<()>,
    slots: Vec<tokio::task::JoinHandle<Vec<VoterLog>>>,
}

/// The web tasks' addresses, by node, as last read from each node's engine.
type Targets = Arc<Mutex<Vec<(usize, String)>>>;

/// How long a voter waits for an answer: longer than any freeze (8 s) plus
/// the longest pets takes to answer a vote (its 4 s deadline), so that a
/// timeout means the connection is gone.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

impl Clients {
    /// `slots` voters at a time, from `began`, for at most `limit`.
    pub fn start(lab: &Arc<Lab>, slots: usize, began: Instant, limit: Duration) -> Self {
        let targets: Targets = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let refresher = refresher(lab.clone(), targets.clone(), stop.clone());
        let numbers = Arc::new(AtomicUsize::new(0));
        let slots = (0..slots)
            .map(|slot| {
                let (targets, stop, numbers) = (targets.clone(), stop.clone(), numbers.clone());
                tokio::spawn(async move {
                    let mut done = Vec::new();
                    while !stop.load(Ordering::Relaxed) && began.elapsed() < limit {
                        let number = numbers.fetch_add(1, Ordering::Relaxed);
                        let voter = Voter {
                            log: VoterLog {
                                name: format!("nemesis {number:04}"),
                                ..VoterLog::default()
                            },
                            targets: targets.clone(),
                            jar: BTreeMap::new(),
                            began,
                            turn: slot + number,
                        };
                        let votes = rand::rng().random_range(3..=30);
                        done.push(voter.run(&stop, limit, votes).await);
                    }
                    done
                })
            })
            .collect();
        Self {
            stop,
            refresher,
            slots,
        }
    }

    /// Stops, waits for the answers in flight, and returns every voter's log.
    pub async fn stop(mut self) -> Vec<VoterLog> {
        self.stop.store(true, Ordering::Relaxed);
        let mut logs = Vec::new();
        for slot in std::mem::take(&mut self.slots) {
            logs.extend(slot.await.unwrap());
        }
        (&mut self.refresher).await.unwrap();
        logs
    }
}

impl Drop for Clients {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Voter {
    log: VoterLog,
    targets: Targets,
    /// Cookie name -> value.
    jar: BTreeMap<String, String>,
    began: Instant,
    turn: usize,
}

impl Voter {
    /// Casts up to `votes` votes, each followed by a page if accepted;
    /// returns everything sent.
    async fn run(mut self, stop: &AtomicBool, limit: Duration, votes: usize) -> VoterLog {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(1))
            .timeout(ANSWER_TIMEOUT)
            .build()
            .unwrap();
        let mut last: Option<usize> = None;
        let mut seq = 0;
        while seq < votes && !stop.load(Ordering::Relaxed) && self.began.elapsed() < limit {
            let Some((node, ip)) = self.next_target() else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            seq += 1;
            // Always another pet than the last one sent, so a vote that
            // stayed when it should not have shows.
            let choice = match last {
                Some(l) => (l + rand::rng().random_range(1..=2)) % 3,
                None => rand::rng().random_range(0..3),
            };
            last = Some(choice);
            let name = format!("{} vote {seq}", self.log.name);
            let request = client
                .post(format!("http://{ip}:5000/vote"))
                .form(&[("name", name.as_str()), ("vote", ["a", "b", "c"][choice])]);
            let voted = self.send(request, seq, node, &ip, Some(choice), 303).await;
            if voted == Outcome::Done {
                if let Some((node, ip)) = self.next_target() {
                    let request = client.get(format!("http://{ip}:5000/"));
                    self.send(request, seq, node, &ip, None, 200).await;
                }
            }
            let pause = rand::rng().random_range(300..=700);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        self.log
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
        seq: usize,
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
                    // pets sent the vote on and Consul did not say in time.
                    504 => Outcome::Unknown,
                    500..=599 => Outcome::Refused(status),
                    _ => Outcome::Odd(status),
                }
            }
            Err(e) if e.is_connect() => Outcome::Undelivered,
            Err(_) => Outcome::Unknown,
        };
        self.log.id = self.voter_id();
        self.log.sent.push(Sent {
            seq,
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
