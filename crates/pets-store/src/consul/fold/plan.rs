//! What a fold writes: from one consistent read of the counters and the
//! fleet, the dead replicas' keys and one transaction that moves their counts
//! into the archive keys and deletes them.
//!
//! Every operation is checked: the archives and each deleted key by
//! check-and-set against the index read, each replica's absence from the
//! fleet by check-not-exists, and the fold lock by this replica's session. If
//! anything moved since the read, nothing is applied, so the sums under
//! `votes/` and `served/` are the same before and after at every index.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::consul::keys::Keys;
use crate::consul::kv::{KvEntry, TxnOp};
use crate::consul::records::{new_token, Counter, RoundCounts, ServedValue};

/// How many folded values' tokens an archive remembers (the newest): a
/// replica that comes back after a fold finds there whether a write it lost
/// track of had landed before its keys were folded.
pub const FOLDED_TOKENS: usize = 64;
/// The most replicas folded in one transaction (Consul takes 64 operations).
pub const MAX_PER_FOLD: usize = 8;

/// `votes/archive`: read by every sum as a lane counter, by round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VotesArchive {
    #[serde(flatten)]
    pub counts: RoundCounts,
    pub token: String,
    #[serde(default)]
    pub folded: Vec<String>,
}

/// `served/archive`: read by every sum as a pets-served counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedArchive {
    pub n: u64,
    pub token: String,
    #[serde(default)]
    pub folded: Vec<String>,
}

/// Whether a write with `token` was folded into an archive value.
pub fn was_folded(archive: Option<&KvEntry>, token: &str) -> bool {
    #[derive(Deserialize)]
    struct Tokens {
        #[serde(default)]
        folded: Vec<String>,
    }
    archive
        .and_then(|e| serde_json::from_slice::<Tokens>(&e.bytes()).ok())
        .is_some_and(|t| t.folded.iter().any(|f| f == token))
}

/// Everything a fold reads, at one index.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every key under `votes/`, `served/`, `logins/`, `replicas/`, and
    /// each replica's fault order.
    pub entries: Vec<KvEntry>,
}

impl Seen {
    /// Replicas that own counters but have no record in the fleet.
    pub fn dead(&self, keys: &Keys) -> BTreeSet<String> {
        let replicas = keys.replicas();
        let live: BTreeSet<&str> = self
            .entries
            .iter()
            .filter(|e| e.key.starts_with(&replicas))
            .filter_map(|e| keys.owner(&e.key))
            .collect();
        self.entries
            .iter()
            .filter(|e| !e.key.starts_with(&replicas))
            .filter_map(|e| keys.owner(&e.key))
            .filter(|owner| !live.contains(owner))
            .map(str::to_owned)
            .collect()
    }
}

/// The transaction folding `dead` away, holding the lock as `me` under
/// `session`; `None` when there is nothing to fold.
pub fn fold(
    keys: &Keys,
    seen: &Seen,
    dead: &BTreeSet<String>,
    me: &str,
    session: &str,
) -> Option<Vec<TxnOp>> {
    let dead: BTreeSet<&str> = dead.iter().map(String::as_str).take(MAX_PER_FOLD).collect();
    let mut mine: BTreeMap<&str, Vec<&KvEntry>> = BTreeMap::new();
    for entry in &seen.entries {
        if let Some(owner) = keys.owner(&entry.key).filter(|o| dead.contains(o)) {
            mine.entry(owner).or_default().push(entry);
        }
    }
    if mine.is_empty() {
        return None;
    }
    let find = |key: &str| seen.entries.iter().find(|e| e.key == key);
    let votes_key = keys.votes_archive();
    let served_key = keys.served_archive();
    let votes_at = find(&votes_key);
    let served_at = find(&served_key);
    let mut votes: VotesArchive = votes_at
        .and_then(|e| serde_json::from_slice(&e.bytes()).ok())
        .unwrap_or_default();
    let mut served: ServedArchive = served_at
        .and_then(|e| serde_json::from_slice(&e.bytes()).ok())
        .unwrap_or_default();
    let token = new_token();
    let mut ops = vec![TxnOp::lock_json(
        keys.fold_lock(),
        &serde_json::json!({ "holder": me }),
        session,
    )];
    for (owner, entries) in &mine {
        ops.push(TxnOp::check_not_exists(format!(
            "{}{owner}",
            keys.replicas()
        )));
        for entry in entries {
            if entry.key.starts_with(&keys.votes()) {
                if let Some(counter) = Counter::from_entry(entry) {
                    votes.counts.add(&counter.counts);
                    votes.folded.push(counter.token);
                }
            } else if entry.key.starts_with(&keys.served()) {
                if let Some(value) = ServedValue::from_entry(entry) {
                    served.n += value.n;
                    served.folded.push(value.token);
                }
            }
            ops.push(TxnOp::delete_cas(entry.key.clone(), entry.modify_index));
        }
    }
    for folded in [&mut votes.folded, &mut served.folded] {
        let excess = folded.len().saturating_sub(FOLDED_TOKENS);
        folded.drain(..excess);
    }
    votes.token = token.clone();
    served.token = token;
    ops.push(TxnOp::cas_json(
        votes_key,
        &votes,
        votes_at.map_or(0, |e| e.modify_index),
    ));
    ops.push(TxnOp::cas_json(
        served_key,
        &served,
        served_at.map_or(0, |e| e.modify_index),
    ));
    Some(ops)
}
