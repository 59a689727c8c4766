//! Each step's condition on recorded fleet histories: a list of looks, one
//! a second, fed to [`Progress::observe`] in turn.

use super::*;

pub(super) fn replica(id: &str, node: &str, version: &str) -> Seen {
    Seen {
        id: id.into(),
        name: id.into(),
        node: Some(node.into()),
        version: version.into(),
        healthy: true,
        started: 0,
        votes: 0,
        refused: 0,
    }
}

/// A replica that started at `at`.
pub(super) fn started(mut r: Seen, at: u64) -> Seen {
    r.started = at;
    r
}

pub(super) fn sick(mut r: Seen) -> Seen {
    r.healthy = false;
    r
}

pub(super) fn look(at: u64, replicas: Vec<Seen>, tally: u64) -> Observation {
    Observation {
        at,
        replicas,
        consul: Some(ConsulSeen {
            voters: 3,
            leader: Some("db-node1".into()),
            quorum: Some(true),
        }),
        tally,
        load: LoadSeen::default(),
        partial: false,
    }
}

pub(super) fn three(version: &str) -> Vec<Seen> {
    vec![
        replica("a", "node1", version),
        replica("b", "node2", version),
        replica("c", "node3", version),
    ]
}

/// Runs the looks and returns the progress.
pub(super) fn run(looks: &[Observation]) -> Progress {
    let mut progress = Progress::default();
    for o in looks {
        progress.observe(o);
    }
    progress
}

pub(super) fn done_at(p: &Progress, id: &str) -> Option<u64> {
    p.done.get(id).map(|d| d.at)
}

pub(super) fn evidence(p: &Progress, id: &str) -> String {
    p.done
        .get(id)
        .map(|d| d.evidence.clone())
        .unwrap_or_default()
}

#[test]
fn deployed_needs_two_healthy_replicas_and_a_leader_of_three_voters() {
    let one = look(1, vec![replica("a", "node1", "1.0")], 0);
    let mut leaderless = look(2, three("1.0"), 0);
    leaderless.consul.as_mut().unwrap().leader = None;
    let two_voters = {
        let mut o = look(3, three("1.0"), 0);
        o.consul.as_mut().unwrap().voters = 2;
        o
    };
    let p = run(&[one, leaderless, two_voters, look(4, three("1.0"), 0)]);
    assert_eq!(done_at(&p, "deployed"), Some(4));
    assert!(evidence(&p, "deployed").starts_with("3 healthy replicas on 3 nodes (pets 1.0)"));
    let embedded = Observation {
        consul: None,
        ..look(5, three("1.0"), 0)
    };
    assert!(run(&[embedded]).done.is_empty(), "no step without Consul");
}

#[test]
fn votes_everywhere_needs_votes_through_two_replicas() {
    let mut looks = vec![look(1, three("1.0"), 0)];
    let mut one = three("1.0");
    one[0].votes = 20;
    looks.push(look(2, one.clone(), 20));
    assert_eq!(done_at(&run(&looks), "votes_everywhere"), None);
    one[2].votes = 5;
    looks.push(look(3, one, 25));
    let p = run(&looks);
    assert_eq!(done_at(&p, "votes_everywhere"), Some(3));
    assert_eq!(
        evidence(&p, "votes_everywhere"),
        "votes recorded through 2 replicas: a on node1 20, c on node3 5"
    );
}

#[test]
fn a_replica_killed_and_replaced_by_a_new_one_of_its_version() {
    let mut looks = vec![look(1, three("1.0"), 60)];
    let mut killed = three("1.0");
    killed[1] = sick(killed[1].clone());
    looks.push(look(2, killed.clone(), 60));
    killed.remove(1);
    looks.push(look(10, killed.clone(), 60));
    assert_eq!(done_at(&run(&looks), "replaced"), None, "not yet replaced");
    // Restarted on the same node with the same version: a new id.
    killed.push(started(replica("b2", "node2", "1.0"), 15));
    looks.push(look(16, killed, 61));
    let p = run(&looks);
    assert_eq!(done_at(&p, "replaced"), Some(16));
    assert_eq!(
        evidence(&p, "replaced"),
        "b on node2 turned unhealthy at 00:00:02; b2 on node2 took its place 14 s later; the tally did not go back (60 then, 61 now)"
    );
}

