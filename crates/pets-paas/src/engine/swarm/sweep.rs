//! What outlives an instance's service, and the networks this container
//! must be on. A removal that met a task still stopping, or a node that was
//! down, leaves a network or a secret behind: the sweep at every listing
//! removes those whose service is gone. A `pets paas` container made anew
//! (an upgrade) joins again the networks of the instances it adopts.

use std::collections::HashSet;

use bollard::models::{NetworkConnectRequest, NetworkDisconnectRequest};
use bollard::query_parameters::{ListNetworksOptionsBuilder, ListSecretsOptionsBuilder};

use super::super::calls::gone_is_fine;
use super::super::labels::Labels;
use super::SwarmEngine;

impl SwarmEngine {
    /// Removes the networks and secrets of instances that have no service
    /// (and are not being made).
    pub(super) async fn sweep(&self, live: &HashSet<String>, making: &HashSet<String>) {
        let filters = Labels::made_by(&self.service);
        let left = |name: &String| !live.contains(name) && !making.contains(name);
        let options = ListNetworksOptionsBuilder::default()
            .filters(&filters)
            .build();
        for network in self
            .docker
            .list_networks(Some(options))
            .await
            .unwrap_or_default()
        {
            if let Some(name) = network.name.filter(left) {
                self.remove_network(&name).await;
            }
        }
        let options = ListSecretsOptionsBuilder::default()
            .filters(&filters)
            .build();
        for secret in self
            .docker
            .list_secrets(Some(options))
            .await
            .unwrap_or_default()
        {
            let name = secret.spec.and_then(|s| s.name);
            if let (Some(id), Some(_)) = (secret.id, name.filter(left)) {
                let _ = self.docker.delete_secret(&id).await;
            }
        }
    }

    /// Joins the networks of live instances this container is not on: a
    /// `pets paas` container made anew (an upgrade) adopts instances whose
    /// networks only the old one had joined.
    pub(super) async fn rejoin(&self, live: &HashSet<String>) {
        let joined: HashSet<String> = match self
            .docker
            .inspect_container(&self.container, None)
            .await
        {
            Ok(c) => c
                .network_settings
                .and_then(|n| n.networks)
                .map(|n| n.into_keys().collect())
                .unwrap_or_default(),
            Err(e) => {
                tracing::warn!(container = %self.container, "cannot read which instance networks this container is on: {e}");
                return;
            }
        };
        for name in live.difference(&joined) {
            let join = NetworkConnectRequest {
                container: self.container.clone(),
                endpoint_config: None,
            };
            match self.docker.connect_network(name, join).await {
                Ok(()) => tracing::info!(network = %name, "joined an adopted instance's network"),
                Err(e) => tracing::warn!(network = %name, "cannot join an instance's network: {e}"),
            }
        }
    }

    /// Leaves the instance's network and removes it; a network still in
    /// use (a task stopping) is left for the next sweep.
    pub(super) async fn remove_network(&self, name: &str) {
        let leave = NetworkDisconnectRequest {
            container: self.container.clone(),
            force: Some(true),
        };
        let _ = self.docker.disconnect_network(name, leave).await;
        if let Err(e) = gone_is_fine(self.docker.remove_network(name).await) {
            tracing::debug!("network {name} stays until the next sweep: {e}");
        }
    }
}
