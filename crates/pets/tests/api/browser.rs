//! The app in a real browser: headless Chromium driven through chromedriver.
//! These tests also take the screenshots the README and docs/ show (`images/`).

use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use pets_testkit::browser::Browser;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Env, Visitor};

#[tokio::test]
async fn a_visitor_votes_and_sees_their_pet() {
    let app = spawn_app_with(Env::default().with("HOSTNAME", "web-1")).await;
    let browser = Browser::start().await;

    browser.client.goto(&app.web).await.unwrap();
    assert_eq!(
        browser.wait_for_path("/vote").await,
        "/vote",
        "sent to the ballot first"
    );
    browser.type_into("#name", "Ada").await;
    browser.screenshot("vote-page.png").await;
    browser.click("#vote-b").await;

    assert_eq!(browser.wait_for_path("/").await, "/");
    assert!(browser.text("h1").await.contains("Dogs"));
    assert_eq!(browser.text("#hostname").await, "web-1");
    assert_eq!(browser.text("#pets-served").await, "1");
    let loaded = browser
        .client
        .execute(
            "const img = document.getElementById('pet-picture');
             return img.complete && img.naturalWidth > 0 ? img.getAttribute('src') : null;",
            vec![],
        )
        .await
        .unwrap();
    let src = loaded.as_str().expect("the picture loaded");
    assert!(src.starts_with("/static/option_b/"), "{src}");
    browser.screenshot("pet-page.png").await;

    browser.click("#another").await;
    assert_eq!(browser.wait_for_text("#pets-served", "2").await, "2");
    browser.click("#vote-again").await;
    assert_eq!(browser.wait_for_path("/vote").await, "/vote");
    assert!(browser
        .text("#vote-b")
        .await
        .to_lowercase()
        .contains("your vote"));
    browser.close().await;
    assert_eq!(app.votes().await, [0, 1, 0]);
}

#[tokio::test]
async fn version_two_is_visibly_different() {
    let app = spawn_app_with(
        Env::default()
            .with("PETS_VERSION", "2.0")
            .with("HOSTNAME", "web-2"),
    )
    .await;
    let browser = Browser::start().await;
    browser.client.goto(&app.vote_url()).await.unwrap();
    browser.type_into("#name", "Ada").await;
    browser.click("#vote-c").await;
    let background = browser
        .client
        .execute(
            "return getComputedStyle(document.body).backgroundImage",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        background.as_str().unwrap().contains("rgb(22, 22, 41)"),
        "night colours: {background}"
    );
    assert!(browser.text(".version").await.contains("2.0"));
    browser.screenshot("pet-page-2.0.png").await;
    browser.close().await;
}