#[test]
fn a_record_that_blinks_while_replicas_start_is_no_loss() {
    // Deploying: c's record goes for a look while b, started before that,
    // registers.
    let p = run(&[
        look(
            10,
            vec![
                started(replica("a", "node1", "1.0"), 5),
                started(replica("c", "node3", "1.0"), 6),
            ],
            0,
        ),
        look(
            11,
            vec![
                started(replica("a", "node1", "1.0"), 5),
                started(replica("b", "node2", "1.0"), 9),
            ],
            0,
        ),
        look(
            12,
            vec![
                started(replica("a", "node1", "1.0"), 5),
                started(replica("b", "node2", "1.0"), 9),
                started(replica("c", "node3", "1.0"), 6),
            ],
            0,
        ),
        look(20, three("1.0"), 0),
    ]);
    assert_eq!(done_at(&p, "replaced"), None);
    assert!(p.memory.lost.is_empty(), "c came back");
}

#[test]
fn a_replica_that_recovers_under_its_own_id_was_not_replaced() {
    let mut wobbly = three("1.0");
    wobbly[0] = sick(wobbly[0].clone());
    let p = run(&[
        look(1, three("1.0"), 0),
        look(2, wobbly, 0),
        look(3, three("1.0"), 0),
        look(4, three("1.0"), 0),
    ]);
    assert_eq!(done_at(&p, "replaced"), None);
    assert!(p.memory.lost.is_empty(), "forgotten once it is back");
}

/// 1.0 to 2.0, start-first, one replica at a time: a, then b, then c.
fn update_looks(start: u64, from: &str, to: &str) -> Vec<Observation> {
    let mut looks = Vec::new();
    let mut fleet = three(from);
    for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
        let node = fleet[i].node.clone().unwrap();
        fleet.push(replica(&format!("{id}-{to}"), &node, to));
        looks.push(look(start + 10 * i as u64, fleet.clone(), 100));
        fleet.retain(|r| r.id != id);
        looks.push(look(start + 10 * i as u64 + 5, fleet.clone(), 100));
    }
    looks
}

#[test]
fn rolled_forward_counts_what_pets_load_saw_fail_while_mixed() {
    let mut looks = vec![look(1, three("1.0"), 100)];
    looks.extend(update_looks(10, "1.0", "2.0"));
    let last = looks.last_mut().unwrap();
    last.load = LoadSeen {
        running: true,
        rate: 50,
        seconds: vec![(5, 50, 9), (10, 50, 0), (20, 50, 1), (35, 50, 0)],
    };
    let before_end = run(&looks[..looks.len() - 1]);
    assert_eq!(done_at(&before_end, "rolled_forward"), None, "mixed still");
    let p = run(&looks);
    assert_eq!(done_at(&p, "rolled_forward"), Some(35));
    assert_eq!(
        evidence(&p, "rolled_forward"),
        "every replica on 2.0 (from 1.0) at 00:00:35, 25 s after the first 2.0 replica; pets load: 1 of 150 requests failed while the versions were mixed"
    );
    assert_eq!(done_at(&p, "replaced"), None, "an update replaces nothing");
    assert_eq!(done_at(&p, "rolled_back"), None);
}

#[test]
fn a_release_that_turns_unhealthy_and_is_rolled_back_to_the_old_version() {
    let mut looks = vec![look(1, three("2.0"), 0)];
    let mut fleet = three("2.0");
    fleet.push(replica("x", "node1", "broken"));
    looks.push(look(2, fleet.clone(), 0));
    fleet.retain(|r| r.id != "a");
    looks.push(look(10, fleet.clone(), 0));
    fleet[2] = sick(fleet[2].clone());
    looks.push(look(25, fleet.clone(), 0));
    fleet.push(replica("a2", "node1", "2.0"));
    looks.push(look(30, fleet.clone(), 0));
    fleet.retain(|r| r.id != "x");
    looks.push(look(40, fleet, 0));
    let p = run(&looks);
    assert_eq!(done_at(&p, "rolled_back"), Some(40));
    assert_eq!(
        evidence(&p, "rolled_back"),
        "broken appeared and turned unhealthy; every replica back on 2.0 at 00:00:40, 38 s after the update began"
    );
    assert_eq!(done_at(&p, "rolled_forward"), None, "back is not forward");
    // An older version everywhere is not "forward" either.
    let mut down = vec![look(1, three("2.0"), 0)];
    down.extend(update_looks(10, "2.0", "1.0"));
    assert_eq!(done_at(&run(&down), "rolled_forward"), None);
}

