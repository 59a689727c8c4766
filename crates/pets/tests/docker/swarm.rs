//! The dev stack on a one-node Swarm: Consul elects a leader, votes count
//! across replicas, a lost Consul task loses nothing, `/kill` gets a web task
//! replaced, 2.0 rolls through with no 5xx, and `broken` rolls itself back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{docker, docker_with, eventually, get_json, http, local_images, try_docker};

const STACK: &str = "petstest";

/// The deployed stack; removed again (and the swarm left, if this test made
/// it) when dropped, pass or fail.
struct Stack {
    made_swarm: bool,
}

impl Stack {
    fn deploy() -> Self {
        let state = docker(&["info", "-f", "{{.Swarm.LocalNodeState}}"]);
        let made_swarm = state == "inactive";
        if made_swarm {
            if let Err(e) = try_docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]) {
                panic!("this engine refuses swarm mode: {e}");
            }
        }
        let stack = Self { made_swarm };
        let env = [
            ("PETS_IMAGE", "pets:1.0"),
            ("CONSUL_IMAGE", "consul-local:1.8.7"),
            ("PETS_WEB_PUBLISH", "25000"),
            ("PETS_ADMIN_PUBLISH", "27000"),
            ("PETS_CONSUL_PUBLISH", "28500"),
        ];
        docker_with(
            &env,
            &[
                "stack",
                "deploy",
                "--resolve-image",
                "never",
                "-c",
                "compose/pets-dev-compose.yml",
                STACK,
            ],
        )
        .unwrap_or_else(|e| panic!("stack deploy: {e}"));
        stack
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = try_docker(&["stack", "rm", STACK]);
        let filter = format!("label=com.docker.stack.namespace={STACK}");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            let left = try_docker(&["ps", "-aq", "--filter", &filter]).unwrap_or_default();
            let network = try_docker(&[
                "network",
                "ls",
                "-q",
                "--filter",
                &format!("name={STACK}_backend"),
            ]);
            if left.is_empty() && network.map(|n| n.is_empty()).unwrap_or(true) {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        for slot in 1..=3 {
            let _ = try_docker(&["volume", "rm", &format!("{STACK}_db-{slot}")]);
        }
        if self.made_swarm {
            let _ = try_docker(&["swarm", "leave", "--force"]);
        }
    }
}

/// The running tasks of a service: container id and the address the host
/// reaches it at (its sandbox's endpoint on docker_gwbridge).
fn tasks(service: &str) -> Vec<(String, String)> {
    let ids = docker(&[
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label=com.docker.swarm.service.name={STACK}_{service}"),
    ]);
    let bridge: Value =
        serde_json::from_str(&docker(&["network", "inspect", "docker_gwbridge"])).unwrap();
    let mut found = Vec::new();
    for id in ids.lines() {
        // The bridge endpoint is named after the container's network sandbox.
        let sandbox = docker(&["inspect", "-f", "{{.NetworkSettings.SandboxID}}", id]);
        let endpoint = format!("gateway_{}", &sandbox[..sandbox.len().min(12)]);
        if let Some(ip) = bridge[0]["Containers"]
            .as_object()
            .unwrap()
            .values()
            .find(|c| c["Name"] == endpoint.as_str())
            .and_then(|c| c["IPv4Address"].as_str())
        {
            found.push((id.to_owned(), ip.split('/').next().unwrap().to_owned()));
        }
    }
    found
}

async fn running_web_tasks(count: usize) -> Vec<(String, String)> {
    let client = http();
    eventually(Duration::from_secs(120), "web tasks answering", || {
        let client = client.clone();
        async move {
            let tasks = tasks("web");
            if tasks.len() != count {
                return None;
            }
            for (_, ip) in &tasks {
                let health = client
                    .get(format!("http://{ip}:5000/health"))
                    .send()
                    .await
                    .ok()?;
                if health.status() != 200 {
                    return None;
                }
            }
            Some(tasks)
        }
    })
    .await
}

