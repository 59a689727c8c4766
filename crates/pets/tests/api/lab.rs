//! The lab guide through `GET /api/lab`: on the embedded store every step
//! says it needs the stack; on the real Consul cluster, steps turn done
//! only when their action happened (two replicas deployed, votes through
//! both, a replica stopped and another started), the progress is shared by
//! every replica (one started later reads it), and starting the lab again
//! opens every step.

use std::time::Duration;

use pets_testkit::{eventually, holds, Cluster};
use serde_json::Value;

use crate::helpers::{prefix, replica, spawn_app, Visitor};

fn step<'a>(lab: &'a Value, id: &str) -> &'a Value {
    lab["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {lab}"))
}

fn done(lab: &Value, id: &str) -> bool {
    !step(lab, id)["done_at"].is_null()
}

#[tokio::test]
async fn on_the_embedded_store_every_step_says_it_needs_the_stack() {
    let app = spawn_app().await;
    let lab = app.lab().await;
    let steps = lab["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 8, "{lab}");
    for s in steps {
        assert!(s["done_at"].is_null(), "{s}");
        assert_eq!(s["applies"], false, "{s}");
        assert!(s["note"].as_str().unwrap().starts_with("needs the stack"));
    }
    assert_eq!(lab["applies"], 0);
    let page = Visitor::new().get(&app.admin).await.text().await.unwrap();
    assert!(
        page.contains(r#"id="lab-steps""#),
        "the console has the panel"
    );
    assert!(page.contains("A bad release rolled back by itself"));
    assert!(page.contains(r#"action="/lab/reset""#));
    let present = Visitor::new().get(&app.present_url()).await.text().await;
    let present = present.unwrap();
    assert!(present.contains(r#"id="lab-steps""#), "so has /present");
    assert!(
        !present.contains(r#"action="/lab/reset""#),
        "without the reset"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_turn_done_on_the_real_cluster_when_they_happen_and_start_again() {
    let cluster = Cluster::lock().await;
    cluster.wait_for_three_voters(Duration::from_secs(30)).await;
    let prefix = prefix("lab");
    let one = replica(&cluster, &prefix).await;
    let mut two = replica(&cluster, &prefix).await;
    let within = Duration::from_secs(15);

    let lab = eventually(within, "deployed", || async {
        holds(one.lab().await, |lab| done(lab, "deployed"))
    })
    .await;
    let evidence = step(&lab, "deployed")["evidence"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        evidence.starts_with("2 healthy replicas") && evidence.contains("3 Consul voters, leader"),
        "{evidence}"
    );
    for id in ["votes_everywhere", "replaced", "rolled_forward", "quorum"] {
        assert!(!done(&lab, id), "{id} before its action: {lab}");
    }
    assert_eq!(step(&lab, "node_lost")["note"], "needs three nodes");

    // Votes through one replica, then the other.
    let visitor = Visitor::new();
    assert_eq!(visitor.vote(&one, "Ann", "a").await.status(), 303);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !done(&one.lab().await, "votes_everywhere"),
        "one replica only"
    );
    assert_eq!(Visitor::new().vote(&two, "Bob", "b").await.status(), 303);
    let lab = eventually(within, "votes everywhere", || async {
        holds(two.lab().await, |lab| done(lab, "votes_everywhere"))
    })
    .await;
    let evidence = step(&lab, "votes_everywhere")["evidence"].as_str().unwrap();
    assert!(
        evidence.starts_with("votes recorded through 2 replicas"),
        "{evidence}"
    );

    // A replica stopped and another started in its place.
    two.stop().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!done(&one.lab().await, "replaced"), "not replaced yet");
    let three = replica(&cluster, &prefix).await;
    let lab = eventually(within, "replaced", || async {
        holds(three.lab().await, |lab| done(lab, "replaced"))
    })
    .await;
    let evidence = step(&lab, "replaced")["evidence"].as_str().unwrap();
    assert!(
        evidence.contains("left the fleet")
            && evidence.contains("the tally did not go back (2 then, 2 now)"),
        "{evidence}"
    );
    assert!(
        done(&lab, "deployed"),
        "the newcomer read the shared progress"
    );

    // Start the lab again: every step opens, and deployed comes back by
    // itself (the stack is still up), later than before.
    let before = step(&lab, "deployed")["done_at"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(one.reset_lab().await, 200);
    let lab = eventually(within, "the lab started again", || async {
        holds(three.lab().await, |lab| {
            !done(lab, "replaced") && !done(lab, "votes_everywhere") && done(lab, "deployed")
        })
    })
    .await;
    assert!(step(&lab, "deployed")["done_at"].as_str().unwrap() > before.as_str());
}
