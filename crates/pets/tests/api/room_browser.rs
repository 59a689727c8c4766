//! A room in a real browser: the console's QR code scanned by a real
//! decoder (zbarimg, from Debian's zbar-tools), the decoded address opened
//! on phone-sized Chromium (360 x 640 and 390 x 844), a vote from each
//! phone counted on the console; and the projector's page at 1920 x 1080
//! with three replicas on three nodes, two versions and a fault, following
//! a replica that leaves and one that arrives. The screenshots are the
//! README's (`images/phone-*.png`, `images/projector.png`).
//!
//! The browser reaches 127.0.0.1 under any `*.test` name, so the console is
//! opened at `http://room.test:<port>` and the code's address comes from
//! that name, as it would from a laptop's network address.

use std::time::{Duration, Instant};

use pets_testkit::browser::{Browser, Viewport};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Env, TestApp, Visitor};

#[tokio::test]
async fn a_phone_scans_the_code_votes_and_the_console_counts_it() {
    let app = spawn_app_with(Env::default().with("HOSTNAME", "web-1")).await;
    let console = Browser::start().await;
    console
        .client
        .goto(&TestApp::named(&app.admin, "room.test"))
        .await
        .unwrap();
    let decoded = console.scan_code("#join-code svg").await;
    assert_eq!(
        decoded,
        format!("http://room.test:{}/", app.web_port()),
        "the code is the voter site at the console's address"
    );
    assert_eq!(
        console.text("#join-url").await,
        decoded,
        "and in large type"
    );

    for (size, name, choice, shot) in [
        ((360, 640), "Ada", "b", None),
        ((390, 844), "Bo", "c", Some("phone")),
    ] {
        let phone = Browser::start_at(Viewport::Phone(size.0, size.1)).await;
        phone.client.goto(&decoded).await.unwrap();
        assert_eq!(phone.wait_for_path("/vote").await, "/vote");
        phone.assert_fits_a_phone("the ballot", size).await;
        phone.type_into("#name", name).await;
        if let Some(shot) = shot {
            phone.screenshot(&format!("{shot}-vote.png")).await;
        }
        phone.click(&format!("#vote-{choice}")).await;
        assert_eq!(
            phone.wait_for_path("/").await,
            "/",
            "one tap after the name"
        );
        phone.assert_fits_a_phone("the pet page", size).await;
        if let Some(shot) = shot {
            phone.screenshot(&format!("{shot}-pet.png")).await;
        }
        phone.close().await;
    }
    assert_eq!(console.wait_for_text("#votes-b", "1").await, "1");
    assert_eq!(console.wait_for_text("#votes-c", "1").await, "1");
    console.close().await;
    assert_eq!(app.votes().await, [0, 1, 1]);
}

/// The tiles `/present` shows: (node, label, classes), in page order.
async fn tiles(browser: &Browser) -> Vec<(String, String, String)> {
    let value = browser
        .eval(
            "return Array.from(document.querySelectorAll('#cluster-nodes li.tile:not(.leaving)')).map(function (t) {
               return [t.closest('div.node').dataset.node, t.querySelector('.tile-label').textContent, t.className];
             });",
        )
        .await;
    serde_json::from_value(value).unwrap()
}