/// The text of a page on a web task.
async fn page(ip: &str, path: &str) -> String {
    http()
        .get(format!("http://{ip}:5000{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn results(ip: &str) -> Value {
    get_json(&format!("http://{ip}:7000/api/results")).await
}

fn votes(results: &Value) -> [u64; 3] {
    [0, 1, 2].map(|i| results["options"][i]["votes"].as_u64().unwrap())
}

/// Whether Swarm's routing mesh can work here: it needs the kernel's IPVS.
fn routing_mesh() -> bool {
    std::path::Path::new("/proc/sys/net/ipv4/vs").exists()
}

async fn vote(ip: &str, choice: &str) -> u16 {
    vote_at(&format!("http://{ip}:5000"), choice).await
}

/// Votes at a pet site's base URL; the status, or 0 if nothing answered.
async fn vote_at(base: &str, choice: &str) -> u16 {
    let response = http()
        .post(format!("{base}/vote"))
        .form(&[("name", "swarm voter"), ("vote", choice)])
        .send()
        .await;
    response.map(|r| r.status().as_u16()).unwrap_or(0)
}

fn update_state() -> String {
    try_docker(&[
        "service",
        "inspect",
        "-f",
        "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
        &format!("{STACK}_web"),
    ])
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_stack_votes_heals_updates_and_rolls_back() {
    local_images();
    let _stack = Stack::deploy();

    // Consul elects a leader and pets sees it.
    let web = running_web_tasks(2).await;
    let leader = eventually(
        Duration::from_secs(120),
        "Consul leader seen by pets",
        || {
            let ip = web[0].1.clone();
            async move {
                let r = http()
                    .get(format!("http://{ip}:7000/api/results"))
                    .send()
                    .await
                    .ok()?;
                let r: Value = r.json().await.ok()?;
                r["store"]["leader"].as_str().map(str::to_owned)
            }
        },
    )
    .await;
    eprintln!("consul leader: {leader}");

    // A vote through the published port is counted on the published console
    // port, where the engine has a routing mesh. Without IPVS (this machine)
    // the same vote goes to one task and is read on the other, and the test
    // says so.
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
            format!("http://{}:5000", web[0].1),
            format!("http://{}:7000", web[1].1),
        )
    };
    eventually(Duration::from_secs(60), "first vote accepted", || {
        let url = vote_url.clone();
        async move { (vote_at(&url, "c").await == 303).then_some(()) }
    })
    .await;
    let counted = get_json(&format!("{results_url}/api/results")).await;
    assert_eq!(votes(&counted), [0, 0, 1]);
    assert_eq!(
        votes(&results(&web[1].1).await),
        [0, 0, 1],
        "every replica sees it"
    );

    // One Consul task killed mid-voting: votes go on, none lost.
    let accepted: Arc<Mutex<[u64; 3]>> = Arc::new(Mutex::new([0, 0, 1]));
    let refused = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let voters: Vec<_> = (0..4)
        .map(|v| {
            let (accepted, refused, stop, web) =
                (accepted.clone(), refused.clone(), stop.clone(), web.clone());
            tokio::spawn(async move {
                let mut round = v;
                while !stop.load(Ordering::Relaxed) {
                    let choice = round % 3;
                    match vote(&web[round % 2].1, ["a", "b", "c"][choice]).await {
                        303 => accepted.lock().unwrap()[choice] += 1,
                        503 => {
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
    let (db_task, _) = tasks("db").into_iter().next().expect("a Consul task");
    docker(&["kill", &db_task]);
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
    let counted = eventually(
        Duration::from_secs(30),
        "every accepted vote counted",
        || {
            let ip = web[1].1.clone();
            async move {
                let counted = votes(&results(&ip).await);
                (counted == expected).then_some(counted)
            }
        },
    )
    .await;
    assert_eq!(counted, expected);
    eventually(
        Duration::from_secs(90),
        "Swarm restarts the Consul task",
        || async { (tasks("db").len() == 3).then_some(()) },
    )
    .await;

    // /kill: the health check fails and Swarm replaces the task.
    let (killed, ip) = web[0].clone();
    assert_eq!(
        http()
            .get(format!("http://{ip}:5000/kill"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    eventually(Duration::from_secs(90), "the killed task replaced", || {
        let killed = killed.clone();
        async move {
            let now = tasks("web");
            (now.len() == 2 && now.iter().all(|(id, _)| *id != killed)).then_some(())
        }
    })
    .await;
    let _ = running_web_tasks(2).await;

    // A rolling update to 2.0 while a client keeps loading pages: no 5xx.
    let statuses: Arc<Mutex<HashMap<u16, usize>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (statuses, stop) = (statuses.clone(), stop.clone());
        tokio::spawn(async move {
            let client = http();
            while !stop.load(Ordering::Relaxed) {
                for (_, ip) in tasks("web") {
                    let status = client
                        .get(format!("http://{ip}:5000/"))
                        .header("cookie", "pets_vote=a")
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    *statuses.lock().unwrap().entry(status).or_default() += 1;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    // Blocks until the update converges: off the runtime's threads, so the
    // poller keeps running.
    tokio::task::spawn_blocking(|| {
        docker(&[
            "service",
            "update",
            "--quiet",
            "--detach=false",
            "--no-resolve-image",
            "--image",
            "pets:2.0",
            &format!("{STACK}_web"),
        ])
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    poller.await.unwrap();
    let statuses = statuses.lock().unwrap().clone();
    eprintln!("statuses during the 1.0 -> 2.0 update: {statuses:?}");
    assert!(statuses.keys().all(|s| *s < 500), "no 5xx: {statuses:?}");
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > 20,
        "pages were served throughout"
    );
    let web = running_web_tasks(2).await;
    for (_, ip) in &web {
        let page = page(ip, "/vote").await;
        assert!(page.contains("version 2.0") && page.contains("theme-night"));
    }
    assert_eq!(
        votes(&results(&web[0].1).await),
        expected,
        "the tally survived the update"
    );

    // An update to broken fails its health check and is rolled back by itself.
    docker(&[
        "service",
        "update",
        "--detach=true",
        "--no-resolve-image",
        "--image",
        "pets:broken",
        &format!("{STACK}_web"),
    ]);
    let state = eventually(Duration::from_secs(240), "automatic rollback", || async {
        let state = update_state();
        matches!(state.as_str(), "rollback_completed" | "rollback_paused").then_some(state)
    })
    .await;
    assert_eq!(state, "rollback_completed");
    let image = docker(&[
        "service",
        "inspect",
        "-f",
        "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
        &format!("{STACK}_web"),
    ]);
    assert!(image.starts_with("pets:2.0"), "back on 2.0: {image}");
    let web = running_web_tasks(2).await;
    assert!(page(&web[0].1, "/vote").await.contains("version 2.0"));
}
