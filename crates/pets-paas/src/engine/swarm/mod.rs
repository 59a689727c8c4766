//! [`Engine`] on a Docker Swarm, through a manager's API (bollard).
//!
//! An instance is a Swarm service of one task, named `pets-paas-<id>` and
//! labelled with its state (so a restarted `pets paas` adopts it, as on one
//! engine), with two things of its own under the same name:
//! - an internal, attachable overlay network (a /28 of `PAAS_SUBNETS`): the
//!   instance and this service's own container are its only members, so no
//!   instance reaches another, on any node;
//! - a Swarm secret holding the console's password, mounted as a file for
//!   the image's user: never in the environment, a command line or a label.
//!
//! Swarm places each task (spreading them over the nodes) and, when a node
//! is lost, starts it again elsewhere with its secret; the votes it held in
//! memory are gone. `pets paas` runs in a container on a manager and joins
//! every instance's network, so its proxy reaches an instance on any node at
//! the address Swarm's DNS gives for the service's name on that network
//! (`endpoint_mode: dnsrr`: there is no routing mesh or VIP to rely on).
//!
//! The service's spec, and its first placement on the node with the most
//! room, are in [`spec`]; where tasks run, and how many times an instance
//! started afresh, in [`tasks`]. Networks and secrets whose service is gone
//! are swept at every listing ([`sweep`]).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64::Engine as _;
use bollard::models::{NetworkConnectRequest, NetworkCreateRequest, SecretSpec, ServiceSpec};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListServicesOptionsBuilder, UpdateServiceOptionsBuilder,
};
use bollard::Docker;
use ipnet::Ipv4Net;
use pets_store::clock::unix_seconds;
use secrecy::ExposeSecret;

mod spec;
mod sweep;
mod tasks;

use self::spec::{pinned, placement};
use super::calls::{create_network_in, gone_is_fine, refused};
use super::docker::stats_of;
use super::labels::{Labels, EXPIRES};
use super::{Engine, EngineError, Instance, Node, Spec, Usage};
use crate::id::InstanceId;

/// How long the name of a running instance may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(1);

/// The Swarm whose manager is at `DOCKER_HOST`, or the local socket.
pub struct SwarmEngine {
    docker: Docker,
    image: String,
    service: String,
    pool: Ipv4Net,
    /// This service's own container, which joins every instance's network.
    container: String,
    /// Instances being made: their network and secret exist before their
    /// service, and the sweep must not take them.
    making: Mutex<HashSet<InstanceId>>,
}

impl SwarmEngine {
    /// `container` is the one `pets paas` runs in (its id or name).
    pub fn new(docker: Docker, image: &str, service: &str, pool: Ipv4Net, container: &str) -> Self {
        Self {
            docker,
            image: image.to_owned(),
            service: service.to_owned(),
            pool,
            container: container.to_owned(),
            making: Mutex::default(),
        }
    }

    async fn make(&self, spec: &Spec) -> Result<Instance, EngineError> {
        let name = spec.id.resource_name();
        let subnet = self.create_network(spec).await?;
        self.docker
            .connect_network(
                &name,
                NetworkConnectRequest {
                    container: self.container.clone(),
                    endpoint_config: None,
                },
            )
            .await
            .map_err(refused("join the instance's network"))?;
        let password = base64::engine::general_purpose::STANDARD
            .encode(spec.password.expose_secret().as_bytes());
        let secret = self
            .docker
            .create_secret(SecretSpec {
                name: Some(name.clone()),
                labels: Some(Labels::owner(&spec.id, &self.service)),
                data: Some(password),
                ..Default::default()
            })
            .await
            .map_err(refused("create the password secret"))?
            .id;
        self.docker
            .create_service(
                spec::service_spec(&self.image, &self.service, spec, subnet, secret),
                None,
            )
            .await
            .map_err(refused("create a service"))?;
        Ok(Instance {
            id: spec.id.clone(),
            version: spec.version,
            client: spec.client,
            created_at: spec.created_at,
            expires_at: spec.expires_at,
            address: None,
            running: false,
            // Where Swarm must place it first.
            node: spec.node.clone(),
            restarts: 0,
        })
    }