#[test]
fn a_node_lost_while_votes_go_on_and_consul_keeps_its_quorum() {
    let mut looks = vec![look(1, three("1.0"), 100)];
    let mut fleet = three("1.0");
    fleet.retain(|r| r.id != "b");
    // node2 held the leader: an election of 3 s.
    let mut electing = look(9, three("1.0"), 100);
    electing.consul.as_mut().unwrap().quorum = Some(false);
    looks.push(electing);
    looks.push(look(12, fleet.clone(), 100));
    assert_eq!(done_at(&run(&looks), "node_lost"), None, "no vote since");
    looks.push(look(14, fleet.clone(), 180));
    // The node comes back: nothing more happens.
    fleet.push(started(replica("b2", "node2", "1.0"), 50));
    looks.push(look(60, fleet, 200));
    let p = run(&looks);
    assert_eq!(done_at(&p, "node_lost"), Some(14));
    assert_eq!(
        evidence(&p, "node_lost"),
        "every replica on node2 left the fleet at 00:00:12; votes went on (100 then, 180 2 s later) and Consul kept its quorum (leader db-node1, a new one elected within 3 s)"
    );
}

#[test]
fn no_node_is_lost_on_fewer_than_three_nodes_or_by_an_update() {
    let two = vec![replica("a", "node1", "1.0"), replica("b", "node2", "1.0")];
    let p = run(&[
        look(1, two.clone(), 0),
        look(2, vec![two[0].clone()], 0),
        look(3, vec![two[0].clone()], 10),
    ]);
    assert_eq!(done_at(&p, "node_lost"), None);
    assert!(!p.three_nodes());
    // During an update node1 is empty for a moment.
    let mut fleet = three("1.0");
    fleet.push(replica("a2", "node2", "2.0"));
    let mut emptied = fleet.clone();
    emptied.retain(|r| r.id != "a");
    let p = run(&[
        look(1, three("1.0"), 0),
        look(2, fleet, 0),
        look(3, emptied.clone(), 10),
        look(4, emptied, 20),
    ]);
    assert_eq!(done_at(&p, "node_lost"), None);
}

#[test]
fn quorum_lost_and_regained_counts_the_refusals_once_settled() {
    let mut lost = look(10, three("1.0"), 500);
    lost.consul.as_mut().unwrap().quorum = Some(false);
    let mut still = lost.clone();
    still.at = 40;
    let back = look(58, three("1.0"), 500);
    let early = look(60, three("1.0"), 502);
    let mut settled = look(63, three("1.0"), 510);
    settled.replicas[0].refused = 7;
    settled.load = LoadSeen {
        running: true,
        rate: 10,
        seconds: vec![(9, 10, 0), (20, 10, 10), (58, 10, 2), (62, 10, 0)],
    };
    let p = run(&[
        look(1, three("1.0"), 500),
        lost,
        still,
        back.clone(),
        early.clone(),
    ]);
    assert_eq!(done_at(&p, "quorum"), None, "not settled yet");
    let p = run(&[
        look(1, three("1.0"), 500),
        p_lost(10),
        back.clone(),
        early,
        settled,
    ]);
    assert_eq!(done_at(&p, "quorum"), Some(63));
    assert_eq!(
        evidence(&p, "quorum"),
        "no leader from 00:00:10 to 00:00:58 (48 s); 7 votes refused meanwhile; pets load: 12 of 20 requests failed; the tally 500 when the leader went, 500 when it came back: nothing refused was counted"
    );
}

pub(super) fn p_lost(at: u64) -> Observation {
    let mut o = look(at, three("1.0"), 500);
    o.consul.as_mut().unwrap().quorum = Some(false);
    o
}

#[test]
fn an_election_is_not_a_lost_quorum() {
    let p = run(&[
        look(1, three("1.0"), 0),
        p_lost(2),
        p_lost(5),
        look(6, three("1.0"), 0),
        look(20, three("1.0"), 0),
    ]);
    assert_eq!(done_at(&p, "quorum"), None);
    assert!(p.memory.no_quorum.is_none());
}

