//! Steps 1 and 2: the prod stack on three nodes, one web task and one
//! Consul server on each, the console behind the secret's password, and
//! votes through every node counted exactly.

use std::sync::Arc;
use std::time::Duration;

use pets_testkit::holds;

use super::{every_console_shows, fleet, fleet_nodes, tasks, web_tasks};
use crate::prod::{Consul, Prod};
use crate::rig::Lab;
use crate::support::{eventually, http};

/// Returns a console session made on one node's task.
pub async fn the_prod_stack_deploys_one_per_node(lab: &Arc<Lab>, prod: &Prod) -> String {
    let web = web_tasks(lab, 3).await;
    let web_nodes = nodes_of(&web);
    assert_eq!(web_nodes, [1, 2, 3], "one web task per node");
    let db = eventually(Duration::from_secs(60), "three Consul tasks", || async {
        holds(tasks(lab, "db").await?, |t| t.len() == 3)
    })
    .await;
    assert_eq!(nodes_of(&db), [1, 2, 3], "one Consul server per node");
    let leader = eventually(
        Duration::from_secs(120),
        "a Consul leader among the three nodes",
        || async {
            let raft = Consul::raft(&db[0].1).await?;
            holds(raft, |r| {
                r.len() == 3
                    && r.iter().all(|s| s.1)
                    && r.iter().filter(|s| s.2).count() == 1
                    && super::node_loss::names_known(r)
            })
        },
    )
    .await;
    eprintln!("step 1: Consul's Raft configuration: {leader:?}");
    super::node_loss::servers_named_after_their_nodes(&db, &leader).await;

    // The secret reached the tasks on the other nodes: each console asks for
    // the password, refuses a wrong one and accepts the right one.
    let (first, other) = (&web[1].1, &web[2].1);
    let unauthenticated = http()
        .get(format!("http://{}:7000/api/results", first.ip))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unauthenticated.status(),
        401,
        "the console asks for the password"
    );
    assert!(
        crate::prod::login_as(first, "not the password")
            .await
            .is_err(),
        "a wrong password is refused"
    );
    let cookie = eventually(Duration::from_secs(30), "a console login", || {
        prod.login(first)
    })
    .await;
    let fleet = eventually(
        Duration::from_secs(30),
        "a session from node2 accepted on node3, the fleet on three nodes",
        || async {
            holds(fleet(other, &cookie).await?, |f| {
                fleet_nodes(f) == ["node1", "node2", "node3"] && f["store"]["quorum"] == true
            })
        },
    )
    .await;
    eprintln!(
        "step 1: logged in on node{}'s console, the session accepted on node{}'s; the fleet view: {:?}",
        web[1].0,
        web[2].0,
        fleet_nodes(&fleet)
    );
    cookie
}

/// Step 2: 20 votes through each node's web task; every console shows all
/// 60. Returns the tally.
pub async fn votes_cross_nodes(lab: &Arc<Lab>, cookie: &str) -> [u64; 3] {
    let web = web_tasks(lab, 3).await;
    let mut expected = [0u64; 3];
    for round in 0..20 {
        for (_, task) in &web {
            let choice = (round + task.ip.len()) % 3;
            let answer = http()
                .post(format!("http://{}:5000/vote", task.ip))
                .form(&[("name", "lab"), ("vote", ["a", "b", "c"][choice])])
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 303, "a vote through {}", task.ip);
            expected[choice] += 1;
        }
    }
    every_console_shows(lab, cookie, expected).await;
    eprintln!("step 2: 60 votes through three nodes, all counted: {expected:?}");
    expected
}

fn nodes_of(tasks: &[(usize, crate::support::Task)]) -> Vec<usize> {
    let mut nodes: Vec<usize> = tasks.iter().map(|(n, _)| *n).collect();
    nodes.sort();
    nodes
}
