//! The checker against logs and records made by hand: each promise broken
//! once, and the unknowns allowed both ways.

use super::*;

fn vote(at: u64, choice: usize, as_id: Option<&str>, outcome: Outcome) -> Sent {
    Sent {
        at: Duration::from_secs(at),
        node: 1,
        ip: "10.201.0.3".into(),
        choice: Some(choice),
        as_id: as_id.map(str::to_owned),
        outcome,
    }
}

fn page(at: u64, node: usize, outcome: Outcome) -> Sent {
    Sent {
        at: Duration::from_secs(at),
        node,
        ip: "10.201.0.3".into(),
        choice: None,
        as_id: Some("v1".into()),
        outcome,
    }
}

fn voter(sent: Vec<Sent>) -> VoterLog {
    VoterLog {
        name: "ann".into(),
        id: Some("v1".into()),
        sent,
    }
}

fn records(list: &[(&str, usize)]) -> Records {
    list.iter()
        .map(|(id, c)| ((*id).to_owned(), ("ann".to_owned(), *c)))
        .collect()
}

fn console(tally: [u64; 3], served: u64) -> Console {
    Console {
        node: 1,
        ip: "10.201.0.3".into(),
        tally,
        served,
    }
}

#[test]
fn the_last_accepted_vote_counts_and_a_refused_one_after_it_does_not() {
    let log = voter(vec![
        vote(1, 0, None, Outcome::Done),
        vote(2, 1, Some("v1"), Outcome::Refused(503)),
    ]);
    let held_a = check(
        std::slice::from_ref(&log),
        &records(&[("v1", 0)]),
        &[console([1, 0, 0], 0)],
        0,
    );
    assert_eq!(held_a, Ok(Unknowns::default()));
    let held_b = check(&[log], &records(&[("v1", 1)]), &[console([0, 1, 0], 0)], 0);
    let breaches = held_b.unwrap_err();
    assert!(breaches[0].contains("the record holds b"), "{breaches:?}");
}

#[test]
fn an_unknown_vote_may_stay_or_not_and_is_counted_each_way() {
    let log = voter(vec![
        vote(1, 0, None, Outcome::Done),
        vote(2, 2, Some("v1"), Outcome::Unknown),
    ]);
    let stayed = check(
        std::slice::from_ref(&log),
        &records(&[("v1", 2)]),
        &[console([0, 0, 1], 0)],
        0,
    );
    assert_eq!(stayed.unwrap().committed, 1);
    let went = check(&[log], &records(&[("v1", 0)]), &[console([1, 0, 0], 0)], 0);
    assert_eq!(went.unwrap().not_committed, 1);
}

#[test]
fn an_accepted_vote_without_a_record_and_a_stray_id_are_breaches() {
    let log = voter(vec![vote(1, 0, None, Outcome::Done)]);
    let lost = check(
        std::slice::from_ref(&log),
        &records(&[]),
        &[console([0, 0, 0], 0)],
        0,
    );
    assert!(lost.unwrap_err()[0].contains("has no record"));
    let stray = check(
        &[log],
        &records(&[("v1", 0), ("v9", 1)]),
        &[console([1, 1, 0], 0)],
        0,
    );
    assert!(stray.unwrap_err()[0].contains("no first vote for it went unanswered"));
}

#[test]
fn a_first_vote_unanswered_may_leave_a_record_under_an_id_never_seen() {
    let log = voter(vec![
        vote(1, 1, None, Outcome::Unknown),
        vote(2, 0, None, Outcome::Done),
    ]);
    let both = check(
        &[log],
        &records(&[("v1", 0), ("v7", 1)]),
        &[console([1, 1, 0], 0)],
        0,
    );
    assert_eq!(both.unwrap().committed, 1);
}

#[test]
fn every_replica_shows_the_records_tally_and_the_pages_served() {
    let log = voter(vec![
        vote(1, 0, None, Outcome::Done),
        page(2, 1, Outcome::Done),
        page(3, 2, Outcome::Done),
        page(4, 2, Outcome::Unknown),
    ]);
    let all = records(&[("v1", 0)]);
    let fine = [console([1, 0, 0], 2), console([1, 0, 0], 3)];
    assert!(check(std::slice::from_ref(&log), &all, &fine, 0).is_ok());
    let behind = [console([1, 0, 0], 2), console([0, 0, 0], 2)];
    assert!(
        check(std::slice::from_ref(&log), &all, &behind, 0).unwrap_err()[0]
            .contains("shows [0, 0, 0]")
    );
    let short = [console([1, 0, 0], 1)];
    assert!(
        check(std::slice::from_ref(&log), &all, &short, 0).unwrap_err()[0]
            .contains("1 pets served")
    );
    // One page answered just before its node was killed may be lost.
    assert_eq!(
        unflushed_at_kills(std::slice::from_ref(&log), &[(2, Duration::from_secs(4))]),
        1
    );
    assert!(check(&[log], &all, &short, 1).is_ok());
}