#[tokio::test]
async fn the_admin_logs_in_and_watches_the_chart_move() {
    let app = spawn_app_with(
        Env::default()
            .password("let me in")
            .with("HOSTNAME", "web-1"),
    )
    .await;
    Visitor::new().vote(&app, "Bob", "a").await;
    Visitor::new().vote(&app, "Cy", "a").await;
    Visitor::new().vote(&app, "Dee", "c").await;
    let browser = Browser::start().await;

    browser.client.goto(&app.admin).await.unwrap();
    assert_eq!(browser.wait_for_path("/login").await, "/login");
    browser.type_into("#password", "wrong").await;
    browser.click("#login").await;
    assert!(browser.text("#problem").await.contains("not right"));
    browser
        .client
        .find(Locator::Css("#password"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    browser.type_into("#password", "let me in").await;
    browser.screenshot("admin-login.png").await;
    browser.click("#login").await;

    assert_eq!(browser.wait_for_path("/").await, "/");
    assert_eq!(browser.text("#votes-a").await, "2");
    assert_eq!(browser.text("#total-votes").await, "3");

    Visitor::new().vote(&app, "Eve", "b").await;
    assert_eq!(
        browser.wait_for_text("#votes-b", "1").await,
        "1",
        "the chart updates live"
    );
    assert_eq!(browser.text("#total-votes").await, "4");
    let width = browser
        .client
        .find(Locator::Css("#bar-b"))
        .await
        .unwrap()
        .attr("width")
        .await
        .unwrap();
    assert_eq!(width.as_deref(), Some("100"), "25% of the track");
    // Let the bars finish their 0.4 s transition before the picture.
    tokio::time::sleep(Duration::from_millis(600)).await;
    browser.screenshot("admin-results.png").await;

    browser.click("#logout").await;
    assert_eq!(browser.wait_for_path("/login").await, "/login");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_fleet_and_injects_a_fault_from_a_card() {
    let cluster = pets_testkit::Cluster::lock().await;
    let prefix = format!("test-{}-browser-fleet/", std::process::id());
    let replica = |node: &str, version: &str, slot: &str| {
        Env::on_consul(cluster.db(), &prefix)
            .with("PETS_NODE", node)
            .with("PETS_VERSION", version)
            .with("PETS_TASK_SLOT", slot)
            .with("PETS_TASK_NAME", format!("pets_web.{slot}"))
    };
    let apps = [
        spawn_app_with(replica("node-1", "1.0", "1")).await,
        spawn_app_with(replica("node-2", "1.0", "2")).await,
        spawn_app_with(replica("node-3", "2.0", "3")).await,
    ];
    Visitor::new().vote(&apps[0], "Ann", "a").await;
    Visitor::new().vote(&apps[2], "Bea", "b").await;
    let browser = Browser::start().await;
    browser.client.goto(&apps[0].admin).await.unwrap();
    let cards = "#fleet-cards li.replica";
    let started = Instant::now();
    while browser
        .client
        .find_all(Locator::Css(cards))
        .await
        .unwrap()
        .len()
        < 3
    {
        assert!(started.elapsed() < Duration::from_secs(10), "three cards");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let third = "#fleet-cards li.replica:nth-child(3)";
    assert_eq!(
        browser
            .wait_for_text(&format!("{third} [data-field=version]"), "2.0")
            .await,
        "2.0"
    );

    let first = "#fleet-cards li.replica:nth-child(1)";
    browser.click(&format!("{first} details summary")).await;
    browser
        .type_into(&format!("{first} input[name=latency_ms]"), "500")
        .await;
    browser.click(&format!("{first} button[value=set]")).await;
    // The form answers 303 to /#fleet: wait for that page, not the old one.
    let started = Instant::now();
    while browser.client.current_url().await.unwrap().fragment() != Some("fleet") {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "back on the console"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let faults = format!("{first} [data-field=faults]");
    assert_eq!(
        browser.wait_for_text(&faults, "latency 500 ms").await,
        "latency 500 ms",
        "the card shows the fault"
    );
    assert_eq!(
        browser.text(&format!("{third} [data-field=faults]")).await,
        "none",
        "only on that replica"
    );
    let started = Instant::now();
    Visitor::new().get(&apps[0].vote_url()).await;
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "and it is in force"
    );
    // A replica in trouble is unmistakable: its card is outlined and tinted
    // red, and says so in words.
    let sick = reqwest::Client::new()
        .put(format!("{}/health", apps[1].web))
        .json(&json!({"healthy": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(sick.status(), 200);
    let second = "#fleet-cards li.replica:nth-child(2)";
    assert_eq!(
        browser
            .wait_for_text(&format!("{second} [data-field=health]"), "UNHEALTHY")
            .await,
        "UNHEALTHY",
        "in capitals, in red"
    );
    let card = browser.client.find(Locator::Css(second)).await.unwrap();
    assert!(card
        .attr("class")
        .await
        .unwrap()
        .unwrap()
        .contains("unhealthy"));
    let outline = card.css_value("border-top-color").await.unwrap();
    assert!(
        outline.contains("214, 69, 69"),
        "outlined in red: {outline}"
    );
    browser.screenshot("admin-fleet.png").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_availability_meter_moves_and_marks_the_failures() {
    let cluster = pets_testkit::Cluster::lock().await;
    let prefix = format!("test-{}-browser-meter/", std::process::id());
    let replica = || Env::on_consul(cluster.db(), &prefix);
    let apps = [
        spawn_app_with(replica()).await,
        spawn_app_with(replica()).await,
    ];
    let browser = Browser::start().await;
    browser.client.goto(&apps[0].admin).await.unwrap();
    let load = tokio::process::Command::new(env!("CARGO_BIN_EXE_pets"))
        .args(["load", "--rate", "80", "--duration", "14s", "--target"])
        .arg(format!("{},{}", apps[0].web, apps[1].web))
        .env("DB", cluster.db())
        .env("PETS_KV_PREFIX", &prefix)
        .env("HOSTNAME", "workshop-laptop")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Live, through the event stream: the rate moves off zero.
    let started = Instant::now();
    while browser
        .text("#meter-rate")
        .await
        .parse::<u64>()
        .unwrap_or(0)
        < 40
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the rate moves"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Three seconds of errors from one replica's fault, then none.
    let fault = |body: serde_json::Value| {
        let url = format!("{}/api/faults", apps[1].admin);
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    fault(json!({"target": "fleet", "error_percent": 50})).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    fault(json!({"target": "fleet", "clear": true})).await;
    let output = load.wait_with_output().await.unwrap();
    assert!(output.status.success());
    let started = Instant::now();
    let summary = loop {
        let summary = browser.text("#meter-summary").await;
        if browser.text("#meter-drivers").await.contains("(stopped)") {
            break summary;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{summary}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let failed: u64 = summary
        .split(" of ")
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(failed > 20, "the fault's errors are counted: {summary}");
    let marks = browser
        .client
        .find_all(Locator::Css("#meter-fails rect"))
        .await
        .unwrap()
        .len();
    assert!(marks >= 4, "the failed seconds are marked: {marks}");
    assert_legend_visible(&browser).await;
    browser
        .client
        .execute("document.getElementById('meter').scrollIntoView()", vec![])
        .await
        .unwrap();
    browser.screenshot("admin-meter.png").await;
    browser.close().await;
}

/// The meter's legend is on the page, not behind a hover: all three items
/// shown.
async fn assert_legend_visible(browser: &Browser) {
    let items = browser
        .client
        .find_all(Locator::Css("#meter .legend:not(.meter-versions) li"))
        .await
        .unwrap();
    assert_eq!(items.len(), 3, "requests, failed, share that succeeded");
    for item in items {
        assert!(
            item.is_displayed().await.unwrap(),
            "{:?}",
            item.text().await
        );
    }
}

/// With no traffic the meter says there is nothing to measure and how to
/// start some, shows no success rate of nothing, and keeps its legend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meter_without_traffic_says_there_is_nothing_to_measure() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    browser.client.goto(&app.admin).await.unwrap();
    let summary = browser.text("#meter-summary").await;
    assert!(summary.starts_with("Nothing to measure"), "{summary}");
    assert!(!summary.contains('`'), "{summary}");
    assert_eq!(browser.text("#meter-ok").await, "–");
    let start = browser.text("#meter-start").await;
    assert!(start.contains("pets load"), "how to start some: {start}");
    assert_legend_visible(&browser).await;
    browser
        .client
        .execute("document.getElementById('meter').scrollIntoView()", vec![])
        .await
        .unwrap();
    browser.screenshot("admin-meter-empty.png").await;
    browser.close().await;
}
