//! Each step's condition: what in a look (and what the guide remembers of
//! earlier ones) shows that the step happened, and the evidence it gives.
//! One function per step; [`look`] runs them all and keeps the memory up to
//! date. Times in evidence are UTC.

use std::collections::BTreeSet;

use super::observation::Observation;
use super::progress::{Lost, Memory, NoQuorum, NodeGone, Rollout};
use crate::figures::{clock, thousands};

/// How long the quorum must be back before the step counts what was refused
/// (drivers publish their last seconds a moment late).
pub const QUORUM_SETTLE_S: u64 = 5;

/// Longer than this without a leader is not an election but a lost quorum.
pub const ELECTION_LIMIT_S: u64 = 10;

/// A node's replicas leave the fleet some seconds after the node died (their
/// records stop being renewed); an election that ended this recently was
/// caused by the same loss.
const RECENT_ELECTION_S: u64 = 20;

/// The steps whose condition holds at this look, with their evidence.
pub fn look(
    m: &mut Memory,
    done: &BTreeSet<String>,
    o: &Observation,
) -> Vec<(&'static str, String)> {
    if let Some(consul) = &o.consul {
        match (consul.quorum, m.leaderless) {
            (Some(false), None) => m.leaderless = Some(o.at),
            (Some(true), Some(since)) => {
                m.last_election = Some((since, o.at));
                m.leaderless = None;
            }
            _ => {}
        }
    }
    let mut finished = Vec::new();
    let mut tick = |id: &'static str, evidence: Option<String>| {
        if let Some(evidence) = evidence {
            if !done.contains(id) {
                finished.push((id, evidence));
            }
        }
    };
    tick("deployed", deployed(o));
    tick("votes_everywhere", votes_everywhere(o));
    tick("traffic", traffic(o));
    let (forward, back) = rollout(m, o);
    tick("rolled_forward", forward);
    tick("rolled_back", back);
    tick("replaced", replaced(m, o));
    tick("node_lost", node_lost(m, o));
    tick("quorum", quorum(m, o));
    finished
}

fn deployed(o: &Observation) -> Option<String> {
    let consul = o.consul.as_ref()?;
    let healthy = o.replicas.iter().filter(|r| r.healthy).count();
    let leader = consul.leader.as_ref()?;
    if healthy < 2 || consul.voters < 3 {
        return None;
    }
    let versions: BTreeSet<&str> = o.replicas.iter().map(|r| r.version.as_str()).collect();
    let nodes = o.nodes().len().max(1);
    Some(format!(
        "{healthy} healthy replicas on {nodes} node{} (pets {}); {} Consul voters, leader {leader}",
        plural(nodes),
        versions.into_iter().collect::<Vec<_>>().join(", "),
        consul.voters
    ))
}

fn votes_everywhere(o: &Observation) -> Option<String> {
    o.consul.as_ref()?;
    let voted: Vec<String> = o
        .replicas
        .iter()
        .filter(|r| r.votes > 0)
        .map(|r| format!("{} {}", where_(r), thousands(r.votes)))
        .collect();
    (voted.len() >= 2).then(|| {
        format!(
            "votes recorded through {} replicas: {}",
            voted.len(),
            voted.join(", ")
        )
    })
}

fn traffic(o: &Observation) -> Option<String> {
    o.consul.as_ref()?;
    (o.load.running && o.load.rate > 0).then(|| {
        format!(
            "pets load sending {} requests a second",
            thousands(o.load.rate)
        )
    })
}

