//! `pets load` against a real app: its counts agree with the server's
//! (visitors who voted = votes counted, pages answered 200 = pets served),
//! it keeps its rate, and a target that refuses is counted as failures.

use serde_json::Value;

use crate::helpers::spawn_app;

/// Runs `pets load` with `args` and `--json`; its per-second lines and the
/// final report.
async fn load(args: &[&str]) -> (Vec<Value>, Value) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pets"))
        .arg("load")
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
