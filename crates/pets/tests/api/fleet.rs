//! The fleet on the console: every replica registers itself, with its node,
//! slot, version and health; one that stops leaves at once, one that is
//! killed within the session's lapse; `/kill` shows on its card.

use std::time::{Duration, Instant};

use pets_testkit::{eventually, holds, Cluster};
use serde_json::Value;

use crate::binary::Binary;
use crate::helpers::{spawn_app, spawn_app_with, Env, TestApp, Visitor};

async fn fleet(app: &TestApp) -> Value {
    let response = Visitor::new()
        .get(&format!("{}/api/fleet", app.admin))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The replicas' (node, version, healthy), in the fleet's order.
fn cards(fleet: &Value) -> Vec<(String, String, bool)> {
    fleet["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["node"].as_str().unwrap_or("-").to_owned(),
                r["version"].as_str().unwrap().to_owned(),
                r["healthy"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn with_the_embedded_store_the_fleet_is_this_process() {
    let app = spawn_app().await;
    let fleet_now = fleet(&app).await;
    let replicas = fleet_now["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 1);
    let me = &replicas[0];
    assert_eq!(me["host"], "test-host");
    assert!(me["id"].as_str().unwrap().starts_with("test-host-"));
    assert_eq!(
        (me["version"].as_str(), me["healthy"].as_bool()),
        (Some("1.0"), Some(true))
    );
    for field in ["started_at", "last_seen"] {
        let text = me[field].as_str().unwrap();
        assert!(
            text.len() >= 20 && text.contains('T'),
            "RFC 3339 {field}: {text}"
        );
    }
    assert_eq!(fleet_now["store"]["kind"], "memory");
    Visitor::new().get(&app.kill_url()).await;
    assert!(!cards(&fleet(&app).await)[0].2, "/kill shows at once");
    let page = Visitor::new()
        .get(&format!("{}/", app.admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"fleet-cards\"") && page.contains("unhealthy"),
        "a card, unhealthy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_consul_join_change_and_leave() {
    let cluster = Cluster::lock().await;
    let prefix = format!("test-{}-fleet/", std::process::id());
    let replica = |node: &str, version: &str, slot: &str| {
        Env::on_consul(cluster.db(), &prefix)
            .with("PETS_NODE", node)
            .with("PETS_VERSION", version)
            .with("PETS_TASK_SLOT", slot)
    };
    let one = spawn_app_with(replica("node-1", "1.0", "1")).await;
    let two = spawn_app_with(replica("node-2", "2.0", "2")).await;
    let mut three = spawn_app_with(replica("node-3", "1.0", "3")).await;
    let all = eventually(Duration::from_secs(10), "three replicas", || async {
        holds(cards(&fleet(&one).await), |c| c.len() == 3)
    })
    .await;
    assert_eq!(
        all,
        [
            ("node-1".to_owned(), "1.0".to_owned(), true),
            ("node-2".to_owned(), "2.0".to_owned(), true),
            ("node-3".to_owned(), "1.0".to_owned(), true),
        ]
    );
    let fleet_now = fleet(&one).await;
    let store = &fleet_now["store"];
    assert_eq!(
        (store["kind"].as_str(), store["quorum"].as_bool()),
        (Some("consul"), Some(true))
    );
    let servers = store["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 3);
    assert_eq!(servers.iter().filter(|s| s["leader"] == true).count(), 1);
    assert!(servers.iter().all(|s| s["voter"] == true));
    assert_eq!(fleet_now["replicas"][1]["slot"], "2");

    Visitor::new().get(&two.kill_url()).await;
    let started = Instant::now();
    eventually(
        Duration::from_secs(2),
        "/kill seen by another replica",
        || async { holds(cards(&fleet(&one).await), |c| c.len() == 3 && !c[1].2) },
    )
    .await;
    eprintln!(
        "/kill seen by another replica after {:?}",
        started.elapsed()
    );

    three.stop().await;
    let started = Instant::now();
    eventually(
        Duration::from_secs(2),
        "a stopped replica leaves",
        || async { holds(cards(&fleet(&one).await).len(), |&n| n == 2) },
    )
    .await;
    eprintln!("a stopped replica left after {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_leaves_when_its_session_lapses() {
    let cluster = Cluster::lock().await;
    let prefix = format!("test-{}-killed/", std::process::id());
    let db = cluster.db();
    let env = [
        ("DB", db.as_str()),
        ("PETS_KV_PREFIX", prefix.as_str()),
        ("PETS_NODE", "doomed"),
    ];
    let watcher = spawn_app_with(Env::on_consul(cluster.db(), &prefix)).await;
    let doomed = Binary::start(&env, None).await;
    eventually(Duration::from_secs(10), "the process joins", || async {
        holds(cards(&fleet(&watcher).await).len(), |&n| n == 2)
    })
    .await;
    doomed.signal(libc::SIGKILL);
    let started = Instant::now();
    eventually(
        Duration::from_secs(15),
        "a killed replica leaves",
        || async {
            holds(cards(&fleet(&watcher).await), |c| {
                c.iter().all(|(node, _, _)| node != "doomed")
            })
        },
    )
    .await;
    eprintln!("a killed replica left after {:?}", started.elapsed());
}
