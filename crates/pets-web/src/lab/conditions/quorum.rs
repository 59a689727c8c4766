//! The lab's quorum step: Consul without a leader for longer than an
//! election, then with one again; what was refused meanwhile, and whether
//! the tally moved.

use super::{ELECTION_LIMIT_S, QUORUM_SETTLE_S};
use crate::figures::{clock, thousands};
use crate::lab::observation::Observation;
use crate::lab::progress::{Memory, NoQuorum};

/// Consul had no leader for longer than an election, then had one again
/// for a few seconds: how long,
/// what `pets load` saw refused, and whether the tally moved meanwhile.
pub(super) fn quorum(m: &mut Memory, o: &Observation) -> Option<String> {
    let consul = o.consul.as_ref()?;
    if let Some(lost) = m.no_quorum.as_mut() {
        for r in &o.replicas {
            let seen = lost.refused_seen.entry(r.id.clone()).or_default();
            *seen = (*seen).max(r.refused);
        }
    }
    match consul.quorum {
        Some(false) if !m.leader_seen => {}
        Some(false) => match &mut m.no_quorum {
            None => {
                m.no_quorum = Some(NoQuorum {
                    since: o.at,
                    tally: o.tally,
                    refused: o
                        .replicas
                        .iter()
                        .map(|r| (r.id.clone(), r.refused))
                        .collect(),
                    refused_seen: Default::default(),
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
            // Every replica's refusals since the leader went, as the most
            // it was seen with (by whichever replica kept this outage): a
            // survivor's own count, which others see only once its record
            // is written again, and a new replica's all.
            let votes_refused: u64 = lost
                .refused_seen
                .iter()
                .map(|(id, n)| n.saturating_sub(lost.refused.get(id).copied().unwrap_or(0)))
                .sum();
            let refused = if requests == 0 {
                format!("{} votes refused meanwhile", thousands(votes_refused))
            } else {
                format!(
                    "{} votes refused meanwhile; pets load: {} of {} requests failed",
                    thousands(votes_refused),
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
                back.saturating_sub(lost.since),
                thousands(lost.tally),
                thousands(lost.tally_back)
            ));
        }
        None => {}
    }
    None
}
