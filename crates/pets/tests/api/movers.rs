//! Voters moving their votes in crowds, and cookies nobody issued, against
//! the real three-server Consul cluster: what Consul takes in one
//! transaction is never exceeded, a forged cookie never costs another voter
//! a vote, and ids pets never issued make no keys.

use std::collections::HashSet;

use futures::future::join_all;
use pets_testkit::Cluster;

use crate::helpers::{prefix, replica, spawn_app_with, Env, Visitor};

/// 120 voters, each of whose first vote went out alone (so each is in a
/// record of its own), move their votes at once across two replicas: a
/// group of movers reads two keys each, more than one transaction takes,
/// and every move is accepted and counted once.
#[tokio::test]
async fn a_crowd_moving_its_votes_at_once_is_counted_exactly() {
    let cluster = Cluster::lock().await;
    let prefix = prefix("crowd");
    let apps = [
        replica(&cluster, &prefix).await,
        replica(&cluster, &prefix).await,
    ];
    let voters: Vec<Visitor> = (0..120).map(|_| Visitor::new()).collect();
    for (i, voter) in voters.iter().enumerate() {
        let first = voter.vote(&apps[i % 2], &format!("voter {i}"), "a").await;
        assert_eq!(first.status(), 303, "first vote of voter {i}");
    }
    let moves = voters.iter().enumerate().map(|(i, voter)| {
        let app = &apps[(i + 1) % 2];
        async move { voter.vote(app, &format!("voter {i}"), "b").await }
    });
    let answers = join_all(moves).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status().as_u16()).collect();
    let accepted = statuses.iter().filter(|&&s| s == 303).count();
    eprintln!("120 movers at once: {accepted} answered 303");
    assert_eq!(accepted, 120, "every move accepted: {statuses:?}");
    for app in &apps {
        app.wait_for_votes([0, 120, 0]).await;
    }
}

/// Votes carrying cookies pets never issued (random voter ids and first-vote
/// places), sent among first votes: the forged ones count as the new voters
/// they are, no first vote is refused, and no key is named after an id
/// pets did not issue.
#[tokio::test]
async fn forged_voter_cookies_cost_nobody_a_vote_and_make_no_keys() {
    let cluster = Cluster::lock().await;
    let prefix = prefix("forged");
    let app = &replica(&cluster, &prefix).await;
    let forged_ids: Vec<String> = (0..62).map(|_| hex(16)).collect();
    let forged = forged_ids.iter().map(|id| {
        let cookie = format!("pets_voter={id}; pets_ballot={}; pets_vote=a", hex(8));
        async move {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .post(app.vote_url())
                .header("cookie", cookie)
                .form(&[("name", "Mallory"), ("vote", "c")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let innocent: Vec<Visitor> = (0..16).map(|_| Visitor::new()).collect();
    let firsts = innocent.iter().enumerate().map(|(i, v)| async move {
        v.vote(app, &format!("voter {i}"), "a")
            .await
            .status()
            .as_u16()
    });
    let (forged, firsts) = tokio::join!(join_all(forged), join_all(firsts));
    assert!(
        firsts.iter().all(|&s| s == 303),
        "no first vote refused: {firsts:?}"
    );
    assert!(
        forged.iter().all(|&s| s == 303),
        "forged cookies are new voters: {forged:?}"
    );
    app.wait_for_votes([16, 0, 62]).await;
    let keys = cluster.keys(&prefix).await;
    let named: HashSet<&String> = keys
        .iter()
        .filter(|k| forged_ids.iter().any(|id| k.contains(id.as_str())))
        .collect();
    assert!(named.is_empty(), "keys named after forged ids: {named:?}");
    let voter_records = keys.iter().filter(|k| k.contains("/voters/")).count();
    assert_eq!(
        voter_records, 0,
        "first votes need no record of their own: {keys:?}"
    );
}

fn hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// New voters from one address are held to `PETS_NEW_VOTERS_PER_MINUTE` (a
/// minute's worth at once): past it a 429 page says when to try again. A
/// voter pets knows is never held, nor is another address behind the same
/// trusted proxy.
#[tokio::test]
async fn new_voters_from_one_address_are_held_to_the_rate() {
    let app = spawn_app_with(
        Env::default()
            .with("PETS_NEW_VOTERS_PER_MINUTE", "5")
            .with("PETS_TRUSTED_PROXIES", "127.0.0.1"),
    )
    .await;
    let from = |address: &'static str| {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        let url = app.vote_url();
        move |choice: &'static str| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                client
                    .post(url)
                    .header("x-forwarded-for", address)
                    .form(&[("name", "Ann"), ("vote", choice)])
                    .send()
                    .await
                    .unwrap()
            }
        }
    };
    let known = from("198.51.100.7");
    assert_eq!(known("a").await.status(), 303, "a voter, known from now on");
    for _ in 0..4 {
        assert_eq!(from("198.51.100.7")("a").await.status(), 303);
    }
    let held = from("198.51.100.7")("a").await;
    assert_eq!(held.status(), 429, "the sixth new voter in a minute");
    assert!(held.headers().contains_key("retry-after"));
    let page = held.text().await.unwrap();
    assert!(page.contains("Too many new voters"), "{page}");
    assert_eq!(known("b").await.status(), 303, "a known voter moves freely");
    assert_eq!(
        from("198.51.100.8")("c").await.status(),
        303,
        "another address"
    );
    app.wait_for_votes([4, 1, 1]).await;
}
