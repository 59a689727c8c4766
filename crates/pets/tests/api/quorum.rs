//! "No quorum" means what it says, on the real three-server cluster: no
//! server pets can reach has named a leader for longer than an election
//! takes. A follower killed and brought back on another address (as Swarm
//! restarts a task, which can force a short election), or one of the `DB`
//! endpoints down from the start, never makes the console say otherwise,
//! and no vote is refused.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pets_testkit::{Cluster, SERVERS, SPARE};

use crate::helpers::{prefix, spawn_app_with, Env, TestApp, Visitor};

/// What the console and the voters saw while the test ran.
#[derive(Default)]
struct Seen {
    polls: AtomicUsize,
    no_quorum: AtomicUsize,
    /// Polls that said an election was on (no leader for less than 3 s).
    electing: AtomicUsize,
    accepted: AtomicUsize,
    refused: AtomicUsize,
}

impl Seen {
    /// Prints what was seen, then fails if the console ever said "no
    /// quorum" or a vote was refused.
    fn assert_no_false_alarm(&self, what: &str) {
        let load = |n: &AtomicUsize| n.load(Ordering::Relaxed);
        let (polls, no_quorum) = (load(&self.polls), load(&self.no_quorum));
        let (accepted, refused) = (load(&self.accepted), load(&self.refused));
        let electing = load(&self.electing);
        eprintln!(
            "{what}: {no_quorum} of {polls} polls said no quorum, {electing} an election; {accepted} votes accepted, {refused} refused"
        );
        assert!(
            polls > 50 && accepted > 100,
            "{polls} polls, {accepted} votes"
        );
        assert_eq!(
            no_quorum, 0,
            "never no quorum while a leader is elected or an election is on"
        );
        assert_eq!(refused, 0, "every vote accepted");
    }
}

/// Votes from four voters and polls `/api/fleet` every 100 ms until `stop`.
fn watch_and_vote(
    app: Arc<TestApp>,
    stop: Arc<AtomicBool>,
    seen: Arc<Seen>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let (a, st, se) = (app.clone(), stop.clone(), seen.clone());
    tasks.push(tokio::spawn(async move {
        let console = Visitor::new();
        while !st.load(Ordering::Relaxed) {
            let fleet: serde_json::Value = console
                .get(&format!("{}/api/fleet", a.admin))
                .await
                .json()
                .await
                .unwrap();
            se.polls.fetch_add(1, Ordering::Relaxed);
            // Unknown (null) only until the first look; false is "no quorum".
            if fleet["store"]["quorum"] == false {
                se.no_quorum.fetch_add(1, Ordering::Relaxed);
                eprintln!("the console said no quorum: {}", fleet["store"]);
            }
            if fleet["store"]["electing"] == true {
                se.electing.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }));
    for voter in 0..4 {
        let (a, st, se) = (app.clone(), stop.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            let visitor = Visitor::new();
            let mut round = 0;
            while !st.load(Ordering::Relaxed) {
                let choice = ["a", "b", "c"][(voter + round) % 3];
                let answer = visitor.vote(&a, &format!("voter {voter}"), choice).await;
                match answer.status().as_u16() {
                    303 => se.accepted.fetch_add(1, Ordering::Relaxed),
                    other => {
                        eprintln!("a vote answered {other}: {}", answer.text().await.unwrap());
                        se.refused.fetch_add(1, Ordering::Relaxed)
                    }
                };
                round += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tasks
}

async fn finish(stop: Arc<AtomicBool>, tasks: Vec<tokio::task::JoinHandle<()>>) {
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
}

/// Waits until `address` answers as a member that follows a leader, and
/// how long it took.
async fn rejoined(address: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    loop {
        let leader = async {
            let r = http
                .get(format!("http://{address}:8500/v1/status/leader"))
                .send()
                .await
                .ok()?;
            r.json::<String>().await.ok()
        };
        if leader.await.is_some_and(|l| !l.is_empty()) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{address} did not rejoin within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_follower_back_on_another_address_is_no_lost_quorum() {
    let mut cluster = Cluster::lock().await;
    let leader = cluster.leader().await.expect("a leader");
    let follower = (leader + 1) % 3;
    // DB names the address the follower comes back at, as tasks.db would.
    let db = format!("{},{SPARE}:8500", cluster.db());
    let app = Arc::new(spawn_app_with(Env::on_consul(db, prefix("moved"))).await);
    let (stop, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(Seen::default()));
    let tasks = watch_and_vote(app.clone(), stop.clone(), seen.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.move_server(follower, SPARE);
    let took = rejoined(SPARE, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    finish(stop, tasks).await;
    seen.assert_no_false_alarm(&format!(
        "follower {} back at {SPARE} after {took:.1?}",
        SERVERS[follower]
    ));
    cluster.start_missing();
}

#[tokio::test]
async fn one_db_endpoint_down_from_the_start_is_no_lost_quorum() {
    let mut cluster = Cluster::lock().await;
    let leader = cluster.leader().await.expect("a leader");
    let follower = (leader + 2) % 3;
    cluster.kill(follower);
    let app = Arc::new(spawn_app_with(Env::on_consul(cluster.db(), prefix("one-down"))).await);
    let (stop, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(Seen::default()));
    let tasks = watch_and_vote(app.clone(), stop.clone(), seen.clone());
    tokio::time::sleep(Duration::from_secs(12)).await;
    finish(stop, tasks).await;
    seen.assert_no_false_alarm(&format!("{} down from the start", SERVERS[follower]));
    // Nothing here forces an election: a server that does not answer must
    // not hide the leader the others name, even for a moment.
    assert_eq!(seen.electing.load(Ordering::Relaxed), 0, "never electing");
    cluster.start_missing();
}
