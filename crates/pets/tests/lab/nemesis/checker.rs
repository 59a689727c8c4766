//! The checker: what the clients saw against what pets and Consul hold once
//! the cluster has healed and settled.
//!
//! Every vote names itself (`nemesis 0042 vote 7`), and the record keeps
//! the name, so a record says which vote it holds:
//! - Every accepted vote is counted: the record under a voter's id holds
//!   their last accepted vote, or one whose answer never came (it may take
//!   effect at any time after it was sent, so even after a later vote).
//! - No refused vote is counted: a record holding a refused vote, or an
//!   accepted vote older than the last, is a breach; so is a record under
//!   an id the voter never had accepted, unless it holds one of their first
//!   votes that went unanswered (pets made that id for that vote).
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
    /// In a voter's final record.
    pub kept: u64,
    /// Not in it: never committed, or overwritten by a later vote.
    pub not_kept: u64,
}

/// The pages a killed replica may have served but not yet flushed: it adds
/// its count to Consul every 250 ms, but a flush fails while Consul cannot
/// take it, so every page its node's tasks answered since the last heal
/// before the kill (`(node, since, at)`).
pub fn unflushed_at_kills(logs: &[VoterLog], kills: &[(usize, Duration, Duration)]) -> u64 {
    let pages = logs.iter().flat_map(|l| &l.sent).filter(|s| {
        s.choice.is_none()
            && s.outcome == Outcome::Done
            && kills
                .iter()
                .any(|(node, since, at)| s.node == *node && *since <= s.at && s.at <= *at)
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
    let mut by_name: BTreeMap<&str, Vec<Held>> = BTreeMap::new();
    for (id, (name, choice)) in records {
        let (voter, seq) = match name.rsplit_once(" vote ") {
            Some((voter, seq)) => (voter, seq.parse().unwrap_or(0)),
            None => (name.as_str(), 0),
        };
        by_name.entry(voter).or_default().push(Held {
            id,
            seq,
            choice: *choice,
        });
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

/// A record as the checker reads it: under which id, which of the voter's
/// votes it names, and the pet it holds.
#[derive(Debug)]
struct Held<'a> {
    id: &'a str,
    seq: usize,
    choice: usize,
}

/// One voter's records against their answers.
fn check_voter(log: &VoterLog, records: &[Held], unknowns: &mut Unknowns) -> Result<(), String> {
    let votes: Vec<&Sent> = log.sent.iter().filter(|s| s.choice.is_some()).collect();
    if let Some(odd) = votes.iter().find(|s| matches!(s.outcome, Outcome::Odd(_))) {
        return Err(format!("an answer pets must never give: {odd:?}"));
    }
    let last_accepted = votes.iter().rfind(|s| s.outcome == Outcome::Done);
    let current = log.id.as_deref();
    let mut kept = 0;
    for held in records {
        let Some(vote) = votes.iter().find(|s| s.seq == held.seq) else {
            return Err(format!(
                "a record of vote {} under {}, a vote never sent",
                held.seq, held.id
            ));
        };
        if vote.choice != Some(held.choice) {
            return Err(format!(
                "the record under {} holds {} for vote {}, which was for {}",
                held.id,
                pet(held.choice),
                held.seq,
                pet(vote.choice.unwrap_or_default())
            ));
        }
        let allowed = match vote.outcome {
            Outcome::Unknown => Some(held.id) == current || vote.as_id.is_none(),
            Outcome::Done => {
                Some(held.id) == current && last_accepted.is_some_and(|l| l.seq == held.seq)
            }
            _ => false,
        };
        if !allowed {
            return Err(format!(
                "the record under {} holds vote {} ({}, answered {:?}); the last accepted was {}",
                held.id,
                held.seq,
                pet(held.choice),
                vote.outcome,
                last_accepted.map_or("none".to_owned(), |l| format!("vote {}", l.seq)),
            ));
        }
        if vote.outcome == Outcome::Unknown {
            kept += 1;
        }
    }
    if let Some(last) = last_accepted {
        if !records.iter().any(|h| Some(h.id) == current) {
            return Err(format!(
                "vote {} was accepted and no record is under {}",
                last.seq,
                current.unwrap_or_default()
            ));
        }
    }
    let unknown = votes
        .iter()
        .filter(|s| s.outcome == Outcome::Unknown)
        .count() as u64;
    unknowns.kept += kept;
    unknowns.not_kept += unknown.saturating_sub(kept);
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
                "#{} {:.1}s node{} ({}) {} {:?}{}",
                s.seq,
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