async fn wait_for_tiles(
    browser: &Browser,
    count: usize,
    what: &str,
) -> Vec<(String, String, String)> {
    let started = Instant::now();
    loop {
        let now = tiles(browser).await;
        if now.len() == count {
            return now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projector_shows_the_cluster_by_node_live() {
    let cluster = pets_testkit::Cluster::lock().await;
    let prefix = crate::helpers::prefix("present");
    let replica = |node: &str, version: &str, slot: &str| {
        Env::on_consul(cluster.db(), &prefix)
            .with("PETS_NODE", node)
            .with("PETS_VERSION", version)
            .with("PETS_SERVICE", "pets_web")
            .with("PETS_TASK_SLOT", slot)
            .with("PETS_PUBLIC_URL", "http://pets.example.com/")
    };
    let mut apps = vec![
        spawn_app_with(replica("node-1", "1.0", "1")).await,
        spawn_app_with(replica("node-2", "1.0", "2")).await,
        spawn_app_with(replica("node-3", "2.0", "3")).await,
    ];
    for (i, name) in ["Ann", "Bea", "Cal", "Dot"].iter().enumerate() {
        Visitor::new()
            .vote(&apps[i % 3], name, ["a", "b", "a", "c"][i])
            .await;
    }
    // Each replica writes its fleet record as it starts: wait for all three.
    let started = Instant::now();
    let on_node_two = loop {
        let fleet: Value = Visitor::new()
            .get(&format!("{}/api/fleet", apps[0].admin))
            .await
            .json()
            .await
            .unwrap();
        let replicas = fleet["replicas"].as_array().cloned().unwrap_or_default();
        if let Some(r) = replicas.iter().find(|r| r["node"] == "node-2") {
            if replicas.len() == 3 {
                break r["id"].clone();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "three replicas in the fleet: {fleet}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let fault = Visitor::new()
        .http
        .post(format!("{}/api/faults", apps[0].admin))
        .json(&json!({"target": on_node_two, "latency_ms": 100}))
        .send()
        .await
        .unwrap();
    assert!(fault.status().is_success(), "{}", fault.status());

    let projector = Browser::start_at(Viewport::Screen(1920, 1080)).await;
    projector
        .client
        .goto(&format!("{}/present", apps[0].admin))
        .await
        .unwrap();
    // A mark that a reload would wipe: the page must stay live without one.
    projector
        .eval("window.stillTheSamePage = true; return null;")
        .await;
    let started = Instant::now();
    let shown = loop {
        let shown = tiles(&projector).await;
        if shown.len() == 3 && shown.iter().any(|t| t.2.contains("faulty")) {
            break shown;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "three tiles, one faulty: {shown:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let nodes: Vec<&str> = shown.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(nodes, ["node-1", "node-2", "node-3"], "one column per node");
    assert!(
        shown[0].2.contains("shade-0") && shown[2].2.contains("shade-1"),
        "coloured by version: {shown:?}"
    );
    assert!(shown[1].2.contains("faulty") && !shown[0].2.contains("faulty"));
    assert_eq!(shown[1].1, "pets_web.2");
    let quorum = projector.text("#cluster-quorum").await;
    assert!(
        quorum == "Consul has a quorum" || quorum.contains("electing a leader"),
        "{quorum}"
    );
    assert_eq!(
        projector
            .text("#cluster-nodes .consul.leader .tile-mark")
            .await
            .to_lowercase(),
        "leader",
        "Consul's leader is marked"
    );
    assert_eq!(projector.wait_for_text("#total-votes", "4").await, "4");
    assert_eq!(
        projector.text("#join-url").await,
        "http://pets.example.com/"
    );
    let fits = projector
        .eval("return [document.documentElement.scrollWidth, window.innerWidth, document.getElementById('join-code').getBoundingClientRect().bottom];")
        .await;
    assert_eq!(fits[1], json!(1920), "a projector's width");
    assert!(
        fits[0].as_f64() <= fits[1].as_f64(),
        "no sideways scrolling: {fits}"
    );
    assert!(
        fits[2].as_f64().unwrap() <= 1080.0,
        "the code is on the screen: {fits}"
    );
    projector.screenshot("projector.png").await;

    // node-3's replica leaves; a new one arrives on node-1; no reload.
    apps.pop().unwrap().stop().await;
    let shown = wait_for_tiles(&projector, 2, "the replica that left fades out").await;
    assert!(shown.iter().all(|t| t.0 != "node-3"), "{shown:?}");
    apps.push(spawn_app_with(replica("node-1", "2.0", "4")).await);
    let shown = wait_for_tiles(&projector, 3, "the new replica appears").await;
    assert_eq!(
        shown.iter().filter(|t| t.0 == "node-1").count(),
        2,
        "two on node-1 now: {shown:?}"
    );
    assert_eq!(
        projector
            .eval("return window.stillTheSamePage === true;")
            .await,
        json!(true),
        "followed live, without a reload"
    );
    projector.close().await;
    for mut app in apps {
        app.stop().await;
    }
}
