//! Step 4: a node drained under votes. Its web task moves to the other two
//! nodes; its Consul server stops and waits for it (one server per node, so
//! there is nowhere else for it to go), the other two keep a quorum. Votes
//! go on being accepted and the tally stays exact. Made active again, the
//! node gets its server back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pets_testkit::holds;

use super::node_loss::three_healthy_voters;
use super::{fleet_without, settle, web_tasks};
use crate::prod::STACK;
use crate::projector::Projector;
use crate::rig::Lab;
use crate::support::eventually;
use crate::voters::Voters;

pub async fn a_drained_node_hands_over_its_tasks(
    lab: &Arc<Lab>,
    cookie: &str,
    before: [u64; 3],
    projector: &Projector,
    returned: usize,
) -> [u64; 3] {
    // The node with the most web tasks, so that something moves.
    let web = web_tasks(lab, 3).await;
    let drained = (1..=3)
        .max_by_key(|n| web.iter().filter(|(m, _)| m == n).count())
        .unwrap();
    let name = format!("node{drained}");
    let voters = Voters::start(lab);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let started = Instant::now();
    availability(lab, &name, "drain").await;
    let node = lab.node(&name).clone();
    let stack = format!("label=com.docker.stack.namespace={STACK}");
    eventually(
        Duration::from_secs(90),
        "the drained node empty",
        || async {
            let (node, stack) = (node.clone(), stack.clone());
            let left =
                tokio::task::spawn_blocking(move || node.docker(&["ps", "-q", "--filter", &stack]))
                    .await
                    .unwrap()?;
            holds(left, |l| l.is_empty())
        },
    )
    .await;
    let web = web_tasks(lab, 3).await;
    assert!(web.iter().all(|(n, _)| *n != drained));
    eprintln!("step 4: {name} drained: its tasks gone and three web tasks answering elsewhere after {:.1?}", started.elapsed());
    fleet_without(&web[0].1, cookie, &name).await;
    // The node lost in step 3 is the emptiest: Swarm gives it tasks again.
    let back = format!("node{returned}");
    projector
        .wait_for(lab, drained, "tiles on the node that came back", |n| {
            n.len() == 3 && !n.contains(&name) && n.contains(&back)
        })
        .await;
    let at_drained = voters.now().accepted_total();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let count = voters.stop().await;
    assert!(
        count.accepted_total() > at_drained,
        "votes accepted after the drain"
    );
    eprintln!(
        "  votes: {} accepted, {} refused (503), {} not delivered (a task stopping between two reads of the task list), {} unknown",
        count.accepted_total(),
        count.refused,
        count.undelivered,
        count.unknown
    );
    let tally = settle(lab, cookie, before, &count).await;
    availability(lab, &name, "active").await;
    eprintln!(
        "step 4: {name} active again: {}",
        three_healthy_voters(lab).await
    );
    tally
}

/// `docker node update --availability <what> <node>` on a manager.
async fn availability(lab: &Arc<Lab>, node: &str, what: &str) {
    let (lab, node, what) = (lab.clone(), node.to_owned(), what.to_owned());
    tokio::task::spawn_blocking(move || {
        lab.manager()
            .docker(&["node", "update", "--availability", &what, &node])
            .unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap();
}
