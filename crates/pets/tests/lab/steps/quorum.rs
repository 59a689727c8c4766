//! Step 6: two of the three nodes lost at once, and with them two Consul
//! servers (and the Swarm managers' own quorum). On the surviving node the
//! pet site stays up, votes are refused quickly with 503, and the console
//! says the store has no quorum. The nodes return and everything recovers
//! by itself, with no refused vote counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pets_testkit::holds;

use super::node_loss::three_healthy_voters;
use super::{every_console_shows, fleet, web_tasks};
use crate::rig::Lab;
use crate::support::{eventually, http, text_of, vote_at, Task};

pub async fn consul_quorum_lost_and_regained(lab: &Arc<Lab>, cookie: &str, before: [u64; 3]) {
    let web = web_tasks(lab, 3).await;
    let (survivor, task) = web[0].clone();
    let lost: Vec<_> = lab
        .nodes
        .iter()
        .filter(|n| n.index != survivor)
        .cloned()
        .collect();
    let names: Vec<String> = lost.iter().map(|n| n.name.clone()).collect();
    let slots_before = consul_slots(&lost).await;
    let killed = Instant::now();
    {
        let lost = lost.clone();
        tokio::task::spawn_blocking(move || lost.iter().for_each(|n| n.kill()))
            .await
            .unwrap();
    }
    eprintln!("step 6: killed {names:?}; node{survivor} is left alone");

    let view = eventually(
        Duration::from_secs(60),
        "the console saying no quorum",
        || async {
            holds(fleet(&task, cookie).await?, |f| {
                f["store"]["quorum"] == false
            })
        },
    )
    .await;
    eprintln!(
        "  the console says no quorum after {:.1?} (leader {})",
        killed.elapsed(),
        view["store"]["leader"]
    );
    let page = console_page(&task, cookie).await;
    assert!(
        page.contains("No quorum: no server names a leader, so votes are refused."),
        "the console's words"
    );

    // A vote now may wait for its deadline; once the cluster has had no
    // leader for longer than an election takes (3 s), every vote is refused
    // at once, unsent, and every page is served.
    let sent = Instant::now();
    let first = vote(&task, "a").await;
    let first_took = sent.elapsed();
    // 504 when it reached the leader just before the quorum went: it is in
    // the leader's log, and would commit if the quorum came back.
    assert!(
        first == 503 || first == 504,
        "a vote without a quorum is refused or unconfirmed: {first}"
    );
    // The watcher must first have seen no leader (its next look, sooner
    // after a failed call), then 3 s pass: from then on, refusals are
    // immediate.
    eventually(
        Duration::from_secs(30),
        "a vote refused at once",
        || async {
            let sent = Instant::now();
            let answer = vote(&task, "b").await;
            holds((answer, sent.elapsed()), |(a, took)| {
                *a == 503 && *took < Duration::from_secs(1)
            })
        },
    )
    .await;
    let fast_after = killed.elapsed();
    let mut slowest = Duration::ZERO;
    for round in 0..10 {
        let page = http()
            .get(format!("http://{}:5000/vote", task.ip))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "the pet site stays up");
        let sent = Instant::now();
        assert_eq!(vote(&task, ["a", "b", "c"][round % 3]).await, 503);
        slowest = slowest.max(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    eprintln!(
        "  pages 200, votes 503: the first refused in {first_took:.2?}; refused at once from {fast_after:.1?} after the kill, then the slowest of 10 in {slowest:.2?}"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "refused at once: {slowest:?}"
    );

    let back = Instant::now();
    {
        let lost = lost.clone();
        tokio::task::spawn_blocking(move || lost.iter().for_each(|n| n.start()))
            .await
            .unwrap();
    }
    // Named after its node, each server finds its own data whichever slot
    // Swarm gives it (`three_healthy_voters` checks the names).
    let health = three_healthy_voters(lab).await;
    eprintln!(
        "step 6: {names:?} back; three healthy voters after {:.1?}: {health}",
        back.elapsed()
    );
    eprintln!(
        "  Consul's task slots on {names:?}: {slots_before:?} before, {:?} after",
        consul_slots(&lost).await
    );
    eventually(Duration::from_secs(60), "votes accepted again", || async {
        let view = fleet(&task, cookie).await?;
        holds(view["store"]["quorum"] == true, |q| *q)
    })
    .await;
    web_tasks(lab, 3).await;
    every_console_shows(lab, cookie, before).await;
    assert_eq!(vote(&task, "a").await, 303, "votes accepted again");
    every_console_shows(lab, cookie, [before[0] + 1, before[1], before[2]]).await;
    eprintln!(
        "step 6: recovered by itself in {:.1?}; no refused vote counted",
        back.elapsed()
    );
}

async fn vote(task: &Task, choice: &str) -> u16 {
    vote_at(&format!("http://{}:5000", task.ip), "lab", choice).await
}

async fn console_page(task: &Task, cookie: &str) -> String {
    text_of(
        http()
            .get(format!("http://{}:7000/", task.ip))
            .header("cookie", cookie),
    )
    .await
}

/// The Consul task slots each of `nodes` runs.
async fn consul_slots(nodes: &[crate::node::Node]) -> Vec<Vec<String>> {
    let nodes = nodes.to_vec();
    tokio::task::spawn_blocking(move || {
        nodes
            .iter()
            .map(|n| n.slots(&crate::prod::service("db")))
            .collect()
    })
    .await
    .unwrap()
}
