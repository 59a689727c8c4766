//! The fault orders' side of the Consul store: an operator's command merged
//! into its target's order (see [`faults`](super::faults)), refused for a
//! replica the fleet does not have; the orders this replica obeys, as the
//! watcher last read them.

use async_trait::async_trait;
use tokio::sync::watch as channel;

use super::{faults, ConsulStore};
use crate::faults::{FaultCommand, FaultOrders, FaultTarget};
use crate::store::{FaultOrderStore, FleetRoster, StoreError};

#[async_trait]
impl FaultOrderStore for ConsulStore {
    async fn order_faults(
        &self,
        target: &FaultTarget,
        command: &FaultCommand,
    ) -> Result<(), StoreError> {
        let w = &self.watched;
        if let FaultTarget::Replica(id) = target {
            if !self.fleet().replicas.iter().any(|r| &r.identity.id == id) {
                return Err(StoreError::NoSuchReplica);
            }
        }
        let key = faults::key(&w.keys, target);
        faults::order(w.client.as_ref(), key, command).await
    }

    fn fault_orders(&self) -> channel::Receiver<FaultOrders> {
        self.watched.faults.subscribe()
    }
}
