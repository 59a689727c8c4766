//! The console's results come from the replica's memory, which blocking
//! queries keep current: a room of people reloading the console costs
//! Consul no read, yet whoever just voted sees their vote at once, and a
//! vote on another replica shows within a blocking query's round trip.

use std::time::{Duration, Instant};

use pets_testkit::{eventually, holds, Cluster};

use crate::helpers::{spawn_app_with, Env, TestApp, Visitor};

/// How many plain reads (`op="read"`) this replica has made of Consul.
async fn consul_reads(app: &TestApp) -> u64 {
    let text = Visitor::new()
        .get(&format!("{}/metrics", app.admin))
        .await
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with("pets_consul_call_duration_seconds_count{op=\"read\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_come_from_memory_and_show_your_own_vote_at_once() {
    let cluster = Cluster::lock().await;
    let prefix = format!("test-{}-results/", std::process::id());
    let replica = || Env::on_consul(cluster.db(), &prefix);
    let one = spawn_app_with(replica()).await;
    let two = spawn_app_with(replica()).await;
    eventually(Duration::from_secs(10), "the store reachable", || async {
        holds(one.results().await, |r| r["store"]["reachable"] == true)
    })
    .await;

    let reads_before = consul_reads(&one).await;
    for i in 0..20u64 {
        let voter = Visitor::new();
        let answer = voter.vote(&one, &format!("voter {i}"), "b").await;
        assert_eq!(answer.status(), 303);
        // Right after the 303, on the replica that took it.
        let votes = one.votes().await;
        assert_eq!(votes[1], i + 1, "my vote shows at once");
    }
    let reloads = Instant::now();
    for _ in 0..50 {
        assert_eq!(one.votes().await[1], 20);
    }
    eprintln!("50 console reloads in {:?}", reloads.elapsed());
    let reads = consul_reads(&one).await - reads_before;
    assert!(
        reads <= 2,
        "70 reads of the results cost Consul {reads} reads"
    );
    let seen = Instant::now();
    eventually(
        Duration::from_secs(2),
        "the votes on another replica",
        || async { holds(two.votes().await, |v| v[1] == 20) },
    )
    .await;
    eprintln!("seen on the other replica within {:?}", seen.elapsed());
}