#[test]
fn the_steps_have_unique_ids_and_the_progress_round_trips_through_json() {
    let ids: std::collections::BTreeSet<_> = STEPS.iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), STEPS.len());
    let p = run(&update_looks(1, "1.0", "2.0"));
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.len() < 8 * 1024, "far under Consul's 512 KB");
    assert_eq!(serde_json::from_str::<Progress>(&json).unwrap(), p);
}

#[test]
fn a_release_that_fails_only_once_every_replica_runs_it_is_rolled_back() {
    // Two replicas, both replaced by `broken` before its health fails, then
    // Swarm's rollback: the dev stack's order of events.
    let two = |v: &str, w: &str| vec![replica("p", "vm", v), replica("q", "vm", w)];
    let mut looks = vec![look(1, two("1.0", "1.0"), 0)];
    looks.push(look(2, two("1.0", "2.0"), 0));
    looks.push(look(10, two("2.0", "2.0"), 0));
    looks.push(look(20, two("2.0", "broken"), 0));
    looks.push(look(30, two("broken", "broken"), 0));
    let failing = vec![
        sick(replica("p", "vm", "broken")),
        replica("q", "vm", "broken"),
    ];
    looks.push(look(45, failing, 0));
    looks.push(look(
        50,
        vec![
            replica("p", "vm", "broken"),
            started(replica("q2", "vm", "2.0"), 48),
        ],
        0,
    ));
    looks.push(look(
        60,
        vec![
            started(replica("p2", "vm", "2.0"), 55),
            started(replica("q2", "vm", "2.0"), 48),
        ],
        0,
    ));
    let p = run(&looks);
    assert_eq!(
        done_at(&p, "rolled_forward"),
        Some(10),
        "2.0 only, not broken"
    );
    assert_eq!(done_at(&p, "rolled_back"), Some(60));
    assert_eq!(
        evidence(&p, "rolled_back"),
        "broken appeared and turned unhealthy; every replica back on 2.0 at 00:01:00, 40 s after the update began"
    );
}

#[test]
fn no_lost_quorum_before_consul_ever_had_a_leader() {
    let mut booting = look(1, three("1.0"), 0);
    booting.consul.as_mut().unwrap().quorum = Some(false);
    booting.consul.as_mut().unwrap().leader = None;
    let mut still = booting.clone();
    still.at = 30;
    let p = run(&[
        booting,
        still,
        look(31, three("1.0"), 0),
        look(40, three("1.0"), 0),
    ]);
    assert_eq!(done_at(&p, "quorum"), None);
    assert_eq!(done_at(&p, "deployed"), Some(31));
}

#[test]
fn survivors_whose_records_blink_do_not_hide_the_lost_node() {
    // The leader's node dies: every record made through its server goes at
    // once, and the survivors' come back under their own ids.
    let mut looks = vec![look(1, three("1.0"), 100)];
    looks.push(look(10, vec![replica("a", "node1", "1.0")], 100));
    let back = vec![replica("a", "node1", "1.0"), replica("c", "node3", "1.0")];
    looks.push(look(13, back.clone(), 150));
    let mut moved = back;
    moved.push(started(replica("b2", "node1", "1.0"), 25));
    looks.push(look(30, moved, 300));
    let p = run(&looks);
    assert_eq!(done_at(&p, "node_lost"), Some(13));
    assert!(evidence(&p, "node_lost").starts_with("every replica on node2 left"));
    assert_eq!(done_at(&p, "replaced"), Some(30));
    assert!(evidence(&p, "replaced").starts_with("b on node2 left the fleet"));
}

#[test]
fn an_update_leaves_nothing_to_replace_and_votes_change_no_memory() {
    let looks = update_looks(1, "1.0", "2.0");
    let p = run(&looks);
    assert!(p.memory.lost.is_empty(), "{:?}", p.memory.lost);
    let fleet = looks.last().unwrap().replicas.clone();
    let mut voted = fleet.clone();
    voted[0].votes = 7;
    let mut q = p.clone();
    q.observe(&look(40, fleet, 100));
    let before = q.clone();
    q.observe(&look(41, voted, 107));
    assert_eq!(q.memory, before.memory, "nothing to write for a vote");
}