    /// The instance's overlay network; returns its subnet, the only
    /// addresses the instance believes forwarding headers from.
    async fn create_network(&self, spec: &Spec) -> Result<Ipv4Net, EngineError> {
        let request = NetworkCreateRequest {
            name: spec.id.resource_name(),
            driver: Some("overlay".into()),
            internal: Some(true),
            attachable: Some(true),
            labels: Some(Labels::owner(&spec.id, &self.service)),
            ..Default::default()
        };
        create_network_in(&self.docker, self.pool, false, request).await
    }

    /// The address Swarm's DNS gives `name` on the networks this container
    /// shares with it; only one inside `PAAS_SUBNETS`, where every
    /// instance's network is (a name the embedded DNS does not know goes
    /// on to the host's resolvers, whose answer is never an instance).
    async fn resolve(&self, name: &str) -> Option<IpAddr> {
        let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, 0)));
        found.await.ok()?.ok()?.map(|a| a.ip()).find(|ip| match ip {
            IpAddr::V4(v4) => self.pool.contains(v4),
            IpAddr::V6(_) => false,
        })
    }

    /// Lifts the placement of a service whose task runs where it was first
    /// placed. Swarm does not restart a task whose node still satisfies
    /// the service's new constraints, and with none left it may start the
    /// task elsewhere when that node is lost.
    async fn release(&self, id: &InstanceId, version: Option<u64>, mut spec: ServiceSpec) {
        // An empty placement, not none: Docker 20.10's Swarm dereferences
        // it when it compares the task with the service, and a manager
        // that meets none panics (and every manager after it).
        if let Some(template) = spec.task_template.as_mut() {
            template.placement = Some(placement(None));
        }
        let lifted = self
            .update(
                &id.resource_name(),
                version,
                spec,
                "lift the first placement",
            )
            .await;
        if let Err(e) = lifted {
            tracing::warn!(instance = %id, "{e}; will retry");
        }
    }

    /// Replaces the spec of the service `name` at `version` (Swarm refuses
    /// an update made from an older reading). A version the API's field
    /// cannot carry is refused, never wrapped.
    async fn update(
        &self,
        name: &str,
        version: Option<u64>,
        spec: ServiceSpec,
        action: &'static str,
    ) -> Result<(), EngineError> {
        let version =
            version
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| EngineError::Refused {
                    action,
                    message: "the service has no version an update can name".into(),
                })?;
        let options = UpdateServiceOptionsBuilder::default()
            .version(version)
            .build();
        self.docker
            .update_service(name, spec, options, None)
            .await
            .map(drop)
            .map_err(refused(action))
    }
}

#[async_trait]
impl Engine for SwarmEngine {
    async fn create(&self, spec: &Spec) -> Result<Instance, EngineError> {
        self.making.lock().unwrap().insert(spec.id.clone());
        let made = self.make(spec).await;
        if made.is_err() {
            if let Err(cleanup) = self.remove(&spec.id).await {
                tracing::warn!(instance = %spec.id, "cannot clean up a failed creation: {cleanup}");
            }
        }
        self.making.lock().unwrap().remove(&spec.id);
        made
    }

