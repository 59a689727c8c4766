//! The checker: what the clients saw against what pets and Consul hold once
//! the cluster has healed and settled.
//!
//! - Every accepted vote is counted: each voter's record holds their last
//!   accepted vote, or a vote they sent after it whose answer was unknown.
//! - No refused vote is counted: a record holding anything else is a breach,
//!   and so is a record under a voter id the voter never had accepted,
//!   unless one of their first votes went unanswered (pets made the id for
//!   that vote, and it may have committed).
//! - The tally every replica shows equals the records, on every replica.
//! - Pets served equals the pages answered, give or take the pages whose
//!   answer was unknown and the ones a killed replica had not yet flushed.
//!
//! It is pure: [`check`] takes the logs and the reads and returns the
//! breaches, so its own tests can break each promise by hand.

use std::collections::BTreeMap;
use std::time::Duration;

use super::clients::{Outcome, Sent, VoterLog};

/// A voter's record in Consul: their name and the pet it holds (0 to 2).
pub type Records = BTreeMap<String, (String, usize)>;

/// What one replica's console said.
#[derive(Clone, Debug)]
pub struct Console {
    pub node: usize,
    pub ip: String,
    pub tally: [u64; 3],
    pub served: u64,
}

/// How the votes whose answer was unknown came out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unknowns {
    pub committed: u64,
    pub not_committed: u64,
    /// Followed by another vote, so the record cannot tell.
    pub undecided: u64,
}

/// The pages a killed replica may have served but not yet flushed (it adds
/// its count to Consul every 250 ms): those its node's tasks answered in
/// the seconds before each kill.
pub fn unflushed_at_kills(logs: &[VoterLog], kills: &[(usize, Duration)]) -> u64 {
    let before = Duration::from_secs(3);
    let pages = logs.iter().flat_map(|l| &l.sent).filter(|s| {
        s.choice.is_none()
            && s.outcome == Outcome::Done
            && kills
                .iter()
                .any(|(node, at)| s.node == *node && s.at <= *at && *at - s.at <= before)
    });
    pages.count() as u64
}

/// Every breach found, or how the unknown votes came out.
pub fn check(
    logs: &[VoterLog],
    records: &Records,
    consoles: &[Console],
    unflushed: u64,
) -> Result<Unknowns, Vec<String>> {
    let mut breaches = Vec::new();
    let mut unknowns = Unknowns::default();
    let mut by_name: BTreeMap<&str, Vec<(&str, usize)>> = BTreeMap::new();
    for (id, (name, choice)) in records {
        by_name.entry(name).or_default().push((id, *choice));
    }
    for log in logs {
        let mine = by_name.remove(log.name.as_str()).unwrap_or_default();
        if let Err(breach) = check_voter(log, &mine, &mut unknowns) {
            breaches.push(format!(
                "{}: {breach}\n    records: {mine:?}\n    answers: {}",
                log.name,
                answers(&log.sent)
            ));
        }
    }
    for (name, strays) in by_name {
        breaches.push(format!(
            "records of a voter no client was: {name} {strays:?}"
        ));
    }
    let mut from_records = [0u64; 3];
    for (_, choice) in records.values() {
        from_records[*choice] += 1;
    }
    for console in consoles {
        if console.tally != from_records {
            breaches.push(format!(
                "node{} ({}) shows {:?}; the records say {from_records:?}",
                console.node, console.ip, console.tally
            ));
        }
    }
    let pages = |o: &Outcome| {
        logs.iter()
            .flat_map(|l| &l.sent)
            .filter(|s| s.choice.is_none() && s.outcome == *o)
            .count() as u64
    };
    let (served, unknown) = (pages(&Outcome::Done), pages(&Outcome::Unknown));
    let low = served.saturating_sub(unflushed);
    for console in consoles {
        if !(low..=served + unknown).contains(&console.served) {
            breaches.push(format!(
                "node{} says {} pets served; {served} pages were answered, {unknown} unknown, \
                 {unflushed} unflushed at a kill",
                console.node, console.served
            ));
        }
    }
    if breaches.is_empty() {
        Ok(unknowns)
    } else {
        Err(breaches)
    }
}

