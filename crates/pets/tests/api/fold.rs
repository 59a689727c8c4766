//! Dead replicas' keys are folded away on a real Consul cluster: after 50
//! restarts (half SIGTERM, half SIGKILL) the keys stay bounded and the tally
//! is exact; a replica paused past its session, folded by another, then
//! resumed, loses nothing and counts nothing twice.

use std::time::Duration;

use pets_testkit::{eventually, holds, Cluster};

use crate::binary::Binary;
use crate::helpers::{spawn_app_with, Env, TestApp, Visitor};

fn env(cluster: &Cluster, prefix: &str) -> Env {
    Env::on_consul(cluster.db(), prefix)
}

/// A new voter votes on `web`, then sees their pet `pages` times; whether
/// the vote was accepted, and the pages answered.
async fn vote_and_browse(web: &str, name: &str, pages: usize) -> (bool, u64) {
    let visitor = Visitor::new();
    let voted = visitor
        .post_form(&format!("{web}/vote"), &[("name", name), ("vote", "b")])
        .await
        .status()
        == 303;
    let mut served = 0;
    for _ in 0..pages {
        if visitor.get(&format!("{web}/")).await.status() == 200 {
            served += 1;
        }
    }
    (voted, served)
}

/// (total votes, pets served) as `app` reports them.
async fn tally(app: &TestApp) -> (u64, u64) {
    let results = app.results().await;
    let votes = crate::helpers::votes_of(&results).iter().sum();
    (votes, results["hits"].as_u64().unwrap_or(0))
}

/// Keys under the prefix other than voters' records and first votes (they
/// are data, kept as long as the votes are).
async fn replica_keys(cluster: &Cluster, prefix: &str) -> Vec<String> {
    let voters = [format!("{prefix}voters/"), format!("{prefix}ballots/")];
    let mut keys = cluster.keys(prefix).await;
    keys.retain(|k| !voters.iter().any(|v| k.starts_with(v)));
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_restarts_leave_bounded_keys_and_an_exact_tally() {
    let cluster = Cluster::lock().await;
    let prefix = format!("test-{}-restarts/", std::process::id());
    let stayers = [
        spawn_app_with(env(&cluster, &prefix)).await,
        spawn_app_with(env(&cluster, &prefix)).await,
    ];
    let (mut votes, mut pages) = (0u64, 0u64);
    for round in 0..50 {
        let db = cluster.db();
        let mut pets = Binary::start(&[("DB", &db), ("PETS_KV_PREFIX", &prefix)], None).await;
        let web = format!("http://{}", pets.web);
        let graceful = round % 2 == 0;
        // A SIGKILL loses pages not flushed yet (never acknowledged), so
        // those replicas only take votes, which are committed when answered.
        let (voted, served) = vote_and_browse(
            &web,
            &format!("restart {round}"),
            if graceful { 3 } else { 0 },
        )
        .await;
        votes += u64::from(voted);
        pages += served;
        let stayer = &stayers[round % 2];
        let (voted, served) = vote_and_browse(&stayer.web, &format!("stayer {round}"), 2).await;
        votes += u64::from(voted);
        pages += served;
        pets.signal(if graceful {
            libc::SIGTERM
        } else {
            libc::SIGKILL
        });
        let _ = pets.child.wait().await;
    }
    assert_eq!(votes, 100, "every vote was accepted");

    // Killed replicas' sessions lapse within 20 s; they are folded two
    // rounds (10 s) after they are seen dead. Besides each stayer's keys:
    // the archives, the round book, the voter key, the lab guide, and the
    // five watched prefixes' folder keys.
    let bound = stayers.len() * 4 + 4 + 5;
    let keys = eventually(Duration::from_secs(60), "keys folded away", || async {
        holds(replica_keys(&cluster, &prefix).await, |k| k.len() <= bound)
    })
    .await;
    eprintln!(
        "after 50 restarts, {} keys besides votes: {keys:?}",
        keys.len()
    );
    assert!(keys.iter().any(|k| k.ends_with("votes/archive")));
    for stayer in &stayers {
        eventually(Duration::from_secs(5), "the exact tally", || async {
            holds(tally(stayer).await, |t| *t == (votes, pages))
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_replica_folded_away_comes_back_exact() {
    let cluster = Cluster::lock().await;
    let prefix = format!("test-{}-paused/", std::process::id());
    let folder = spawn_app_with(env(&cluster, &prefix)).await;
    let db = cluster.db();
    let paused = Binary::start(
        &[
            ("DB", &db),
            ("PETS_KV_PREFIX", &prefix),
            ("PETS_NODE", "paused"),
        ],
        None,
    )
    .await;
    let web = format!("http://{}", paused.web);
    let (voted, before) = vote_and_browse(&web, "Pia", 20).await;
    assert!(voted);
    // Stopped at once: pages counted in the last 250 ms are not flushed.
    paused.signal(libc::SIGSTOP);
    let own = format!("{prefix}served/");
    eventually(
        Duration::from_secs(60),
        "the paused replica folded",
        || async {
            let keys = replica_keys(&cluster, &prefix).await;
            let archived = keys.iter().any(|k| k.ends_with("served/archive"));
            let served_keys = keys
                .iter()
                .filter(|k| k.starts_with(&own) && **k != own)
                .count();
            // Only the archive (besides the folder key): the paused
            // replica's key is gone.
            holds(keys, |_| archived && served_keys == 1)
        },
    )
    .await;
    paused.signal(libc::SIGCONT);

    let (voted_after, after) = vote_and_browse(&web, "Pia again", 5).await;
    assert!(voted_after, "it carries on");
    let expected = (2, before + after);
    eventually(Duration::from_secs(5), "the exact tally", || async {
        holds(tally(&folder).await, |t| *t == expected)
    })
    .await;
}
