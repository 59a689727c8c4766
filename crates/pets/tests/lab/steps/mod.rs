//! The lab's steps, in the order `docs/LAB.md` gives them, as one test: each
//! step starts from the state the one before left, as in a workshop.

pub(crate) mod deploy;
mod drain;
mod front_door;
mod guide;
mod least_privilege;
pub(crate) mod node_loss;
mod quorum;
mod update;

use std::sync::Arc;
use std::time::Duration;

use pets_testkit::holds;
use serde_json::Value;

use crate::prod::{console_json, service, Prod};
use crate::rig::Lab;
use crate::support::{eventually, http, local_images, Task};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_on_three_nodes() {
    local_images();
    let started = std::time::Instant::now();
    let lab = Arc::new(tokio::task::spawn_blocking(Lab::start).await.unwrap());
    eprintln!(
        "three nodes in one Swarm, images loaded, in {:.0?}",
        started.elapsed()
    );
    let prod = Prod::deploy(&lab);
    let cookie = deploy::the_prod_stack_deploys_one_per_node(&lab, &prod).await;
    guide::shows(&lab, &cookie, &["deployed"]).await;
    let tally = deploy::votes_cross_nodes(&lab, &cookie).await;
    guide::shows(&lab, &cookie, &["deployed", "votes_everywhere"]).await;
    front_door::every_router_serves_the_site_over_https(&lab, &prod).await;
    let tally = front_door::a_killed_router_comes_back_unnoticed(&lab, &prod, &cookie, tally).await;
    let (tally, projector, returned) =
        node_loss::a_lost_node_loses_no_vote(&lab, &prod, &cookie, tally).await;
    guide::shows(&lab, &cookie, &["replaced", "node_lost"]).await;
    let tally =
        drain::a_drained_node_hands_over_its_tasks(&lab, &cookie, tally, &projector, returned)
            .await;
    projector.close().await;
    let tally =
        update::a_rolling_update_across_nodes_fails_no_request(&lab, &prod, &cookie, tally).await;
    let rolled = guide::shows(&lab, &cookie, &["traffic", "rolled_forward"]).await;
    let forward = guide::evidence(&rolled, "rolled_forward");
    assert!(
        forward.contains("(from 1.0)") && forward.contains("pets load: 0 of "),
        "the test measured no failure, and so did the guide: {forward}"
    );
    update::broken_rolls_itself_back(&lab).await;
    guide::shows(&lab, &cookie, &["rolled_back"]).await;
    quorum::consul_quorum_lost_and_regained(&lab, &cookie, tally).await;
    let regained = guide::shows(&lab, &cookie, &["quorum"]).await;
    let quorum = guide::evidence(&regained, "quorum");
    let refused: u64 = quorum
        .split("; ")
        .find_map(|part| part.strip_suffix(" votes refused meanwhile"))
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("the refused votes counted: {quorum}"));
    assert!(
        quorum.starts_with("no leader from") && refused > 0,
        "the test's votes were refused, and the guide counted them: {quorum}"
    );
    least_privilege::consul_runs_with_least_privilege(&lab, &prod, &cookie).await;
    eprintln!("the whole lab in {:.0?}", started.elapsed());
}

/// Waits until exactly `count` web tasks answer `/health` with 200; returns
/// them with their nodes' indexes.
pub async fn web_tasks(lab: &Arc<Lab>, count: usize) -> Vec<(usize, Task)> {
    eventually(Duration::from_secs(120), "web tasks answering", || async {
        let lab = lab.clone();
        let tasks = tokio::task::spawn_blocking(move || lab.tasks(&service("web")))
            .await
            .unwrap()?;
        if tasks.len() != count {
            return Err(format!("{} web tasks with an address", tasks.len()));
        }
        for (_, task) in &tasks {
            let url = format!("http://{}:5000/health", task.ip);
            let health = http().get(&url).send().await.map_err(|e| e.to_string())?;
            if health.status() != 200 {
                return Err(format!("{url}: {}", health.status()));
            }
        }
        Ok(tasks)
    })
    .await
}

/// The running tasks of a service on every node that answers.
pub async fn tasks(lab: &Arc<Lab>, name: &str) -> Result<Vec<(usize, Task)>, String> {
    let lab = lab.clone();
    let name = service(name);
    tokio::task::spawn_blocking(move || lab.tasks(&name))
        .await
        .unwrap()
}

/// Waits until every web task's console shows exactly `expected`.
pub async fn every_console_shows(lab: &Arc<Lab>, cookie: &str, expected: [u64; 3]) {
    for (node, task) in tasks(lab, "web").await.unwrap_or_default() {
        eventually(Duration::from_secs(10), "the exact tally", || async {
            holds(crate::prod::tally(&task, cookie).await?, |t| *t == expected)
        })
        .await;
        eprintln!("  node{node}'s console shows {expected:?}");
    }
}

/// The console's fleet view, through a task.
pub async fn fleet(task: &Task, cookie: &str) -> Result<Value, String> {
    console_json(task, "/api/fleet", cookie).await
}

/// The nodes the fleet view places the live replicas on.
pub fn fleet_nodes(fleet: &Value) -> Vec<String> {
    let mut nodes: Vec<String> = fleet["replicas"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["node"].as_str().map(str::to_owned))
        .collect();
    nodes.sort();
    nodes
}

/// Waits until the console's fleet view (through `task`) shows three
/// replicas, none on `node`, and says so.
pub async fn fleet_without(task: &Task, cookie: &str, node: &str) {
    let view = eventually(
        Duration::from_secs(30),
        "the fleet without the node",
        || async {
            holds(fleet(task, cookie).await?, |f| {
                let nodes = fleet_nodes(f);
                nodes.len() == 3 && !nodes.iter().any(|n| n == node)
            })
        },
    )
    .await;
    eprintln!("  the console's fleet: {:?}", fleet_nodes(&view));
}

/// The expected tally after votes were counted on top of `before`.
pub fn plus(before: [u64; 3], accepted: [u64; 3]) -> [u64; 3] {
    [0, 1, 2].map(|i| before[i] + accepted[i])
}

/// After a run of votes: every acknowledged vote counted and no refused one
/// left, on every console. A vote whose connection broke after it was sent
/// (its node lost) may have been committed or not, so with any of those the
/// tally must lie between the accepted and the accepted plus the unknown.
/// Returns the tally.
pub async fn settle(
    lab: &Arc<Lab>,
    cookie: &str,
    before: [u64; 3],
    count: &crate::voters::Count,
) -> [u64; 3] {
    let expected = plus(before, count.accepted);
    if count.unknown == 0 {
        every_console_shows(lab, cookie, expected).await;
        return expected;
    }
    let (_, task) = web_tasks(lab, 3).await.remove(0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let tally = crate::prod::tally(&task, cookie).await.unwrap();
    let (low, high) = (
        expected.iter().sum::<u64>(),
        expected.iter().sum::<u64>() + count.unknown,
    );
    let total = tally.iter().sum::<u64>();
    assert!(
        (low..=high).contains(&total),
        "tally {tally:?} ({total}) outside {low}..={high}: accepted {:?}, {} unknown",
        count.accepted,
        count.unknown
    );
    eprintln!(
        "  {} of the {} requests whose outcome is unknown (cut off in flight, or failed through a router) were votes that counted",
        total - low,
        count.unknown
    );
    every_console_shows(lab, cookie, tally).await;
    tally
}
