//! Votes sent from this machine while something happens to the lab, with
//! every answer accounted for, so that "every acknowledged vote is counted
//! and no refused one stays" can be checked exactly.
//!
//! Four voters send to the web tasks in turn, at most 50 votes a second
//! each, for at most [`MAX_RUN`]. The list of tasks is read again every
//! two seconds from every node that answers, so votes follow tasks as Swarm moves
//! them. Each answer is one of: accepted (303: committed), refused by pets
//! (503: not recorded, and never will be), not delivered (no connection:
//! nothing reached pets), or unknown (the connection broke after the vote
//! was sent, say with its node, or pets answered 504, having sent the vote
//! on with no word back in time: it may or may not have been committed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::prod::service;
use crate::rig::Lab;

/// The longest any run of votes goes on, whatever the test does.
const MAX_RUN: Duration = Duration::from_secs(240);

#[derive(Clone, Debug, Default)]
pub struct Count {
    pub accepted: [u64; 3],
    pub refused: u64,
    pub undelivered: u64,
    pub unknown: u64,
    /// When each refusal (503) came, for the length of an outage.
    pub refusals: Vec<Instant>,
    /// Any other answer: a bug.
    pub odd: Vec<String>,
}

impl Count {
    pub fn accepted_total(&self) -> u64 {
        self.accepted.iter().sum()
    }

    /// From the first refusal to the last, if any.
    pub fn refusal_window(&self) -> Option<Duration> {
        Some(
            self.refusals
                .last()?
                .duration_since(*self.refusals.first()?),
        )
    }
}

pub struct Voters {
    count: Arc<Mutex<Count>>,
    stop: Arc<AtomicBool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Voters {
    pub fn start(lab: &Arc<Lab>) -> Self {
        let targets: Arc<Mutex<Vec<String>>> = Arc::default();
        let count: Arc<Mutex<Count>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let began = Instant::now();
        let mut handles = vec![refresher(lab.clone(), targets.clone(), stop.clone())];
        for v in 0..4 {
            let (targets, count, stop) = (targets.clone(), count.clone(), stop.clone());
            handles.push(tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(Duration::from_secs(1))
                    .timeout(Duration::from_secs(15))
                    .build()
                    .unwrap();
                let mut round = v;
                while !stop.load(Ordering::Relaxed) && began.elapsed() < MAX_RUN {
                    let target = {
                        let targets = targets.lock().unwrap();
                        (!targets.is_empty()).then(|| targets[round % targets.len()].clone())
                    };
                    if let Some(ip) = target {
                        let choice = round % 3;
                        let answer = client
                            .post(format!("http://{ip}:5000/vote"))
                            .form(&[("name", "lab voter"), ("vote", ["a", "b", "c"][choice])])
                            .send()
                            .await;
                        let mut count = count.lock().unwrap();
                        match answer {
                            Ok(a) if a.status() == 303 => count.accepted[choice] += 1,
                            Ok(a) if a.status() == 503 => {
                                count.refused += 1;
                                count.refusals.push(Instant::now());
                            }
                            // Sent on, and Consul did not say in time.
                            Ok(a) if a.status() == 504 => count.unknown += 1,
                            Ok(a) => count.odd.push(format!("{ip}: {}", a.status())),
                            Err(e) if e.is_connect() => count.undelivered += 1,
                            Err(_) => count.unknown += 1,
                        }
                    }
                    round += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        }
        Self {
            count,
            stop,
            handles,
        }
    }

    /// What has been counted so far.
    pub fn now(&self) -> Count {
        self.count.lock().unwrap().clone()
    }

    /// Stops, waits for the answers in flight, and returns the count.
    pub async fn stop(mut self) -> Count {
        self.stop.store(true, Ordering::Relaxed);
        for handle in std::mem::take(&mut self.handles) {
            handle.await.unwrap();
        }
        let count = self.count.lock().unwrap().clone();
        assert!(
            count.odd.is_empty(),
            "votes answered oddly: {:?}",
            count.odd
        );
        count
    }
}

/// A test that fails while votes run stops them (and the task reader, which
/// holds the lab) at once.
impl Drop for Voters {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads the web tasks' addresses every two seconds, off the runtime's threads.
fn refresher(
    lab: Arc<Lab>,
    targets: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        let began = Instant::now();
        while !stop.load(Ordering::Relaxed) && began.elapsed() < MAX_RUN {
            if let Ok(tasks) = lab.tasks(&service("web")) {
                *targets.lock().unwrap() = tasks.into_iter().map(|(_, t)| t.ip).collect();
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    })
}