/// One voter's records against their answers.
fn check_voter(
    log: &VoterLog,
    records: &[(&str, usize)],
    unknowns: &mut Unknowns,
) -> Result<(), String> {
    let votes: Vec<&Sent> = log.sent.iter().filter(|s| s.choice.is_some()).collect();
    if let Some(odd) = votes.iter().find(|s| matches!(s.outcome, Outcome::Odd(_))) {
        return Err(format!("an answer pets must never give: {odd:?}"));
    }
    let last_accepted = votes.iter().rposition(|s| s.outcome == Outcome::Done);
    let after = last_accepted.map_or(0, |i| i + 1);
    unknowns.undecided += votes[..after]
        .iter()
        .filter(|s| s.outcome == Outcome::Unknown)
        .count() as u64;
    let tail_unknown: Vec<usize> = votes[after..]
        .iter()
        .filter(|s| s.outcome == Outcome::Unknown && s.as_id.is_some())
        .filter_map(|s| s.choice)
        .collect();
    // First votes pets made an id for and never answered: each may have
    // left a record under an id the voter never saw.
    let mut orphan_choices: Vec<usize> = votes
        .iter()
        .filter(|s| s.outcome == Outcome::Unknown && s.as_id.is_none())
        .filter_map(|s| s.choice)
        .collect();
    let first_unknowns = orphan_choices.len() as u64;
    let mut orphans_committed = 0;
    for (id, choice) in records {
        if Some(*id) == log.id.as_deref() {
            continue;
        }
        let Some(at) = orphan_choices.iter().position(|c| c == choice) else {
            return Err(format!(
                "a record under {id} holds {} though no first vote for it went unanswered",
                pet(*choice)
            ));
        };
        orphan_choices.remove(at);
        orphans_committed += 1;
    }
    unknowns.committed += orphans_committed;
    unknowns.not_committed += first_unknowns - orphans_committed;
    let Some(accepted) = last_accepted else {
        return match tail_unknown.is_empty() {
            true => Ok(()),
            false => Err("unknown votes under an id with no accepted vote".into()),
        };
    };
    let accepted_choice = votes[accepted].choice.unwrap();
    let id = log.id.as_deref().unwrap_or_default();
    let Some((_, held)) = records.iter().find(|(r, _)| *r == id) else {
        return Err(format!(
            "accepted {} (its last accepted vote) but has no record under {id}",
            pet(accepted_choice)
        ));
    };
    if *held != accepted_choice && !tail_unknown.contains(held) {
        return Err(format!(
            "the record holds {}; the last accepted vote was {}, and no vote after it for {} \
             went unanswered",
            pet(*held),
            pet(accepted_choice),
            pet(*held)
        ));
    }
    let tail = tail_unknown.len() as u64;
    if *held != accepted_choice {
        // One of them stayed; which one, the record cannot tell.
        unknowns.committed += 1;
        unknowns.undecided += tail - 1;
    } else if tail_unknown.contains(held) {
        unknowns.undecided += tail;
    } else {
        unknowns.not_committed += tail;
    }
    Ok(())
}

fn pet(choice: usize) -> &'static str {
    ["a", "b", "c"][choice]
}

/// A voter's votes, one line: when, where, what, and the answer.
fn answers(sent: &[Sent]) -> String {
    let line: Vec<String> = sent
        .iter()
        .filter_map(|s| {
            let choice = s.choice?;
            Some(format!(
                "{:.1}s node{} ({}) {} {:?}{}",
                s.at.as_secs_f64(),
                s.node,
                s.ip,
                pet(choice),
                s.outcome,
                if s.as_id.is_none() { " (no id)" } else { "" }
            ))
        })
        .collect();
    line.join(", ")
}

#[cfg(test)]
#[path = "checker_tests.rs"]
mod tests;
