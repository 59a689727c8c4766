//! The fleet's side of the Consul store: this replica's record kept (its
//! [`Membership`] and the fold it holds a lock for, started at
//! registration), and every live replica's record shown, with the cluster's
//! leader and servers as the watchers last saw them.

use super::fold;
use super::membership::Membership;
use super::votes::Leadership;
use super::{ConsulStore, Registered};
use crate::fleet::{Fleet, FleetStore, Registration, ReplicaRecord};
use crate::snapshot::StoreKind;
use crate::store::FleetRoster;
use crate::sync::Locked;

impl FleetRoster for ConsulStore {
    fn register(&self, registration: Registration) {
        let w = &self.watched;
        let membership = Membership::new(
            w.client.clone(),
            &w.keys,
            registration,
            w.served.clone(),
            [self.recorded.clone(), self.refused.clone()],
        );
        let stop = self.stop.child_token();
        let task = tokio::spawn(membership.clone().run(stop.clone()));
        let holder = membership.clone();
        let folder = fold::Folder {
            kv: w.client.clone(),
            keys: w.keys.clone(),
            session: Box::new(move || holder.current_session()),
        };
        tokio::spawn(folder.run(stop.clone()));
        let registered = Registered {
            membership,
            stop,
            task,
        };
        *self.membership.locked() = Some(registered);
    }

    fn fleet(&self) -> Fleet {
        let w = &self.watched;
        let own_id = &w.keys.replica;
        let (mut replicas, leader, servers, quorum, electing) = {
            let known = w.known();
            let newest = known.replicas.iter().filter_map(ReplicaRecord::seen).max();
            let now = newest.unwrap_or_else(time::OffsetDateTime::now_utc);
            let replicas: Vec<ReplicaRecord> = known
                .replicas
                .iter()
                .filter(|r| r.identity.id != *own_id && r.is_live(now))
                .cloned()
                .collect();
            (
                replicas,
                known.leader.clone(),
                known.servers.clone(),
                known.leadership.map(|l| l != Leadership::Lost),
                known.leadership == Some(Leadership::Electing),
            )
        };
        // This replica as it is now, not as last written.
        let membership = self.membership.locked();
        if let Some(registered) = membership.as_ref() {
            replicas.push(registered.membership.record_now());
        }
        let mut fleet = Fleet {
            replicas,
            store: FleetStore {
                kind: StoreKind::Consul,
                quorum,
                electing,
                leader,
                servers,
            },
        };
        fleet.sort();
        fleet
    }
}
