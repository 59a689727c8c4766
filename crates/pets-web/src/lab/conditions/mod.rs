//! Each step's condition: what in a look (and what the guide remembers of
//! earlier ones) shows that the step happened, and the evidence it gives.
//! One function per step; [`look`] runs them all and keeps the memory up to
//! date. Times in evidence are UTC.

use std::collections::BTreeSet;

use super::observation::Observation;
use super::progress::{Lost, Memory, NodeGone, Rollout};
use crate::figures::{clock, thousands};

mod quorum;
use self::quorum::quorum;

/// How long the quorum must be back before the step counts what was refused
/// (drivers publish their last seconds a moment late).
pub const QUORUM_SETTLE_S: u64 = 5;

/// A dead replica's record leaves the fleet this long after it died, so its
/// replacement may have started that much before the loss was seen.
const GONE_AFTER_S: u64 = 10;

/// A replica counts as lost once it stayed away this long: a record that
/// blinks (while replicas start, or when the server that held its session
/// goes) is back within a look or two.
const LOSS_SETTLE_S: u64 = 5;

/// Replicas that went, and nodes that emptied, followed at once at most.
const TRACKED: usize = 32;

/// A release whose replica turns unhealthy this soon after its update began
/// failed (`broken` does after 20 s; Swarm's monitor period is 45 s).
const FRESH_RELEASE_S: u64 = 180;

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
            (Some(true), since) => {
                if let Some(since) = since {
                    m.last_election = Some((since, o.at.max(since)));
                }
                m.leaderless = None;
                m.leader_seen = true;
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
    // Before the update's end is seen: a replica an update removed is no
    // loss, and neither is a node an update emptied.
    tick("replaced", replaced(m, o));
    tick("node_lost", node_lost(m, o));
    let (forward, back) = rollout(m, o);
    tick("rolled_forward", forward);
    tick("rolled_back", back);
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

/// Versions mixed start an update; agreeing again ends it: forward when
/// on a newer version none of whose replicas failed, back when on the one
/// before after the new one's replicas turned unhealthy. A release that
/// fails only once every replica runs it (Swarm replaced them all before
/// its health failed) counts when the fleet goes back from it.
fn rollout(m: &mut Memory, o: &Observation) -> (Option<String>, Option<String>) {
    if o.consul.is_none() {
        return (None, None);
    }
    let versions: BTreeSet<&str> = o.replicas.iter().map(|r| r.version.as_str()).collect();
    if versions.len() > 1 {
        let rollout = m.rollout.get_or_insert_with(|| match &m.version {
            Some(v) if m.version_failed && m.previous.is_some() => Rollout {
                from: m.previous.clone(),
                started: m.version_since,
                failed: BTreeSet::from([v.clone()]),
            },
            _ => Rollout {
                from: m.version.clone(),
                started: o.at,
                failed: BTreeSet::new(),
            },
        });
        for r in o.replicas.iter().filter(|r| !r.healthy) {
            if rollout.from.as_deref() != Some(r.version.as_str()) {
                rollout.failed.insert(r.version.clone());
            }
        }
        return (None, None);
    }
    let Some(now) = versions.into_iter().next().map(str::to_owned) else {
        return (None, None);
    };
    let Some(ended) = m.rollout.take() else {
        let fresh = o.at <= m.version_since + FRESH_RELEASE_S;
        if m.previous.is_some() && fresh && o.replicas.iter().any(|r| !r.healthy) {
            m.version_failed = true;
        }
        m.version = Some(now);
        return (None, None);
    };
    m.version = Some(now.clone());
    let Some(from) = ended.from else {
        return (None, None);
    };
    let took = o.at.saturating_sub(ended.started);
    if now == from {
        m.version_failed = false;
        let back = (!ended.failed.is_empty()).then(|| {
            format!(
                "{} appeared and turned unhealthy; every replica back on {from} at {}, {took} s after the update began",
                ended.failed.into_iter().collect::<Vec<_>>().join(", "),
                clock(o.at)
            )
        });
        return (None, back);
    }
    m.previous = Some(from.clone());
    m.version_since = ended.started;
    m.version_failed = ended.failed.contains(&now);
    if m.version_failed || !newer(&now, &from) {
        return (None, None);
    }
    let (requests, failures) = o.load.between(ended.started, o.at);
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
}

/// A replica turned unhealthy or left (outside an update) and stayed so,
/// and a new one of its version, started after it died, took its place,
/// the tally no lower than before (a record that blinks is no loss). Every
/// replica that went is followed on its own: one that comes back under its
/// own id was not lost.
fn replaced(m: &mut Memory, o: &Observation) -> Option<String> {
    o.consul.as_ref()?;
    m.lost
        .retain(|l| !o.replicas.iter().any(|r| r.id == l.replica.id && r.healthy));
    let found = m.lost.iter().enumerate().find_map(|(i, lost)| {
        o.replicas
            .iter()
            .find(|r| {
                r.healthy
                    && r.version == lost.replica.version
                    && (!lost.before.contains(&r.id) || same_slot(r, &lost.replica))
                    && r.started + GONE_AFTER_S >= lost.at
            })
            .filter(|_| o.at >= lost.at + LOSS_SETTLE_S)
            .filter(|_| o.tally >= lost.tally)
            .map(|new| (i, where_(new)))
    });
    if let Some((i, new)) = found {
        let lost = m.lost.remove(i);
        return Some(format!(
            "{} {} at {}; {new} took its place {} s later; the tally did not go back ({} then, {} now)",
            where_(&lost.replica),
            lost.how,
            clock(lost.at),
            o.at.saturating_sub(lost.at),
            thousands(lost.tally),
            thousands(o.tally)
        ));
    }
    if m.rollout.is_some() || mixed(o) {
        return None;
    }
    let before: BTreeSet<String> = m.last.keys().cloned().collect();
    for was in m.last.values() {
        if m.lost.iter().any(|l| l.replica.id == was.id) {
            continue;
        }
        let (replica, how) = match o.replicas.iter().find(|r| r.id == was.id) {
            None => (was.clone(), "left the fleet"),
            Some(now) if was.healthy && !now.healthy => (now.kept(), "turned unhealthy"),
            Some(_) => continue,
        };
        m.lost.push(Lost {
            replica,
            how: how.to_owned(),
            at: o.at,
            tally: o.tally,
            before: before.clone(),
        });
    }
    let excess = m.lost.len().saturating_sub(TRACKED);
    m.lost.drain(..excess);
    None
}

/// With replicas seen on three nodes, every replica of one node left (not
/// during an update), and while it was away votes went on and Consul kept
/// its quorum: an election (when the node held the leader) is allowed,
/// no leader for longer than [`ELECTION_LIMIT_S`] is a lost quorum. Every
/// node that emptied is followed on its own: one whose replicas come back
/// (their records renewed through another server) was not lost.
fn node_lost(m: &mut Memory, o: &Observation) -> Option<String> {
    let consul = o.consul.as_ref()?;
    let now = o.nodes();
    // The last election, if it ended lately: counted with a loss it caused.
    let election = m
        .last_election
        .filter(|&(_, until)| until + RECENT_ELECTION_S >= o.at)
        .map_or(0, |(since, until)| until.saturating_sub(since));
    m.node_gone.retain(|g| !now.contains(&g.node));
    let lost_quorum = m
        .leaderless
        .is_some_and(|since| o.at.saturating_sub(since) > ELECTION_LIMIT_S);
    if lost_quorum {
        m.node_gone.clear();
    }
    for gone in &mut m.node_gone {
        gone.election_s = gone.election_s.max(election);
    }
    if m.leaderless.is_none() {
        if let Some(i) = m.node_gone.iter().position(|g| o.tally > g.tally) {
            let gone = m.node_gone.remove(i);
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
    }
    if m.nodes.len() < 3 || now.is_empty() || m.rollout.is_some() || mixed(o) {
        return None;
    }
    let before: BTreeSet<String> = m.last.values().filter_map(|r| r.node.clone()).collect();
    for node in before.difference(&now) {
        if !m.node_gone.iter().any(|g| &g.node == node) {
            m.node_gone.push(NodeGone {
                node: node.clone(),
                at: o.at,
                tally: o.tally,
                election_s: election,
            });
        }
    }
    None
}

fn mixed(o: &Observation) -> bool {
    let mut versions = o.replicas.iter().map(|r| &r.version);
    let first = versions.next();
    versions.any(|v| Some(v) != first)
}

/// Whether `now` is a newer version than `from`, compared as numbers part
/// by part (`10.0` after `9.1`, a leading `v` allowed); a name that is no
/// version number (`broken`) is newer than nothing.
fn newer(now: &str, from: &str) -> bool {
    let parts = |v: &str| -> Option<Vec<u64>> {
        let v = v.strip_prefix('v').unwrap_or(v);
        v.split('.').map(|p| p.parse().ok()).collect()
    };
    match (parts(now), parts(from)) {
        (Some(a), Some(b)) => a > b,
        _ => false,
    }
}

/// Two replicas of one Swarm task slot (`pets_web.2.<task>`): Swarm may
/// start the replacement before the dead one's record leaves the fleet.
fn same_slot(a: &super::Seen, b: &super::Seen) -> bool {
    let slot = |r: &super::Seen| {
        let (slot, _) = r.name.rsplit_once('.')?;
        slot.contains('.').then(|| slot.to_owned())
    };
    a.id != b.id && slot(a).is_some() && slot(a) == slot(b)
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
