//! Fault orders in Consul: `faults/fleet` for every replica and
//! `faults/replicas/<id>` for one.
//!
//! A command is merged into the target's order by read, merge and
//! check-and-set, so two operators' commands never overwrite each other's
//! faults; a write whose outcome is unknown is read back to tell whether it
//! landed. Replicas follow `faults/` with a blocking query (see
//! [`watch`](crate::consul::watch)) and pick out the two orders they obey.

use crate::clock::unix_millis;
use crate::consul::keys::Keys;
use crate::consul::kv::{CallError, Kv, KvEntry, TxnOp, TxnOutcome};
use crate::faults::{FaultCommand, FaultOrder, FaultOrders, FaultTarget};
use crate::store::StoreError;

/// Conflicting commands retried before the store gives up.
const ATTEMPTS: usize = 5;

/// The key for a target's order.
pub fn key(keys: &Keys, target: &FaultTarget) -> String {
    match target {
        FaultTarget::Fleet => format!("{}fleet", keys.faults()),
        FaultTarget::Replica(id) => format!("{}replicas/{id}", keys.faults()),
    }
}

/// Merges `command` into the order stored at `key`.
pub async fn order(kv: &dyn Kv, key: String, command: &FaultCommand) -> Result<(), StoreError> {
    for _ in 0..ATTEMPTS {
        let current = kv.read_consistent(&key).await.map_err(unavailable)?;
        let previous = current.as_ref().and_then(parse);
        let index = current.as_ref().map_or(0, |e| e.modify_index);
        let next = FaultOrder::next(previous.as_ref(), command, unix_millis());
        match kv
            .write(&[TxnOp::cas_json(key.clone(), &next, index)])
            .await
        {
            Ok(TxnOutcome::Committed(_)) => return Ok(()),
            Ok(TxnOutcome::RolledBack(_)) => continue,
            Err(CallError::NotSent(reason) | CallError::Refused(reason)) => {
                return Err(StoreError::Unavailable(reason))
            }
            Err(CallError::Unknown(reason)) => {
                // The stamp is new, so finding this very order means it landed.
                let landed = kv.read_consistent(&key).await.map_err(unavailable)?;
                if landed.as_ref().and_then(parse) == Some(next) {
                    return Ok(());
                }
                tracing::debug!(%reason, "a fault order may not have landed; trying again");
            }
        }
    }
    Err(StoreError::Unavailable(
        "other fault commands kept changing the same order; try again".into(),
    ))
}

/// The fleet's order and `own` replica's, from the entries under `faults/`.
pub fn orders_for(keys: &Keys, entries: &[KvEntry]) -> FaultOrders {
    let fleet = key(keys, &FaultTarget::Fleet);
    let own = key(keys, &FaultTarget::Replica(keys.replica.clone()));
    let find = |wanted: &str| entries.iter().find(|e| e.key == wanted).and_then(parse);
    FaultOrders {
        fleet: find(&fleet),
        own: find(&own),
    }
}

fn parse(entry: &KvEntry) -> Option<FaultOrder> {
    serde_json::from_slice(&entry.bytes()).ok()
}

fn unavailable(e: CallError) -> StoreError {
    StoreError::Unavailable(e.message().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consul::fake::{FakeKv, Fault};
    use crate::faults::FaultSpec;

    fn keys() -> Keys {
        Keys::new("pets/", "web-1")
    }

    fn latency(ms: u64) -> FaultCommand {
        FaultCommand {
            spec: FaultSpec {
                latency_ms: Some(ms),
                ..FaultSpec::default()
            },
            ..FaultCommand::default()
        }
    }

    fn errors(percent: u8) -> FaultCommand {
        FaultCommand {
            spec: FaultSpec {
                error_percent: Some(percent),
                ..FaultSpec::default()
            },
            ..FaultCommand::default()
        }
    }

    fn stored(kv: &FakeKv) -> FaultOrders {
        orders_for(&keys(), &kv.under("pets/faults/"))
    }

    #[tokio::test(start_paused = true)]
    async fn commands_for_a_target_merge_and_reach_only_it() {
        let kv = FakeKv::default();
        let me = FaultTarget::Replica("web-1".into());
        let other = FaultTarget::Replica("web-2".into());
        order(&kv, key(&keys(), &me), &latency(200)).await.unwrap();
        order(&kv, key(&keys(), &me), &errors(10)).await.unwrap();
        order(&kv, key(&keys(), &other), &latency(900))
            .await
            .unwrap();
        let orders = stored(&kv);
        let own = orders.own.unwrap();
        assert_eq!(own.spec.latency_ms, Some(200));
        assert_eq!(own.spec.error_percent, Some(10));
        assert_eq!(orders.fleet, None, "another replica's order is not ours");
    }

    #[tokio::test(start_paused = true)]
    async fn a_conflicting_write_is_merged_again_not_lost() {
        let kv = FakeKv::default();
        order(&kv, key(&keys(), &FaultTarget::Fleet), &latency(100))
            .await
            .unwrap();
        kv.script(&[Fault::Conflict]);
        order(&kv, key(&keys(), &FaultTarget::Fleet), &errors(50))
            .await
            .unwrap();
        let fleet = stored(&kv).fleet.unwrap();
        assert_eq!(fleet.spec.latency_ms, Some(100));
        assert_eq!(fleet.spec.error_percent, Some(50));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_outcome_is_read_back() {
        let kv = FakeKv::default();
        let fleet = key(&keys(), &FaultTarget::Fleet);
        kv.script(&[Fault::AppliedThenLost]);
        order(&kv, fleet.clone(), &latency(100)).await.unwrap();
        assert_eq!(kv.writes(), 1, "found applied, not written twice");
        kv.script(&[Fault::LostUnapplied]);
        order(&kv, fleet, &errors(5)).await.unwrap();
        assert_eq!(kv.writes(), 3, "found missing, written again");
        let fleet = stored(&kv).fleet.unwrap();
        assert_eq!(fleet.spec.error_percent, Some(5));
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_sent_is_reported_not_retried() {
        let kv = FakeKv::default();
        kv.script(&[Fault::NotSent]);
        let refused = order(&kv, key(&keys(), &FaultTarget::Fleet), &latency(1)).await;
        assert!(matches!(refused, Err(StoreError::Unavailable(_))));
        assert!(kv.under("pets/faults/").is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn endless_conflicts_give_up_with_a_reason() {
        let kv = FakeKv::default();
        kv.script(&[Fault::Conflict; ATTEMPTS]);
        let refused = order(&kv, key(&keys(), &FaultTarget::Fleet), &latency(1)).await;
        assert!(matches!(refused, Err(StoreError::Unavailable(_))));
    }
}
