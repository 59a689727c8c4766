//! `/metrics`: the series exist and count what happened, `promtool` accepts
//! the text, the token guards it when set, and a real Prometheus scraping
//! two replicas sums their votes to the tally.

use std::process::Stdio;
use std::time::Duration;

use pets_testkit::{eventually, holds, Cluster};
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, temp_file, Env, TestApp, Visitor};

async fn scrape(app: &TestApp) -> String {
    let response = Visitor::new().get(&format!("{}/metrics", app.admin)).await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of the sample line starting with `series`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_votes_and_pages_and_promtool_accepts_them() {
    let app = spawn_app().await;
    let visitor = Visitor::new();
    assert_eq!(visitor.vote(&app, "Mo", "a").await.status(), 303);
    assert_eq!(visitor.get(&format!("{}/", app.web)).await.status(), 200);
    assert_eq!(visitor.vote(&app, "", "a").await.status(), 400);
    let text = scrape(&app).await;
    assert_eq!(value(&text, "pets_votes_total"), Some(1.0));
    assert_eq!(value(&text, "pets_pets_served_total"), Some(1.0));
    assert_eq!(
        value(&text, r#"pets_votes_refused_total{reason="invalid"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            r#"pets_http_requests_total{method="POST",route="/vote",site="voter",status="303"}"#
        ),
        Some(1.0)
    );
    for name in [
        "pets_http_request_duration_seconds_bucket",
        "pets_info{",
        "pets_store_reachable 1",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ] {
        assert!(text.contains(name), "{name} in\n{text}");
    }
    let mut promtool = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is not installed: run scripts/install-deps.sh");
    let mut stdin = promtool.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, text.as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let checked = promtool.wait_with_output().await.unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[tokio::test]
async fn a_metrics_token_guards_the_scrape() {
    let token = temp_file("metrics-token", "s3cret-scrape\n");
    let app =
        spawn_app_with(Env::default().with("METRICS_TOKEN_FILE", token.to_str().unwrap())).await;
    let url = format!("{}/metrics", app.admin);
    let http = reqwest::Client::new();
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = http.get(&url).bearer_auth("guess").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = http
        .get(&url)
        .bearer_auth("s3cret-scrape")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("pets_votes_total"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_sums_the_replicas_votes_to_the_tally() {
    let cluster = Cluster::lock().await;
    let prefix = format!("test-{}-prometheus/", std::process::id());
    let replica = |node: &str, version: &str| {
        Env::on_consul(cluster.db(), &prefix)
            .with("PETS_NODE", node)
            .with("PETS_VERSION", version)
    };
    let apps = [
        spawn_app_with(replica("node-1", "1.0")).await,
        spawn_app_with(replica("node-2", "2.0")).await,
    ];
    for (i, choice) in ["a", "b", "c", "a", "b"].iter().enumerate() {
        let app = &apps[i % 2];
        let voted = Visitor::new()
            .vote(app, &format!("voter {i}"), choice)
            .await;
        assert_eq!(voted.status(), 303);
    }
    let tally: u64 = eventually(Duration::from_secs(5), "five votes counted", || async {
        holds(apps[0].votes().await.iter().sum::<u64>(), |n| *n == 5)
    })
    .await;

    let dir = std::env::temp_dir().join(format!("pets-prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let targets: Vec<String> = apps
        .iter()
        .map(|a| format!("'{}'", a.admin.trim_start_matches("http://")))
        .collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: pets\n    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let listen = format!("127.0.0.1:{}", pets_testkit::free_port());
    let _prometheus = tokio::process::Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus is not installed: run scripts/install-deps.sh");
    let query = |q: &'static str| {
        let url = format!("http://{listen}/api/v1/query");
        async move {
            let answer: Value = reqwest::Client::new()
                .get(url)
                .query(&[("query", q)])
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(
                answer["data"]["result"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            )
        }
    };
    let summed = eventually(
        Duration::from_secs(30),
        "Prometheus sums the votes",
        || async {
            let result = query("sum(pets_votes_total)").await?;
            let value = result
                .first()
                .and_then(|r| r["value"][1].as_str()?.parse::<u64>().ok());
            holds(value, |v| *v == Some(tally))
        },
    )
    .await;
    assert_eq!(summed, Some(5));
    let info = query("pets_info").await.unwrap();
    let mut labels: Vec<(String, String)> = info
        .iter()
        .map(|r| {
            (
                r["metric"]["node"].as_str().unwrap_or("").to_owned(),
                r["metric"]["version"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    labels.sort();
    assert_eq!(
        labels,
        [
            ("node-1".to_owned(), "1.0".to_owned()),
            ("node-2".to_owned(), "2.0".to_owned())
        ]
    );
    let up = query("up").await.unwrap();
    assert_eq!(up.len(), 2, "both replicas scraped");
    // The query in docs/OPERATING.md: votes per second per replica, by node.
    let per_node = eventually(Duration::from_secs(15), "the documented query", || async {
        let result = query(
            "sum by (node) (rate(pets_votes_total[1m]) * on (instance) group_left(node) pets_info)",
        )
        .await?;
        holds(result, |r| r.len() == 2)
    })
    .await;
    assert!(per_node.iter().all(|r| r["metric"]["node"].is_string()));
    let _ = std::fs::remove_dir_all(&dir);
}
