//! "A replica replaced" on a Swarm, where the replacement can start before
//! the dead replica's record has left the fleet (seen in the lab: the task
//! was back on a survivor 13 s after its node was killed, and the dead
//! record went a few seconds later).

use super::tests::{done_at, look, replica, run, started};
use super::*;

/// A replica as Swarm names it: `petslab_web.<slot>.<id>`.
fn task(id: &str, slot: u32, node: &str, at: u64) -> Seen {
    let mut r = started(replica(id, node, "1.0"), at);
    r.name = format!("petslab_web.{slot}.{id}");
    r
}

fn node_killed_with(replacement: Seen) -> Progress {
    let fleet = |with_b: bool, with_new: bool| {
        let mut fleet = vec![task("a", 1, "node1", 0), task("c", 3, "node3", 0)];
        if with_b {
            fleet.push(task("b", 2, "node2", 0));
        }
        if with_new {
            fleet.push(replacement.clone());
        }
        fleet
    };
    let mut looks = vec![look(1, fleet(true, false), 60)];
    // node2 killed at 5: its record stays until its session lapses at 20,
    // while Swarm starts the slot's new task at 13.
    looks.extend((14..20).map(|at| look(at, fleet(true, true), 60)));
    looks.extend((20..30).map(|at| look(at, fleet(false, true), 61)));
    run(&looks)
}

#[test]
fn a_replacement_started_before_the_dead_record_left_takes_its_place() {
    let p = node_killed_with(task("b2", 2, "node1", 13));
    assert_eq!(done_at(&p, "replaced"), Some(25));
}

#[test]
fn a_replica_of_another_slot_already_there_is_no_replacement() {
    let p = node_killed_with(task("d", 4, "node1", 13));
    assert_eq!(done_at(&p, "replaced"), None);
}
