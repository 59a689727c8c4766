//! Merging one replica's progress into the store's: what an outage only a
//! survivor saw keeps, what a restart replaces; and what a replica that just
//! started adds to it.

use super::tests::{done_at, look, p_lost, replica, run, three};
use super::*;

#[test]
fn a_survivors_outage_is_merged_into_the_stores_progress_and_a_restart_wins() {
    let stored = run(&[look(1, three("1.0"), 0)]);
    let mut mine = stored.clone();
    mine.observe(&p_lost(5));
    let merged = mine.clone().merged_into(stored.clone());
    assert!(merged.memory.no_quorum.is_some(), "the outage is kept");
    assert_eq!(done_at(&merged, "deployed"), Some(1));
    let restarted = Progress::fresh(1, 100);
    assert_eq!(mine.merged_into(restarted.clone()), restarted);
}

#[test]
fn a_survivors_outage_outlives_a_merge_with_replicas_that_started_during_it() {
    // The survivor saw the leader go at 10; replicas started on the nodes
    // that came back saw only the last seconds of it (50 to 55) and wrote
    // first.
    let base = run(&[look(1, three("1.0"), 0)]);
    let mut survivor = base.clone();
    survivor.observe(&p_lost(10));
    let mut newcomer = base.clone();
    newcomer.observe(&p_lost(50));
    newcomer.observe(&look(55, three("1.0"), 0));
    assert!(
        newcomer.memory.no_quorum.is_none(),
        "5 s: an election to it"
    );
    let mut merged = survivor.merged_into(newcomer);
    assert_eq!(merged.memory.no_quorum.as_ref().unwrap().since, 10);
    merged.observe(&look(56, three("1.0"), 0));
    merged.observe(&look(61, three("1.0"), 0));
    assert_eq!(done_at(&merged, "quorum"), Some(61));
    // An election the store saw whole stays over.
    let mut elected = base.clone();
    elected.observe(&p_lost(10));
    elected.observe(&look(13, three("1.0"), 0));
    let mut late = base;
    late.observe(&p_lost(11));
    assert!(late.merged_into(elected).memory.no_quorum.is_none());
}

#[test]
fn a_survivors_refusals_count_when_a_replica_that_cannot_see_it_finishes_the_step() {
    // The survivor refused 7 votes while the leader was gone; back, its
    // record is not rewritten yet, so the replica finishing the step sees
    // only the two others.
    let base = run(&[look(1, three("1.0"), 0)]);
    let mut survivor = base.clone();
    survivor.observe(&p_lost(10));
    let mut refusing = p_lost(30);
    refusing.replicas[0].refused = 7;
    survivor.observe(&refusing);
    let mut finisher = survivor.merged_into(base);
    let mut without = look(56, three("1.0"), 0);
    without.replicas.remove(0);
    finisher.observe(&without);
    let mut settled = without.clone();
    settled.at = 61;
    finisher.observe(&settled);
    assert_eq!(done_at(&finisher, "quorum"), Some(61));
    let quorum = &finisher.done["quorum"].evidence;
    assert!(quorum.contains("; 7 votes refused meanwhile;"), "{quorum}");
}

#[test]
fn a_replica_just_started_does_not_take_its_own_version_for_everyones() {
    // The first 2.0 replica's keeper looks before it has read the store:
    // it sees itself alone. Taken, that look would have the guide remember
    // 2.0 as the version everyone ran, and the update's end (every replica
    // on 2.0) would be no rollout at all: the Swarm test saw the step never
    // tick.
    let mut progress = run(&[look(1, three("1.0"), 100)]);
    let mut alone = look(10, vec![replica("a-2.0", "node1", "2.0")], 0);
    alone.partial = true;
    progress.observe(&alone);
    let mut mixed = three("1.0");
    mixed.push(replica("a-2.0", "node1", "2.0"));
    progress.observe(&look(11, mixed, 100));
    let all_new = ["a", "b", "c"].map(|id| replica(&format!("{id}-2.0"), "node1", "2.0"));
    progress.observe(&look(30, all_new.to_vec(), 100));
    assert_eq!(done_at(&progress, "rolled_forward"), Some(30));
    assert!(progress.done["rolled_forward"]
        .evidence
        .contains("(from 1.0)"));
    assert_eq!(done_at(&progress, "replaced"), None);
}