/// Versions mixed start an update; agreeing again ends it, forward when on
/// a new version none of whose replicas failed, back when on the one
/// before after a new one failed.
fn rollout(m: &mut Memory, o: &Observation) -> (Option<String>, Option<String>) {
    if o.consul.is_none() {
        return (None, None);
    }
    {
        let versions: BTreeSet<&str> = o.replicas.iter().map(|r| r.version.as_str()).collect();
        match versions.len() {
            0 => (None, None),
            1 => {
                let now = versions.into_iter().next().unwrap_or_default().to_owned();
                let ended = m.rollout.take();
                m.version = Some(now.clone());
                let Some(Rollout {
                    from: Some(from),
                    started,
                    failed,
                }) = ended
                else {
                    return (None, None);
                };
                let took = o.at.saturating_sub(started);
                if now == from {
                    let back = (!failed.is_empty()).then(|| {
                        format!(
                            "{} appeared and turned unhealthy; every replica back on {from} at {}, {took} s after the update began",
                            failed.into_iter().collect::<Vec<_>>().join(", "),
                            clock(o.at)
                        )
                    });
                    (None, back)
                } else if !failed.contains(&now) && newer(&now, &from) {
                    let (requests, failures) = o.load.between(started, o.at);
                    let measured = if requests == 0 {
                        "pets load was not running, so no failure count".to_owned()
                    } else {
                        format!(
                            "pets load: {} of {} requests failed while the versions were mixed",
                            thousands(failures),
                            thousands(requests)
                        )
                    };
                    let forward = format!(
                        "every replica on {now} (from {from}) at {}, {took} s after the first {now} replica; {measured}",
                        clock(o.at)
                    );
                    (Some(forward), None)
                } else {
                    (None, None)
                }
            }
            _ => {
                let rollout = m.rollout.get_or_insert_with(|| Rollout {
                    from: m.version.clone(),
                    started: o.at,
                    failed: BTreeSet::new(),
                });
                for r in o.replicas.iter().filter(|r| !r.healthy) {
                    if rollout.from.as_deref() != Some(r.version.as_str()) {
                        rollout.failed.insert(r.version.clone());
                    }
                }
                (None, None)
            }
        }
    }
}

/// A replica turned unhealthy or left (outside an update), and a new one
/// of its version took its place, the tally no lower than before.
fn replaced(m: &mut Memory, o: &Observation) -> Option<String> {
    o.consul.as_ref()?;
    if let Some(lost) = &m.lost {
        let back = o
            .replicas
            .iter()
            .any(|r| r.id == lost.replica.id && r.healthy);
        if back {
            m.lost = None;
        } else if let Some(new) = o.replicas.iter().find(|r| {
            r.healthy && r.version == lost.replica.version && !lost.before.contains(&r.id)
        }) {
            if o.tally >= lost.tally {
                let lost = m.lost.take()?;
                return Some(format!(
                    "{} {} at {}; {} took its place {} s later; the tally did not go back ({} then, {} now)",
                    where_(&lost.replica),
                    lost.how,
                    clock(lost.at),
                    where_(new),
                    o.at.saturating_sub(lost.at),
                    thousands(lost.tally),
                    thousands(o.tally)
                ));
            }
        }
        return None;
    }
    if m.rollout.is_some() || mixed(o) {
        return None;
    }
    let (replica, how) =
        m.last
            .values()
            .find_map(|was| match o.replicas.iter().find(|r| r.id == was.id) {
                None => Some((was.clone(), "left the fleet")),
                Some(now) if was.healthy && !now.healthy => Some((now.clone(), "turned unhealthy")),
                Some(_) => None,
            })?;
    m.lost = Some(Lost {
        replica,
        how: how.to_owned(),
        at: o.at,
        tally: o.tally,
        before: m.last.keys().cloned().collect(),
    });
    None
}

