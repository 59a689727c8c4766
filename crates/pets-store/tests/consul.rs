//! The Consul store on its own, against a real three-server cluster: two
//! stores (two replicas) count every vote exactly, each one's snapshot
//! follows the other's writes, pets served add up across replicas, and a
//! store with no Consul answers stale reads and fast refusals.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pets_store::VoteStore;
use pets_store::{
    Ballot, ConsulSettings, ConsulStore, PetChoice, Store, StoreError, Targets, VoterId, VoterName,
};
use pets_testkit::{eventually, holds, Cluster};

fn settings(db: &str, prefix: &str, replica: &str) -> ConsulSettings {
    ConsulSettings {
        targets: Targets::parse(db).unwrap(),
        token: None,
        ca_cert_pem: None,
        prefix: prefix.to_owned(),
        replica: replica.to_owned(),
    }
}

fn prefix(test: &str) -> String {
    format!("store-{}-{test}/", std::process::id())
}

fn ballot(voter: VoterId, choice: PetChoice, first_vote: bool) -> Ballot {
    Ballot {
        voter,
        name: VoterName::parse("Ann").unwrap(),
        choice,
        first_vote,
        first_in: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_count_every_vote_and_every_move_exactly() {
    let cluster = Cluster::lock().await;
    let prefix = prefix("exact");
    let one = ConsulStore::start(settings(&cluster.db(), &prefix, "one")).unwrap();
    let two = ConsulStore::start(settings(&cluster.db(), &prefix, "two")).unwrap();
    let stores: [Arc<dyn Store>; 2] = [one.clone(), two.clone()];
    let voters: Vec<VoterId> = (0..30).map(|_| VoterId::random()).collect();
    // Every voter votes four times, alternating replicas; the last counts.
    let mut tasks = Vec::new();
    for (n, &voter) in voters.iter().enumerate() {
        let stores = stores.clone();
        tasks.push(tokio::spawn(async move {
            // Where the first vote went, as the voter's cookie keeps it.
            let mut first_in = None;
            for round in 0..4 {
                let choice = PetChoice::ALL[(n + round) % 3];
                let store = &stores[(n + round) % 2];
                let ballot = Ballot {
                    first_in,
                    ..ballot(voter, choice, round == 0)
                };
                first_in = store.cast_vote(ballot).await?.first_in.or(first_in);
            }
            Ok::<_, StoreError>(PetChoice::ALL[(n + 3) % 3])
        }));
    }
    let mut expected = [0u64; 3];
    for task in tasks {
        expected[task.await.unwrap().expect("every vote accepted").index()] += 1;
    }
    // A read waits for this replica's own commits; the other's arrive with
    // its next blocking query (paced to one per 100 ms), so each replica
    // comes to the exact count within moments, and stays there.
    for store in &stores {
        eventually(
            Duration::from_secs(5),
            "each replica shows every voter's last vote",
            || async {
                holds(store.read().await, |s| {
                    !s.stale && s.tally.votes == expected
                })
            },
        )
        .await;
    }
    for store in &stores {
        assert_eq!(store.read().await.tally.votes, expected);
    }
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicas_snapshot_follows_the_others_writes() {
    let cluster = Cluster::lock().await;
    let prefix = prefix("follow");
    let one = ConsulStore::start(settings(&cluster.db(), &prefix, "one")).unwrap();
    let two = ConsulStore::start(settings(&cluster.db(), &prefix, "two")).unwrap();
    let changes = two.changes();
    one.cast_vote(ballot(VoterId::random(), PetChoice::B, true))
        .await
        .unwrap();
    for _ in 0..3 {
        one.count_pet_served();
    }
    let started = Instant::now();
    let snapshot = eventually(
        Duration::from_secs(5),
        "the other replica sees it",
        || async {
            holds(two.snapshot(), |s| {
                s.tally.votes == [0, 1, 0] && s.tally.pets_served == 3
            })
        },
    )
    .await;
    assert!(changes.has_changed().unwrap(), "subscribers were told");
    assert_eq!(changes.borrow().tally.votes, [0, 1, 0]);
    eprintln!("seen by the other replica after {:?}", started.elapsed());
    assert!(snapshot.status.reachable && snapshot.status.leader.is_some());
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pets_served_add_up_and_a_stopping_replica_flushes_its_own() {
    let cluster = Cluster::lock().await;
    let prefix = prefix("served");
    let one = ConsulStore::start(settings(&cluster.db(), &prefix, "one")).unwrap();
    let two = ConsulStore::start(settings(&cluster.db(), &prefix, "two")).unwrap();
    for _ in 0..5 {
        one.count_pet_served();
    }
    for _ in 0..7 {
        two.count_pet_served();
    }
    // Shut down at once: the count goes out on the way, not lost.
    two.shutdown().await;
    let keys = cluster.keys(&format!("{prefix}served/")).await;
    assert!(
        keys.contains(&format!("{prefix}served/two")),
        "the stopped replica wrote its key: {keys:?}"
    );
    let read = eventually(Duration::from_secs(5), "both counts", || async {
        holds(one.read().await.tally.pets_served, |&n| n == 12)
    })
    .await;
    assert_eq!(read, 12);
    one.shutdown().await;
}

#[tokio::test]
async fn with_no_consul_reads_are_stale_and_votes_fail_fast() {
    // Nothing listens on this loopback port.
    let store = ConsulStore::start(settings("127.0.0.1:9", "nowhere/", "lonely")).unwrap();
    let snapshot = store.read().await;
    assert!(snapshot.stale && !snapshot.status.reachable);
    assert!(snapshot.status.last_error.is_some());
    // The first vote waits as long as an election may take (3 s), then
    // hears no before its 4 s deadline; from then on, votes hear no at once.
    for (vote, within) in [
        (1, Duration::from_millis(3_600)),
        (2, Duration::from_millis(500)),
    ] {
        let started = Instant::now();
        let refused = store
            .cast_vote(ballot(VoterId::random(), PetChoice::A, true))
            .await;
        assert!(
            matches!(refused, Err(StoreError::Unavailable(_))),
            "vote {vote}"
        );
        let took = started.elapsed();
        assert!(took < within, "vote {vote} refused in {took:?}");
    }
}
