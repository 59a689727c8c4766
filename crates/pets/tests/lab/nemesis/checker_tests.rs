//! The checker against logs and records made by hand: each promise broken
//! once, and the unknowns allowed both ways.

use super::*;

fn vote(seq: usize, choice: usize, as_id: Option<&str>, outcome: Outcome) -> Sent {
    Sent {
        seq,
        at: Duration::from_secs(seq as u64),
        node: 1,
        ip: "10.201.0.3".into(),
        choice: Some(choice),
        as_id: as_id.map(str::to_owned),
        outcome,
    }
}

fn page(at: u64, node: usize, outcome: Outcome) -> Sent {
    Sent {
        seq: 1,
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

/// Records: (id, the vote's number, its pet).
fn records(list: &[(&str, usize, usize)]) -> Records {
    list.iter()
        .map(|(id, seq, c)| ((*id).to_owned(), (format!("ann vote {seq}"), *c)))
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
    let one = std::slice::from_ref(&log);
    let kept = check(one, &records(&[("v1", 1, 0)]), &[console([1, 0, 0], 0)], 0);
    assert_eq!(kept, Ok(Unknowns::default()));
    let refused_stayed = check(one, &records(&[("v1", 2, 1)]), &[console([0, 1, 0], 0)], 0);
    let breaches = refused_stayed.unwrap_err();
    assert!(
        breaches[0].contains("holds vote 2 (b, answered Refused(503))"),
        "{breaches:?}"
    );
}

#[test]
fn an_older_accepted_vote_in_the_record_is_a_lost_vote() {
    let log = voter(vec![
        vote(1, 0, None, Outcome::Done),
        vote(2, 1, Some("v1"), Outcome::Done),
    ]);
    let lost = check(
        &[log],
        &records(&[("v1", 1, 0)]),
        &[console([1, 0, 0], 0)],
        0,
    );
    assert!(lost.unwrap_err()[0].contains("the last accepted was vote 2"));
}

#[test]
fn an_unknown_vote_may_stay_or_not_even_after_a_later_one() {
    let log = voter(vec![
        vote(1, 0, None, Outcome::Done),
        vote(2, 2, Some("v1"), Outcome::Unknown),
        vote(3, 1, Some("v1"), Outcome::Done),
    ]);
    let one = std::slice::from_ref(&log);
    let stayed = check(one, &records(&[("v1", 2, 2)]), &[console([0, 0, 1], 0)], 0);
    assert_eq!(stayed.unwrap().kept, 1);
    let went = check(one, &records(&[("v1", 3, 1)]), &[console([0, 1, 0], 0)], 0);
    assert_eq!(went.unwrap().not_kept, 1);
}

#[test]
fn an_accepted_vote_without_a_record_and_a_stray_id_are_breaches() {
    let log = voter(vec![vote(1, 0, None, Outcome::Done)]);
    let one = std::slice::from_ref(&log);
    let lost = check(one, &records(&[]), &[console([0, 0, 0], 0)], 0);
    assert!(lost.unwrap_err()[0].contains("no record is under v1"));
    let stray = check(
        one,
        &records(&[("v1", 1, 0), ("v9", 1, 0)]),
        &[console([2, 0, 0], 0)],
        0,
    );
    assert!(stray.unwrap_err()[0].contains("the record under v9 holds vote 1"));
}

#[test]
fn a_first_vote_unanswered_may_leave_a_record_under_an_id_never_seen() {
    let log = voter(vec![
        vote(1, 1, None, Outcome::Unknown),
        vote(2, 0, None, Outcome::Done),
    ]);
    let both = check(
        &[log],
        &records(&[("v1", 2, 0), ("v7", 1, 1)]),
        &[console([1, 1, 0], 0)],
        0,
    );
    assert_eq!(both.unwrap().kept, 1);
}

#[test]
fn a_record_must_hold_the_pet_its_vote_was_for() {
    let log = voter(vec![vote(1, 0, None, Outcome::Done)]);
    let wrong = check(
        &[log],
        &records(&[("v1", 1, 2)]),
        &[console([0, 0, 1], 0)],
        0,
    );
    assert!(wrong.unwrap_err()[0].contains("holds c for vote 1, which was for a"));
}

#[test]
fn every_replica_shows_the_records_tally_and_the_pages_served() {
    let log = voter(vec![
        vote(1, 0, None, Outcome::Done),
        page(2, 1, Outcome::Done),
        page(3, 2, Outcome::Done),
        page(4, 2, Outcome::Unknown),
    ]);
    let one = std::slice::from_ref(&log);
    let all = records(&[("v1", 1, 0)]);
    let fine = [console([1, 0, 0], 2), console([1, 0, 0], 3)];
    assert!(check(one, &all, &fine, 0).is_ok());
    let behind = [console([1, 0, 0], 2), console([0, 0, 0], 2)];
    assert!(check(one, &all, &behind, 0).unwrap_err()[0].contains("shows [0, 0, 0]"));
    let short = [console([1, 0, 0], 1)];
    assert!(check(one, &all, &short, 0).unwrap_err()[0].contains("1 pets served"));
    // A page its node served since the last heal before a kill may be lost.
    assert_eq!(
        unflushed_at_kills(one, &[(2, Duration::ZERO, Duration::from_secs(4))]),
        1
    );
    assert!(check(one, &all, &short, 1).is_ok());
}