/// With replicas seen on three nodes, every replica of one node left (not
/// during an update), and while it was away votes went on and Consul kept
/// its quorum: an election (when the node held the leader) is allowed,
/// no leader for longer than [`ELECTION_LIMIT_S`] is a lost quorum.
fn node_lost(m: &mut Memory, o: &Observation) -> Option<String> {
    let consul = o.consul.as_ref()?;
    let now = o.nodes();
    // The last election, if it ended lately: counted with a loss it caused.
    let election = m
        .last_election
        .filter(|&(_, until)| until + RECENT_ELECTION_S >= o.at)
        .map_or(0, |(since, until)| until - since);
    if let Some(gone) = &mut m.node_gone {
        gone.election_s = gone.election_s.max(election);
        let lost_quorum = m
            .leaderless
            .is_some_and(|since| o.at.saturating_sub(since) > ELECTION_LIMIT_S);
        if now.contains(&gone.node) || lost_quorum {
            m.node_gone = None;
            return None;
        }
        if o.tally > gone.tally && m.leaderless.is_none() {
            let gone = m.node_gone.take()?;
            let election = match gone.election_s {
                0 => String::new(),
                s => format!(", a new one elected within {s} s"),
            };
            return Some(format!(
                "every replica on {} left the fleet at {}; votes went on ({} then, {} {} s later) and Consul kept its quorum (leader {}{election})",
                gone.node,
                clock(gone.at),
                thousands(gone.tally),
                thousands(o.tally),
                o.at.saturating_sub(gone.at),
                consul.leader.as_deref().unwrap_or("unknown")
            ));
        }
        return None;
    }
    if m.nodes.len() < 3 || now.is_empty() || m.rollout.is_some() || mixed(o) {
        return None;
    }
    let before: BTreeSet<String> = m.last.values().filter_map(|r| r.node.clone()).collect();
    let node = before.difference(&now).next()?.clone();
    m.node_gone = Some(NodeGone {
        node,
        at: o.at,
        tally: o.tally,
        election_s: election,
    });
    None
}

/// Consul had no leader for longer than an election, then had one again
/// for a few seconds: how long,
/// what `pets load` saw refused, and whether the tally moved meanwhile.
fn quorum(m: &mut Memory, o: &Observation) -> Option<String> {
    let consul = o.consul.as_ref()?;
    match consul.quorum {
        Some(false) => match &mut m.no_quorum {
            None => {
                m.no_quorum = Some(NoQuorum {
                    since: o.at,
                    tally: o.tally,
                    back: None,
                    tally_back: 0,
                })
            }
            Some(lost) => lost.back = None,
        },
        Some(true) => {
            let lost = m.no_quorum.as_mut()?;
            let Some(back) = lost.back else {
                if o.at.saturating_sub(lost.since) <= ELECTION_LIMIT_S {
                    // An election, not a lost quorum.
                    m.no_quorum = None;
                    return None;
                }
                lost.back = Some(o.at);
                lost.tally_back = o.tally;
                return None;
            };
            if o.at < back + QUORUM_SETTLE_S {
                return None;
            }
            let lost = m.no_quorum.take()?;
            let (requests, failed) = o.load.between(lost.since, back);
            let refused = if requests == 0 {
                "pets load was not running".to_owned()
            } else {
                format!(
                    "pets load: {} of {} requests refused meanwhile",
                    thousands(failed),
                    thousands(requests)
                )
            };
            let counted = if lost.tally_back == lost.tally {
                "nothing refused was counted".to_owned()
            } else {
                format!(
                    "{} votes committed as the leader went were counted",
                    thousands(lost.tally_back.saturating_sub(lost.tally))
                )
            };
            return Some(format!(
                "no leader from {} to {} ({} s); {refused}; the tally {} when the leader went, {} when it came back: {counted}",
                clock(lost.since),
                clock(back),
                back - lost.since,
                thousands(lost.tally),
                thousands(lost.tally_back)
            ));
        }
        None => {}
    }
    None
}

fn mixed(o: &Observation) -> bool {
    let mut versions = o.replicas.iter().map(|r| &r.version);
    let first = versions.next();
    versions.any(|v| Some(v) != first)
}

/// Whether `now` is a newer version than `from`: compared as numbers
/// part by part when both are (`10.0` after `9.1`), as different otherwise.
fn newer(now: &str, from: &str) -> bool {
    let parts = |v: &str| -> Option<Vec<u64>> { v.split('.').map(|p| p.parse().ok()).collect() };
    match (parts(now), parts(from)) {
        (Some(a), Some(b)) => a > b,
        _ => now != from,
    }
}

fn where_(r: &super::Seen) -> String {
    match &r.node {
        Some(node) => format!("{} on {node}", r.name),
        None => r.name.clone(),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