    async fn list(&self) -> Result<Vec<Instance>, EngineError> {
        // Taken first: an instance whose making ends while this reads is
        // in one set or the other, never swept.
        let making: HashSet<String> = self
            .making
            .lock()
            .unwrap()
            .iter()
            .map(InstanceId::resource_name)
            .collect();
        let filters = Labels::made_by(&self.service);
        let options = ListServicesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let services = self
            .docker
            .list_services(Some(options))
            .await
            .map_err(refused("list services"))?;
        let (nodes, tasks) = tokio::try_join!(
            tasks::node_table(&self.docker),
            tasks::by_service(&self.docker)
        )?;
        let mut instances = Vec::new();
        let mut live = HashSet::new();
        for service in services {
            let Some(spec) = service.spec else { continue };
            // Every service of ours keeps its network and secret, even one
            // whose labels no longer read as an instance.
            live.extend(spec.name.clone());
            let Some(mut instance) = spec.labels.as_ref().and_then(Labels::read) else {
                continue;
            };
            let ours = service.id.as_ref().and_then(|id| tasks.get(id));
            instance.restarts = ours.map_or(0, |t| t.restarts);
            let on = ours
                .and_then(|t| t.running_on.as_ref())
                .and_then(|n| nodes.get(n));
            if let Some(node) = on {
                instance.node = Some(node.name.clone());
                // A paused or drained node's tasks run on until Swarm
                // stops them: only a node that is down has none.
                instance.running = node.up;
                if pinned(&spec).is_some() {
                    self.release(&instance.id, service.version.and_then(|v| v.index), spec)
                        .await;
                }
            } else if let Some(node) = pinned(&spec) {
                let version = service.version.and_then(|v| v.index);
                if nodes.values().any(|n| n.takes_tasks && n.name == node) {
                    // Not running yet: it takes room where it is to start.
                    instance.node = Some(node);
                } else {
                    // Its node went before it started there: anywhere.
                    self.release(&instance.id, version, spec).await;
                }
            }
            if instance.running {
                instance.address = self.resolve(&instance.id.resource_name()).await;
            }
            instances.push(instance);
        }
        self.rejoin(&live).await;
        self.sweep(&live, &making).await;
        Ok(instances)
    }

    async fn nodes(&self) -> Result<Vec<Node>, EngineError> {
        let mut nodes: Vec<Node> = tasks::node_table(&self.docker)
            .await?
            .into_values()
            .map(|n| Node {
                name: n.name,
                ready: n.takes_tasks,
                up: n.up,
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(nodes)
    }

    async fn remove(&self, id: &InstanceId) -> Result<(), EngineError> {
        let name = id.resource_name();
        gone_is_fine(self.docker.delete_service(&name).await)
            .map_err(refused("remove a service"))?;
        // The secret and network go once no task holds them: now, or at a
        // later sweep.
        let _ = self.docker.delete_secret(&name).await;
        self.remove_network(&name).await;
        Ok(())
    }

    async fn usage(&self, id: &InstanceId) -> Result<Usage, EngineError> {
        // Stats come from the engine that runs the task: this manager's own
        // tasks are read; another node's are not reachable through Swarm.
        let label = format!("com.docker.swarm.service.name={}", id.resource_name());
        let filters = HashMap::from([("label", vec![label.as_str()])]);
        let options = ListContainersOptionsBuilder::default()
            .filters(&filters)
            .build();
        let here = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(refused("list containers"))?;
        match here.into_iter().find_map(|c| c.id) {
            Some(container) => stats_of(&self.docker, &container).await,
            None => Err(EngineError::Refused {
                action: "read stats",
                message: "the instance runs on another node".into(),
            }),
        }
    }

    async fn set_expiry(&self, id: &InstanceId, at: SystemTime) -> Result<(), EngineError> {
        let name = id.resource_name();
        let service = self
            .docker
            .inspect_service(&name, None)
            .await
            .map_err(refused("read the service"))?;
        let version = service.version.and_then(|v| v.index);
        let mut spec = service.spec.unwrap_or_default();
        // A label of the service, not of its task: the task keeps running.
        spec.labels
            .get_or_insert_with(HashMap::new)
            .insert(EXPIRES.into(), unix_seconds(at).to_string());
        self.update(&name, version, spec, "write the new expiry")
            .await
    }

    fn resync_every(&self) -> Duration {
        // Tasks move between nodes: the proxy's addresses follow within this.
        Duration::from_secs(2)
    }
}
