//! Faults injected from the console: each takes effect within 2 s on the
//! replica or fleet it is for, shows in `/api/fleet`, and clear removes it;
//! bad commands are refused and change nothing; crash and memory ballast on
//! the real binary.

use std::time::{Duration, Instant};

use pets_testkit::{eventually, holds, Cluster};
use serde_json::{json, Value};

use crate::binary::Binary;
use crate::helpers::{spawn_app, spawn_app_with, Env, TestApp, Visitor};

/// The deadline the issue sets for a fault to take effect.
const WITHIN: Duration = Duration::from_secs(2);

async fn post_faults(admin: &str, body: Value) -> reqwest::Response {
    Visitor::new()
        .http
        .post(format!("{admin}/api/faults"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn fleet(admin: &str) -> Value {
    Visitor::new()
        .get(&format!("{admin}/api/fleet"))
        .await
        .json()
        .await
        .unwrap()
}

/// This replica's id and its faults as `/api/fleet` shows them.
async fn own_faults(app: &TestApp) -> (String, Value) {
    let fleet = fleet(&app.admin).await;
    let me = &fleet["replicas"][0];
    (me["id"].as_str().unwrap().to_owned(), me["faults"].clone())
}

/// Status and time taken of the ballot page.
async fn pet_page(web: &str) -> (u16, Duration) {
    let started = Instant::now();
    let status = Visitor::new().get(&format!("{web}/vote")).await.status();
    (status.as_u16(), started.elapsed())
}

async fn health(web: &str) -> u16 {
    Visitor::new()
        .get(&format!("{web}/health"))
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn each_fault_on_one_replica_takes_effect_and_clear_removes_it() {
    let app = spawn_app().await;
    let (id, faults) = own_faults(&app).await;
    assert_eq!(faults, json!({}));

    let set = post_faults(&app.admin, json!({"target": id, "latency_ms": 1000})).await;
    assert_eq!(set.status(), 200);
    eventually(WITHIN, "latency on the pet page", || async {
        holds(pet_page(&app.web).await, |(s, t)| {
            *s == 200 && *t >= Duration::from_millis(1000)
        })
    })
    .await;
    let (_, faults) = own_faults(&app).await;
    assert_eq!(faults["latency_ms"], 1000, "shown on the record");
    let started = Instant::now();
    assert_eq!(health(&app.web).await, 200);
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "health is not slowed"
    );

    post_faults(
        &app.admin,
        json!({"target": id, "error_percent": 100, "latency_ms": 0}),
    )
    .await;
    eventually(WITHIN, "errors on the pet page", || async {
        holds(pet_page(&app.web).await, |(s, _)| *s == 500)
    })
    .await;
    let page = Visitor::new()
        .get(&app.vote_url())
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("injected fault"), "says why: {page}");
    assert_eq!(health(&app.web).await, 200, "errors leave health alone");

    post_faults(&app.admin, json!({"target": id, "unhealthy_after_s": 1})).await;
    eventually(
        Duration::from_secs(1) + WITHIN,
        "unhealthy after 1 s",
        || async { holds(health(&app.web).await, |s| *s == 500) },
    )
    .await;

    post_faults(&app.admin, json!({"target": id, "cpu_seconds": 1})).await;
    eventually(WITHIN, "a CPU burn on the record", || async {
        holds(own_faults(&app).await.1, |f| f["cpu_until"].is_string())
    })
    .await;

    let clear = post_faults(&app.admin, json!({"target": id, "clear": true})).await;
    assert_eq!(clear.status(), 200);
    eventually(WITHIN, "every fault cleared", || async {
        let (status, took) = pet_page(&app.web).await;
        let healthy = health(&app.web).await;
        holds((status, took, healthy), |(s, t, h)| {
            *s == 200 && *t < Duration::from_millis(1000) && *h == 200
        })
    })
    .await;
    eventually(WITHIN, "the burn over and the record empty", || async {
        holds(own_faults(&app).await.1, |f| *f == json!({}))
    })
    .await;
}

#[tokio::test]
async fn bad_fault_commands_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let cases = [
        (json!({"target": "fleet"}), 400),
        (json!({"target": "fleet", "error_percent": 101}), 400),
        (json!({"target": "fleet", "latency_ms": 3_600_000}), 400),
        (
            json!({"target": "fleet", "clear": true, "crash": true}),
            400,
        ),
        (json!({"target": "no-such-replica", "crash": true}), 400),
        (json!({"target": "fleet", "latency": 5}), 400),
        (json!({"latency_ms": 5}), 400),
        (json!([1, 2]), 400),
    ];
    for (body, status) in cases {
        let response = post_faults(&app.admin, body.clone()).await;
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"].as_str().unwrap().len() > 10,
            "{body}: {error}"
        );
    }
    let cross_site = Visitor::new()
        .http
        .post(format!("{}/api/faults", app.admin))
        .header("origin", "https://elsewhere.example")
        .json(&json!({"target": "fleet", "crash": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    assert_eq!(own_faults(&app).await.1, json!({}), "nothing changed");

    let guarded = spawn_app_with(Env::default().password("secret")).await;
    let anonymous = post_faults(&guarded.admin, json!({"target": "fleet", "latency_ms": 9})).await;
    assert_eq!(anonymous.status(), 401, "behind the login");

    let off = spawn_app_with(Env::default().with("PETS_CHAOS", "off")).await;
    let refused = post_faults(&off.admin, json!({"target": "fleet", "latency_ms": 9})).await;
    assert_eq!(refused.status(), 403, "PETS_CHAOS=off turns faults off");
}

#[tokio::test]
async fn the_console_form_sets_a_fault_and_the_card_shows_it() {
    let app = spawn_app().await;
    let response = Visitor::new()
        .post_form(
            &format!("{}/faults", app.admin),
            &[
                ("target", "fleet"),
                ("latency_ms", "300"),
                ("error_percent", ""),
                ("action", "set"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let page = eventually(WITHIN, "the card shows the fault", || async {
        let page = Visitor::new()
            .get(&format!("{}/", app.admin))
            .await
            .text()
            .await
            .unwrap();
        holds(page, |p| p.contains("latency 300 ms"))
    })
    .await;
    assert!(page.contains(r#"action="/faults""#), "a form per card");
    let bad = Visitor::new()
        .post_form(
            &format!("{}/faults", app.admin),
            &[
                ("target", "fleet"),
                ("latency_ms", "soon"),
                ("action", "set"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("whole number"));
}

#[tokio::test]
async fn faults_set_at_start_hold_and_broken_turns_unhealthy_later() {
    let app = spawn_app_with(Env::default().with("PETS_FAULT_UNHEALTHY_AFTER_S", "1")).await;
    assert_eq!(health(&app.web).await, 200, "healthy at first");
    eventually(
        Duration::from_secs(1) + WITHIN,
        "unhealthy after 1 s",
        || async { holds(health(&app.web).await, |s| *s == 500) },
    )
    .await;
    let broken = spawn_app_with(Env::default().with("PETS_VERSION", "broken")).await;
    assert_eq!(
        health(&broken.web).await,
        200,
        "broken passes its first checks"
    );
    assert_eq!(own_faults(&broken).await.1["unhealthy_after_s"], 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_fault_reaches_every_replica_and_one_for_a_replica_only_it() {
    let cluster = Cluster::lock().await;
    let prefix = format!("test-{}-faults/", std::process::id());
    let env = |node: &str| Env::on_consul(cluster.db(), &prefix).with("PETS_NODE", node);
    let apps = [
        spawn_app_with(env("node-0")).await,
        spawn_app_with(env("node-1")).await,
        spawn_app_with(env("node-2")).await,
    ];
    // Sorted by node, so the ids are in the apps' order.
    let ids: Vec<String> = eventually(Duration::from_secs(10), "three replicas", || async {
        let fleet = fleet(&apps[0].admin).await;
        let ids: Vec<String> = fleet["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        holds(ids, |ids| ids.len() == 3)
    })
    .await;

    let started = Instant::now();
    let set = post_faults(
        &apps[1].admin,
        json!({"target": "fleet", "latency_ms": 300}),
    )
    .await;
    assert_eq!(set.status(), 200);
    for app in &apps {
        eventually(WITHIN, "fleet latency on every replica", || async {
            holds(pet_page(&app.web).await, |(_, t)| {
                *t >= Duration::from_millis(300)
            })
        })
        .await;
    }
    eprintln!(
        "a fleet fault reached all three replicas in {:?}",
        started.elapsed()
    );

    let one = post_faults(
        &apps[0].admin,
        json!({"target": ids[2], "error_percent": 100}),
    )
    .await;
    assert_eq!(one.status(), 200);
    eventually(WITHIN, "errors on that replica", || async {
        holds(pet_page(&apps[2].web).await, |(s, _)| *s == 500)
    })
    .await;
    assert_eq!(pet_page(&apps[0].web).await.0, 200, "not on the others");
    eventually(WITHIN, "the fleet shows each replica's faults", || async {
        let fleet = fleet(&apps[0].admin).await;
        let with_errors = fleet["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["faults"]["error_percent"] == 100)
            .count();
        let with_latency = fleet["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["faults"]["latency_ms"] == 300)
            .count();
        holds((with_errors, with_latency), |c| *c == (1, 3))
    })
    .await;

    post_faults(&apps[0].admin, json!({"target": "fleet", "clear": true})).await;
    for app in &apps {
        eventually(WITHIN, "cleared everywhere", || async {
            holds(pet_page(&app.web).await, |(s, t)| {
                *s == 200 && *t < Duration::from_millis(300)
            })
        })
        .await;
    }
}

#[tokio::test]
async fn crash_exits_the_process_and_memory_ballast_is_held_until_cleared() {
    let mut pets = Binary::start(&[], None).await;
    let admin = format!("http://{}", pets.admin);
    let id = fleet(&admin).await["replicas"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = pets.rss_kib();
    post_faults(&admin, json!({"target": id, "memory_mib": 64})).await;
    let held = eventually(WITHIN, "64 MiB held", || async {
        holds(pets.rss_kib(), |rss| *rss >= before + 60 * 1024)
    })
    .await;
    eprintln!("RSS {before} KiB, with 64 MiB ballast {held} KiB");
    post_faults(&admin, json!({"target": id, "clear": true})).await;
    eventually(WITHIN, "ballast released", || async {
        holds(pets.rss_kib(), |rss| *rss < before + 32 * 1024)
    })
    .await;

    let crash = post_faults(&admin, json!({"target": "fleet", "crash": true})).await;
    assert_eq!(crash.status(), 200);
    let status = tokio::time::timeout(WITHIN, pets.child.wait())
        .await
        .expect("exited within 2 s")
        .unwrap();
    assert_eq!(
        status.code(),
        Some(70),
        "a non-zero exit, for the orchestrator"
    );
}
