//! Step 3: the node that runs the Consul leader loses its power while votes
//! flow. Consul elects another leader, Swarm moves the node's web task to
//! the survivors, and every acknowledged vote is counted. The node comes
//! back: its Consul server rejoins with its own data, and the cluster has
//! three voters again, no dead one left in its Raft configuration. The
//! projector (`/present`) shows tiles on all three nodes before, and none
//! on the lost node after. Meanwhile `pets load` sends through the routers
//! of all three nodes: what went to the lost node's router fails, and
//! what went through the two others keeps succeeding once Consul has a
//! leader again (failures counted apart, by router).

use std::sync::Arc;
use std::time::{Duration, Instant};

use pets_testkit::holds;

use super::{fleet_without, settle, tasks, web_tasks};
use crate::prod::{service, Consul, Prod};
use crate::projector::{on_exactly, Projector};
use crate::rig::Lab;
use crate::routers::{thousands, Routed, RoutedLoad};
use crate::support::{eventually, Task};
use crate::voters::Voters;

/// Returns the tally, and the projector with the node that came back.
pub async fn a_lost_node_loses_no_vote(
    lab: &Arc<Lab>,
    prod: &Prod,
    cookie: &str,
    before: [u64; 3],
) -> ([u64; 3], Projector, usize) {
    let (lost, old_leader) = leader_node(lab).await;
    let name = format!("node{lost}");
    let projector = Projector::open(lab, cookie, lost).await;
    let all = ["node1", "node2", "node3"];
    projector
        .wait_for(lab, lost, "tiles on every node", |n| on_exactly(n, &all))
        .await;
    projector.screenshot("lab-projector.png").await;
    // A server that stays, asked directly (no docker command in the way)
    // for the leader every 100 ms: Consul's own election time.
    let (_, survivor) = tasks(lab, "db")
        .await
        .unwrap()
        .into_iter()
        .find(|(n, _)| *n != lost)
        .expect("a Consul server on another node");
    let voters = Voters::start(lab);
    let routed = RoutedLoad::start(lab, &prod.ca, 30, None);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let at_kill = voters.now().accepted_total();
    let killed = Instant::now();
    let node = lab.node(&name).clone();
    tokio::task::spawn_blocking(move || node.kill())
        .await
        .unwrap();
    eprintln!("step 3: killed {name}, which ran the Consul leader");

    // Consul: a new leader among the two survivors.
    loop {
        let leader = Consul::leader(&survivor).await.unwrap_or_default();
        if !leader.is_empty() && leader != old_leader {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "no new Consul leader within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elected = killed.elapsed();
    let db = eventually(Duration::from_secs(60), "two Consul tasks", || async {
        holds(tasks(lab, "db").await?, |db| db.len() == 2)
    })
    .await;
    let raft = Consul::raft(&db[0].1).await.unwrap();
    // The lost server stays in the configuration (`min_quorum = 3`): the
    // two survivors are a quorum of three.
    eprintln!("  a new leader after {elected:.1?}; Raft configuration: {raft:?}");
    assert!(
        raft.iter().filter(|s| s.1).count() >= 2,
        "two voters at least"
    );

    // Swarm: the lost web task started again on a survivor.
    let web = web_tasks(lab, 3).await;
    let rescheduled = killed.elapsed();
    assert!(
        web.iter().all(|(n, _)| *n != lost),
        "no task on the lost node"
    );
    eprintln!("  three web tasks answering on the survivors after {rescheduled:.1?}");
    fleet_without(&web[0].1, cookie, &name).await;
    projector
        .wait_for(lab, lost, "the lost node's tile gone", |n| {
            n.len() == 3 && !n.contains(&name)
        })
        .await;

    tokio::time::sleep(Duration::from_secs(3)).await;
    let count = voters.stop().await;
    let kill_second = killed.duration_since(routed.started).as_secs();
    let routed = routed.stop().await;
    let count = routed_apart(lab, lost, &routed, kill_second, elected, count);
    assert!(
        count.accepted_total() > at_kill,
        "votes accepted after the loss"
    );
    eprintln!(
        "  votes: {} accepted, {} refused (503) over {:.1?}, {} not delivered (the lost node's task), {} unknown",
        count.accepted_total(),
        count.refused,
        count.refusal_window().unwrap_or_default(),
        count.undelivered,
        count.unknown
    );
    let tally = settle(lab, cookie, before, &count).await;

    // The node returns: its server rejoins with its data and its name.
    let node = lab.node(&name).clone();
    tokio::task::spawn_blocking(move || node.start())
        .await
        .unwrap();
    let back = Instant::now();
    let health = three_healthy_voters(lab).await;
    eprintln!(
        "step 3: {name} back; three healthy voters after {:.1?}: {health}",
        back.elapsed()
    );
    let db = tasks(lab, "db").await.unwrap();
    assert!(
        db.iter().any(|(n, _)| *n == lost),
        "the server back on its node"
    );
    super::every_console_shows(lab, cookie, tally).await;
    (tally, projector, lost)
}

/// Says what went through each router while `lost` was down, asserts the
/// two others kept succeeding once Consul had a leader again (and the lost
/// node's web task's requests in flight had timed out), and adds the
/// routed votes to `count`.
fn routed_apart(
    lab: &Lab,
    lost: usize,
    routed: &Routed,
    kill_second: u64,
    elected: Duration,
    mut count: crate::voters::Count,
) -> crate::voters::Count {
    let lost_ip = &lab.node(&format!("node{lost}")).ip;
    let whole = routed.by_router(kill_second);
    let (lost_sent, lost_failed) = whole.get(lost_ip).copied().unwrap_or_default();
    let (sent, failed) = Routed::others(&whole, lost_ip);
    eprintln!(
        "  from the loss on, through the lost node's router: {} of {} requests failed; \
         through the two other routers: {} of {} (those may include the election's and the lost task's requests in flight)",
        thousands(lost_failed),
        thousands(lost_sent),
        thousands(failed),
        thousands(sent)
    );
    let settled = kill_second + elected.as_secs() + 10;
    let (sent, failed) = Routed::others(&routed.by_router(settled), lost_ip);
    eprintln!(
        "  through the two other routers from {} s after the loss on: {} of {} requests failed",
        settled - kill_second,
        thousands(failed),
        thousands(sent)
    );
    assert!(sent >= 40, "traffic through the survivors' routers: {sent}");
    assert_eq!(failed, 0, "the survivors' routers kept succeeding");
    let routed = routed.count();
    for i in 0..3 {
        count.accepted[i] += routed.accepted[i];
    }
    count.unknown += routed.unknown;
    count
}

/// The node whose Consul server leads, and the leader's address.
async fn leader_node(lab: &Arc<Lab>) -> (usize, String) {
    let db = tasks(lab, "db").await.unwrap();
    let leader = Consul::leader(&db[0].1).await.unwrap();
    for (node, task) in &db {
        let (_, address) = Consul::who(task).await.unwrap();
        if leader.starts_with(&format!("{address}:")) {
            return (*node, leader);
        }
    }
    panic!("no Consul task has the leader's address {leader}");
}

/// Waits until autopilot counts three healthy voters and the Raft
/// configuration holds exactly three servers; returns autopilot's word.
pub async fn three_healthy_voters(lab: &Arc<Lab>) -> String {
    eventually(
        Duration::from_secs(300),
        "three healthy Consul voters",
        || consul_healthy(lab),
    )
    .await
}

/// Whether autopilot counts three healthy voters and the Raft configuration
/// holds exactly three servers: autopilot's word, or why not.
pub async fn consul_healthy(lab: &Arc<Lab>) -> Result<String, String> {
    let db = tasks(lab, "db").await?;
    if db.len() != 3 {
        return Err(format!("{} Consul tasks", db.len()));
    }
    let (healthy, voters, health) = match Consul::health(&db[0].1).await {
        Ok(health) => health,
        Err(e) => return Err(format!("{e}; {}", Consul::views(&db).await)),
    };
    let raft = Consul::raft(&db[0].1).await?;
    if healthy && voters == 3 && raft.len() == 3 && raft.iter().all(|s| s.1) && names_known(&raft) {
        servers_named_after_their_nodes(&db, &raft).await;
        Ok(format!(
            "failure tolerance {}, servers {:?}",
            health["FailureTolerance"],
            raft.iter().map(|s| s.0.as_str()).collect::<Vec<_>>()
        ))
    } else {
        Err(format!(
            "healthy {healthy}, {voters} healthy voters, raft {raft:?}; autopilot: {}; {}",
            Consul::servers_health(&health),
            Consul::views(&db).await
        ))
    }
}

/// Whether Consul serves: three tasks, a leader, and three voters in the
/// Raft configuration (whatever autopilot says of their health).
pub async fn consul_serving(lab: &Arc<Lab>) -> Result<String, String> {
    let db = tasks(lab, "db").await?;
    if db.len() != 3 {
        return Err(format!("{} Consul tasks", db.len()));
    }
    let raft = Consul::raft(&db[0].1).await?;
    if raft.len() == 3 && raft.iter().all(|s| s.1) && raft.iter().any(|s| s.2) {
        Ok(format!("raft {raft:?}"))
    } else {
        Err(format!("raft {raft:?}; {}", Consul::views(&db).await))
    }
}

/// Whether the server answering knows every Raft member by name. Consul
/// names a member `(unknown)` while its Raft address matches no server in
/// the gossip pool: for a moment after a server comes back (CI saw this
/// once, after the quorum step's two nodes returned, when the servers were
/// on the overlay and came back at new addresses), autopilot may already
/// count it healthy. That moment passes; a wrong name does not, and
/// `servers_named_after_their_nodes` fails on it.
pub fn names_known(raft: &[(String, bool, bool)]) -> bool {
    raft.iter().all(|s| s.0 != "(unknown)")
}

/// Each Consul server is named after the node it runs on, and the Raft
/// configuration holds exactly those three names: a server that came back
/// on a node found that node's data, whichever task slot Swarm gave it.
pub async fn servers_named_after_their_nodes(db: &[(usize, Task)], raft: &[(String, bool, bool)]) {
    let mut expected: Vec<String> = (1..=3)
        .map(|n| format!("{}-node{n}", service("db")))
        .collect();
    for (node, task) in db {
        let (name, _) = Consul::who(task).await.unwrap();
        assert_eq!(name, expected[node - 1], "the Consul server on node{node}");
    }
    let mut names: Vec<String> = raft.iter().map(|s| s.0.clone()).collect();
    names.sort();
    expected.sort();
    assert_eq!(names, expected, "the Raft configuration's servers");
}
