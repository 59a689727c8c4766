//! The dev stack on a one-node Swarm, phase by phase: Consul elects a
//! leader, a vote counts on every replica, a lost Consul task loses nothing,
//! `/kill` gets a web task replaced, 2.0 rolls through under `pets load`
//! with no failed request, and
//! `broken` rolls itself back.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pets_testkit::holds;
use serde_json::Value;

use crate::engine::Swarm;
use crate::guide;
use crate::rollout::{
    a_rolling_update_under_load_fails_no_request, broken_rolls_itself_back,
    the_fleet_shows_the_new_version_only,
};
use crate::stack::{tasks, Stack, Task};
use crate::support::{docker, eventually, http, local_images, try_docker, try_get_json, vote_at};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_stack_votes_heals_updates_and_rolls_back() {
    local_images();
    let _swarm = Swarm::join();
    let _stack = Stack::deploy();

    let web = consul_elects_a_leader().await;
    let later = ["replaced", "rolled_forward", "rolled_back", "quorum"];
    guide::shows(&["deployed"], &later).await;
    task_urls_names_every_web_task(&web);
    prometheus_scrapes_every_web_task().await;
    a_fleet_fault_reaches_every_task(&web).await;
    a_vote_counts_on_every_replica(&web).await;
    let tally = a_lost_consul_task_loses_no_vote(&web, [0, 0, 1]).await;
    guide::shows(&["deployed"], &later).await;
    kill_gets_the_task_replaced(&web[0]).await;
    guide::shows(&["replaced"], &later[1..]).await;
    a_rolling_update_under_load_fails_no_request(tally).await;
    let forward = guide::shows(&["traffic", "rolled_forward"], &later[2..]).await;
    assert!(
        forward[1].contains("(from 1.0)") && forward[1].contains("pets load: 0 of "),
        "pets load's report had no failure, and neither has the guide: {}",
        forward[1]
    );
    the_fleet_shows_the_new_version_only().await;
    broken_rolls_itself_back().await;
    guide::shows(&["rolled_back"], &later[3..]).await;
}

/// `scripts/task-urls.sh`, LAB.md's way to the tasks without a routing
/// mesh, prints each web task's own address, the one the test uses.
fn task_urls_names_every_web_task(web: &[Task]) {
    let output = std::process::Command::new("scripts/task-urls.sh")
        .arg(crate::stack::STACK)
        .current_dir(crate::support::workspace())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}");
    for task in web {
        let url = format!("pets http://{}:5000/", task.ip);
        assert!(printed.contains(&url), "{url} in:\n{printed}");
    }
    let consul = printed
        .lines()
        .filter(|l| l.contains("consul http://"))
        .count();
    assert_eq!(consul, 3, "the three Consul servers' UIs:\n{printed}");
}

/// Both web tasks answer, and pets sees the Consul leader.
async fn consul_elects_a_leader() -> Vec<Task> {
    let web = running_web_tasks(2).await;
    let url = format!("http://{}:7000/api/results", web[0].ip);
    let leader = eventually(
        Duration::from_secs(120),
        "Consul leader seen by pets",
        || async {
            let results = try_get_json(&url).await?;
            results["store"]["leader"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("no leader yet: {}", results["store"]))
        },
    )
    .await;
    eprintln!("consul leader: {leader}");
    // The dev stack's Consul is open, and the console says so.
    let access = eventually(Duration::from_secs(30), "the console on access", || async {
        let results = try_get_json(&url).await?;
        results["store"]["access"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("not asked yet: {}", results["store"]))
    })
    .await;
    assert!(
        access.starts_with("open: Consul runs without ACLs"),
        "{access}"
    );
    // Each replica registered itself with the Swarm's names for it.
    let url = format!("http://{}:7000/api/fleet", web[0].ip);
    let slots = eventually(
        Duration::from_secs(30),
        "both replicas in the fleet",
        || async {
            let fleet = try_get_json(&url).await?;
            let mut slots: Vec<String> = fleet["replicas"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["node"].is_string() && r["task"].is_string())
                .filter_map(|r| r["slot"].as_str().map(str::to_owned))
                .collect();
            slots.sort();
            holds(slots, |s| s.len() == 2)
        },
    )
    .await;
    assert_eq!(slots, ["1", "2"]);
    web
}

