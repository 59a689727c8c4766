//! `pets load` against a real app: its counts agree with the server's
//! (visitors who voted = votes counted, pages answered 200 = pets served),
//! it keeps its rate, a target that refuses is counted as failures, and
//! with `DB` set its figures reach every console's availability meter.

use std::time::Duration;

use pets_testkit::{eventually, holds, Cluster};
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, Env, Visitor};

/// Runs `pets load` with `args` and `--json`; its per-second lines and the
/// final report.
async fn load(args: &[&str]) -> (Vec<Value>, Value) {
    load_with(&[], args).await
}

/// [`load`] with environment variables.
async fn load_with(env: &[(&str, &str)], args: &[&str]) -> (Vec<Value>, Value) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pets"))
        .arg("load")
        .envs(env.iter().copied())
        .args(args)
        .arg("--json")
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let mut lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let last = lines.pop().expect("a final report");
    assert_eq!(last["final"], true);
    (lines, last)
}

#[tokio::test]
async fn the_drivers_counts_agree_with_the_servers() {
    let app = spawn_app().await;
    let (seconds, report) = load(&[
        "--target",
        &app.web,
        "--rate",
        "200",
        "--voters",
        "60",
        "--duration",
        "3s",
    ])
    .await;
    let requests = report["requests"].as_u64().unwrap();
    assert!(
        (540..=660).contains(&requests),
        "about 200/s for 3 s: {report}"
    );
    assert_eq!(report["failed"], 0, "{report}");
    assert!(seconds.len() >= 2, "a line a second");
    for key in ["p50", "p99", "max"] {
        assert!(report["latency_ms"][key].is_number(), "{report}");
    }
    let results = app.results().await;
    let counted: u64 = crate::helpers::votes_of(&results).iter().sum();
    assert_eq!(
        report["voters"].as_u64(),
        Some(counted),
        "voters = votes counted"
    );
    assert_eq!(counted, 60, "every visitor voted");
    assert!(report["votes_accepted"].as_u64().unwrap() >= 60);
    assert_eq!(report["pages_ok"], results["hits"], "pages = pets served");
    // Every answer named its version and replica: one of each.
    let ok = report["ok"].as_u64().unwrap();
    assert_eq!(report["by_version"], serde_json::json!({ "1.0": ok }));
    let replicas = report["by_replica"].as_object().unwrap();
    assert_eq!(replicas.len(), 1, "{report}");
    assert_eq!(replicas.values().next().unwrap().as_u64(), Some(ok));
    let second = seconds.iter().find(|s| s["ok"].as_u64() > Some(0)).unwrap();
    assert_eq!(
        second["by_version"]["1.0"], second["ok"],
        "each second's too"
    );
}

#[tokio::test]
async fn a_target_that_refuses_is_counted_as_failures() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let (_, report) = load(&[
        "--target",
        &format!("http://{address}"),
        "--rate",
        "20",
        "--duration",
        "1s",
    ])
    .await;
    let requests = report["requests"].as_u64().unwrap();
    assert!(
        requests >= 15,
        "sent on schedule though nothing answers: {report}"
    );
    assert_eq!(report["failed"].as_u64(), Some(requests));
    assert_eq!(
        report["errors"]["refused"].as_u64(),
        Some(requests),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_meters_what_the_driver_measured() {
    let cluster = Cluster::lock().await;
    let prefix = format!("test-{}-meter/", std::process::id());
    let replica = || Env::on_consul(cluster.db(), &prefix);
    let one = spawn_app_with(replica()).await;
    let two = spawn_app_with(replica()).await;
    let idle = two.meter().await;
    assert_eq!(idle["active"], false, "{idle}");
    assert!(idle["summary"]
        .as_str()
        .unwrap()
        .contains("Nothing to measure"));

    // Half the traffic goes to an address that refuses: failures to meter.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refusing = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let db = cluster.db();
    let (_, report) = load_with(
        &[
            ("DB", db.as_str()),
            ("PETS_KV_PREFIX", prefix.as_str()),
            ("HOSTNAME", "lab-laptop"),
        ],
        &[
            "--target",
            &format!("{},{refusing}", one.web),
            "--rate",
            "100",
            "--duration",
            "3s",
        ],
    )
    .await;
    let (requests, failed) = (report["requests"].as_u64(), report["failed"].as_u64());
    assert!(failed.unwrap() > 0 && failed < requests, "{report}");
    // Another replica's console, as the store last told it.
    let shown = eventually(
        Duration::from_secs(5),
        "the driver's last write",
        || async { holds(two.meter().await, |m| m["drivers"][0]["running"] == false) },
    )
    .await;
    let driver = &shown["drivers"][0];
    assert!(driver["driver"]
        .as_str()
        .unwrap()
        .starts_with("load-lab-laptop-"));
    assert_eq!(
        (driver["requests"].as_u64(), driver["failed"].as_u64()),
        (requests, failed),
        "the console shows the driver's own totals: {shown}"
    );
    assert_eq!(
        (shown["requests"].as_u64(), shown["failed"].as_u64()),
        (requests, failed),
        "the window holds the whole run"
    );
    assert_eq!(
        shown["summary"],
        format!(
            "{} of {} requests failed in the last 5 minutes",
            failed.unwrap(),
            requests.unwrap()
        )
    );
    let marks = shown["chart"]["fails"].as_array().unwrap().len();
    assert!(
        (3..=5).contains(&marks),
        "each second with failures is marked: {shown}"
    );
    assert!(shown["chart"]["bars"].as_array().unwrap().len() >= 3);
    // Its successes by the version and the replica that answered: `one`.
    assert_eq!(shown["versions"][0]["version"], "1.0", "{shown}");
    assert_eq!(shown["versions"][0]["requests"], report["ok"], "{shown}");
    assert_eq!(shown["replicas"].as_array().unwrap().len(), 1, "{shown}");
    assert_eq!(shown["replicas"][0]["percent"], 100, "{shown}");
    let page = Visitor::new()
        .get(&format!("{}/", one.admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("requests failed in the last 5 minutes")
            && page.contains("class=\"meter-fail\"")
            && page.contains("class=\"meter-version shade-0\""),
        "the page drawn on the server shows the meter too"
    );
}