/// The stack's Prometheus finds every web task through `tasks.web` and
/// scrapes it: one `pets_info` series per task, each naming its Swarm node.
async fn prometheus_scrapes_every_web_task() {
    let found = eventually(
        Duration::from_secs(120),
        "Prometheus scraping both tasks",
        || async {
            let prometheus = tasks("prometheus")?;
            let task = prometheus.first().ok_or("no Prometheus task yet")?;
            let url = format!("http://{}:9090/api/v1/query", task.ip);
            let answer: serde_json::Value = http()
                .get(url)
                .query(&[("query", "pets_info")])
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let series = answer["data"]["result"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            holds(series, |s| s.len() == 2)
        },
    )
    .await;
    assert!(
        found
            .iter()
            .all(|s| s["metric"]["node"].as_str().is_some_and(|n| !n.is_empty())),
        "{found:?}"
    );
}

/// Latency injected into the fleet from one task's console slows every
/// task within 2 s (through Consul), and clear takes it off.
async fn a_fleet_fault_reaches_every_task(web: &[Task]) {
    let order = |body: serde_json::Value| {
        let url = format!("http://{}:7000/api/faults", web[0].ip);
        async move {
            let answer = http().post(url).json(&body).send().await.unwrap();
            assert_eq!(answer.status(), 200, "{body}");
        }
    };
    let slow = |task: &Task, at_least: bool| {
        let url = format!("http://{}:5000/vote", task.ip);
        async move {
            let started = std::time::Instant::now();
            let answer = http().get(url).send().await.map_err(|e| e.to_string())?;
            let took = started.elapsed();
            let ok = answer.status() == 200 && (took >= Duration::from_millis(300)) == at_least;
            if ok {
                Ok(took)
            } else {
                Err(format!("{} in {took:?}", answer.status()))
            }
        }
    };
    order(serde_json::json!({"target": "fleet", "latency_ms": 300})).await;
    for task in web {
        let took = eventually(Duration::from_secs(2), "fleet latency on a task", || {
            slow(task, true)
        })
        .await;
        eprintln!("task {} answered in {took:?} with the fault", task.ip);
    }
    order(serde_json::json!({"target": "fleet", "clear": true})).await;
    for task in web {
        eventually(Duration::from_secs(2), "latency cleared", || {
            slow(task, false)
        })
        .await;
    }
}

/// A vote through the published port is counted on the published console
/// port, where the engine has a routing mesh. Without IPVS (this machine)
/// the vote goes to one task and is read on the other, and the test says so.
async fn a_vote_counts_on_every_replica(web: &[Task]) {
    let (vote_url, results_url) = if routing_mesh() {
        (
            "http://127.0.0.1:25000".to_owned(),
            "http://127.0.0.1:27000".to_owned(),
        )
    } else {
        eprintln!(
            "no IPVS on this engine (/proc/sys/net/ipv4/vs is missing): the routing mesh cannot \
             publish ports, so the vote goes to a task's own address"
        );
        (
            format!("http://{}:5000", web[0].ip),
            format!("http://{}:7000", web[1].ip),
        )
    };
    eventually(Duration::from_secs(60), "first vote accepted", || async {
        holds(vote_at(&vote_url, "swarm voter", "c").await, |&s| s == 303)
    })
    .await;
    // Consoles read memory that blocking queries keep current: another
    // replica shows the vote within one round trip, not necessarily at once.
    for url in [results_url, format!("http://{}:7000", web[1].ip)] {
        eventually(Duration::from_secs(2), "every replica sees it", || async {
            holds(
                votes(&try_get_json(&format!("{url}/api/results")).await?),
                |v| *v == [0, 0, 1],
            )
        })
        .await;
    }
}

/// One Consul task killed mid-voting: votes go on, every accepted one is
/// counted. Returns the tally.
async fn a_lost_consul_task_loses_no_vote(web: &[Task], before: [u64; 3]) -> [u64; 3] {
    let accepted: Arc<Mutex<[u64; 3]>> = Arc::new(Mutex::new(before));
    let refused = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let voters: Vec<_> = (0..4)
        .map(|v| {
            let (accepted, refused, stop) = (accepted.clone(), refused.clone(), stop.clone());
            let web = web.to_vec();
            tokio::spawn(async move {
                let mut round = v;
                while !stop.load(Ordering::Relaxed) {
                    let choice = round % 3;
                    let base = format!("http://{}:5000", web[round % 2].ip);
                    match vote_at(&base, "swarm voter", ["a", "b", "c"][choice]).await {
                        303 => accepted.lock().unwrap()[choice] += 1,
                        // 504: unconfirmed at the deadline; the replica
                        // lives, and takes it back.
                        503 | 504 => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                        other => panic!("vote answered {other}"),
                    }
                    round += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let db = eventually(Duration::from_secs(30), "a Consul task", || async {
        tasks("db")?
            .into_iter()
            .next()
            .ok_or_else(|| "no Consul task".to_owned())
    })
    .await;
    docker(&["kill", &db.id]);
    tokio::time::sleep(Duration::from_secs(8)).await;
    let during = *accepted.lock().unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    for voter in voters {
        voter.await.unwrap();
    }
    let expected = *accepted.lock().unwrap();
    assert!(
        expected.iter().sum::<u64>() > during.iter().sum::<u64>(),
        "votes accepted after the kill"
    );
    eprintln!(
        "accepted {expected:?}, refused {}",
        refused.load(Ordering::Relaxed)
    );
    let url = format!("http://{}:7000/api/results", web[1].ip);
    eventually(
        Duration::from_secs(30),
        "every accepted vote counted",
        || async { holds(votes(&try_get_json(&url).await?), |&c| c == expected) },
    )
    .await;
    eventually(
        Duration::from_secs(90),
        "Swarm restarts the Consul task",
        || async { holds(tasks("db")?.len(), |&n| n == 3) },
    )
    .await;
    expected
}

/// `/kill`: the health check fails and Swarm replaces the task.
async fn kill_gets_the_task_replaced(killed: &Task) {
    let status = http()
        .get(format!("http://{}:5000/kill", killed.ip))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    eventually(
        Duration::from_secs(90),
        "the killed task replaced",
        || async {
            let ids: Vec<String> = tasks("web")?.into_iter().map(|t| t.id).collect();
            holds(ids, |ids| ids.len() == 2 && !ids.contains(&killed.id))
        },
    )
    .await;
    running_web_tasks(2).await;
}

/// Waits until exactly `count` web tasks answer `/health` with 200.
pub(crate) async fn running_web_tasks(count: usize) -> Vec<Task> {
    let client = http();
    eventually(Duration::from_secs(120), "web tasks answering", || async {
        let tasks = tasks("web")?;
        if tasks.len() != count {
            // Said on a timeout: which tasks Swarm holds, and in what state.
            let listed = try_docker(&[
                "service",
                "ps",
                "--format",
                "{{.Name}} {{.Image}} desired {{.DesiredState}}, {{.CurrentState}}",
                &Stack::service("web"),
            ])
            .unwrap_or_else(|e| e);
            return Err(format!(
                "{} web tasks with an address; Swarm's tasks:\n{listed}",
                tasks.len()
            ));
        }
        for task in &tasks {
            let url = format!("http://{}:5000/health", task.ip);
            let health = client.get(&url).send().await.map_err(|e| e.to_string())?;
            if health.status() != 200 {
                return Err(format!("{url}: {}", health.status()));
            }
        }
        Ok(tasks)
    })
    .await
}

pub(crate) fn votes(results: &Value) -> [u64; 3] {
    [0, 1, 2].map(|i| results["options"][i]["votes"].as_u64().unwrap_or(0))
}

/// Whether Swarm's routing mesh can work here: it needs the kernel's IPVS.
fn routing_mesh() -> bool {
    std::path::Path::new("/proc/sys/net/ipv4/vs").exists()
}
