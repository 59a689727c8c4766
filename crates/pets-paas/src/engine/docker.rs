//! [`Engine`] on a real Docker engine, through bollard.
//!
//! An instance is three things, all named `pets-paas-<id>` and labelled with
//! its id: an internal bridge network of its own (no way out, no neighbour,
//! a /28 from [`super::subnets`]),
//! a volume holding only the console's password file, and the container,
//! hardened (limits on memory, CPU and processes; read-only root; every
//! capability dropped; no new privileges; a non-root user). The password
//! reaches the container as a file copied into the volume before it starts:
//! never on a command line, in the environment or in a label.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::SystemTime;

use async_trait::async_trait;
use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, Mount, MountType, NetworkCreateRequest,
    RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
    StatsOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use ipnet::Ipv4Net;
use pets_store::clock::{from_unix_seconds, unix_seconds};

use super::archive::{archive_of, first_file, password_archive};
use super::calls::{create_network_in, gone_is_fine, refused};
use super::labels::Labels;
use super::{Engine, EngineError, Instance, Node, Spec, Usage, Version};
use crate::id::InstanceId;

/// Where the password file is, inside the instance, and the file an
/// extension writes (`expires_at`, Unix seconds).
const SECRETS_DIR: &str = "/run/pets";
const EXPIRY_FILE: &str = "expires_at";
/// The image's own user (distroless nonroot).
pub(super) const USER: &str = "65532:65532";
const MEMORY_BYTES: i64 = 96 * 1024 * 1024;
const NANO_CPUS: i64 = 250_000_000;
const PIDS: i64 = 64;

/// An instance's limits, the same on one engine and on a Swarm: memory
/// (bytes), CPU (billionths of a core) and processes.
pub(super) fn limits() -> (i64, i64, i64) {
    (MEMORY_BYTES, NANO_CPUS, PIDS)
}

/// The pets' names a visitor chose, as the image's settings.
pub(super) fn option_env(spec: &Spec) -> Vec<String> {
    ["OPTION_A", "OPTION_B", "OPTION_C"]
        .iter()
        .zip(&spec.options)
        .filter_map(|(name, option)| Some(format!("{name}={}", option.as_ref()?.as_str())))
        .collect()
}

/// The engine at `DOCKER_HOST`, or the local socket.
pub struct DockerEngine {
    docker: Docker,
    /// The pets image's name, without its tag.
    image: String,
    /// `PAAS_NAME`: the label value that marks this service's instances.
    service: String,
    /// `PAAS_SUBNETS`: where instance networks get their /28.
    pool: Ipv4Net,
    /// The engine's own name, once asked.
    node: tokio::sync::OnceCell<String>,
}

impl DockerEngine {
    pub fn connect(image: &str, service: &str, pool: Ipv4Net) -> Result<Self, EngineError> {
        let docker =
            Docker::connect_with_defaults().map_err(|e| EngineError::Unreachable(e.to_string()))?;
        Ok(Self {
            docker,
            image: image.to_owned(),
            service: service.to_owned(),
            pool,
            node: tokio::sync::OnceCell::new(),
        })
    }

    /// The engine's own name (its machine's), asked once: the node every
    /// instance of a standalone engine runs on. Until the engine answers,
    /// "this engine".
    async fn node_name(&self) -> String {
        let asked = self
            .node
            .get_or_try_init(|| async {
                let info = self.docker.info().await?;
                Ok::<_, bollard::errors::Error>(info.name.unwrap_or_else(|| "this engine".into()))
            })
            .await;
        match asked {
            Ok(name) => name.clone(),
            Err(e) => {
                tracing::warn!("cannot ask the Docker engine its name: {e}");
                "this engine".into()
            }
        }
    }

    /// Whether this engine manages a Swarm (a manager of an active Swarm).
    pub async fn is_swarm_manager(&self) -> Result<bool, EngineError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(|e| EngineError::Unreachable(e.to_string()))?;
        let swarm = info.swarm.unwrap_or_default();
        Ok(
            swarm.local_node_state == Some(bollard::models::LocalNodeState::ACTIVE)
                && swarm.control_available == Some(true),
        )
    }

    /// Whether this engine has the container `name` (an id, or a name).
    pub async fn has_container(&self, name: &str) -> Result<bool, EngineError> {
        match self.docker.inspect_container(name, None).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(EngineError::Unreachable(e.to_string())),
        }
    }

    /// The same connection, making instances as services on its Swarm;
    /// `container` is the one this service runs in.
    pub fn into_swarm(self, container: &str) -> super::swarm::SwarmEngine {
        super::swarm::SwarmEngine::new(
            self.docker,
            &self.image,
            &self.service,
            self.pool,
            container,
        )
    }

    /// The images a visitor may ask for (`<image>:1.0`, `<image>:2.0`) that
    /// this engine does not hold: making one of those waits for a pull, or
    /// fails where the engine cannot pull.
    pub async fn missing_images(&self) -> Result<Vec<String>, EngineError> {
        let mut missing = Vec::new();
        for version in [Version::V1, Version::V2] {
            let image = format!("{}:{}", self.image, version.tag());
            match self.docker.inspect_image(&image).await {
                Ok(_) => {}
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => missing.push(image),
                Err(e) => return Err(EngineError::Unreachable(e.to_string())),
            }
        }
        Ok(missing)
    }

    async fn make(&self, spec: &Spec) -> Result<Instance, EngineError> {
        let name = spec.id.resource_name();
        let gateway = self.create_network(spec).await?;
        self.docker
            .create_volume(VolumeCreateRequest {
                name: Some(name.clone()),
                labels: Some(Labels::owner(&spec.id, &self.service)),
                ..Default::default()
            })
            .await
            .map_err(refused("create a volume"))?;
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        self.docker
            .create_container(Some(options), self.container(spec, gateway))
            .await
            .map_err(refused("create a container"))?;
        let upload = UploadToContainerOptionsBuilder::default()
            .path(SECRETS_DIR)
            .build();
        self.docker
            .upload_to_container(
                &name,
                Some(upload),
                bollard::body_full(password_archive(spec)?.into()),
            )
            .await
            .map_err(refused("copy the password file"))?;
        self.docker
            .start_container(&name, None)
            .await
            .map_err(refused("start the container"))?;
        let inspected = self
            .docker
            .inspect_container(&name, None)
            .await
            .map_err(refused("inspect the container"))?;
        let address = inspected
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|n| address_on(&n, &name));
        Ok(Instance {
            id: spec.id.clone(),
            version: spec.version,
            client: spec.client,
            created_at: spec.created_at,
            expires_at: spec.expires_at,
            address,
            running: true,
            node: Some(self.node_name().await),
            restarts: 0,
        })
    }

    /// The instance's own network: internal (no route out), on a /28 of
    /// the pool. Returns its gateway, the address the service's proxy
    /// reaches the instance from.
    async fn create_network(&self, spec: &Spec) -> Result<std::net::Ipv4Addr, EngineError> {
        let request = NetworkCreateRequest {
            name: spec.id.resource_name(),
            driver: Some("bridge".into()),
            internal: Some(true),
            labels: Some(Labels::owner(&spec.id, &self.service)),
            ..Default::default()
        };
        let subnet = create_network_in(&self.docker, self.pool, true, request).await?;
        Ok(subnet.hosts().next().unwrap_or(subnet.addr()))
    }

    /// The end an operator's extension set, if any.
    async fn extension(&self, id: &InstanceId) -> Option<SystemTime> {
        let path = format!("{SECRETS_DIR}/{EXPIRY_FILE}");
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(&path)
            .build();
        let mut stream = self
            .docker
            .download_from_container(&id.resource_name(), Some(options));
        let mut archive = Vec::new();
        while let Some(chunk) = stream.next().await {
            archive.extend_from_slice(&chunk.ok()?);
            if archive.len() > 64 * 1024 {
                return None;
            }
        }
        let secs: u64 = first_file(&archive)?.trim().parse().ok()?;
        Some(from_unix_seconds(secs))
    }

    fn container(&self, spec: &Spec, gateway: std::net::Ipv4Addr) -> ContainerCreateBody {
        let mut env = vec![
            format!("ADMIN_PASSWORD_FILE={SECRETS_DIR}/admin_password"),
            // The proxy names the visitor in X-Forwarded-For; only it is believed.
            format!("PETS_TRUSTED_PROXIES={gateway}/32"),
            format!("PETS_EXPIRES_AT_FILE={SECRETS_DIR}/{EXPIRY_FILE}"),
            format!("PETS_ALLOWED_HOSTS={},{}", spec.hosts().0, spec.hosts().1),
            format!("PETS_EXPIRES_AT={}", unix_seconds(spec.expires_at)),
        ];
        env.extend(option_env(spec));
        let name = spec.id.resource_name();
        ContainerCreateBody {
            image: Some(format!("{}:{}", self.image, spec.version.tag())),
            hostname: Some(spec.id.to_string()),
            user: Some(USER.into()),
            env: Some(env),
            labels: Some(Labels::of(spec, &self.service)),
            host_config: Some(HostConfig {
                memory: Some(MEMORY_BYTES),
                memory_swap: Some(MEMORY_BYTES),
                nano_cpus: Some(NANO_CPUS),
                pids_limit: Some(PIDS),
                readonly_rootfs: Some(true),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges:true".into()]),
                network_mode: Some(name.clone()),
                mounts: Some(vec![Mount {
                    typ: Some(MountType::VOLUME),
                    source: Some(name),
                    target: Some(SECRETS_DIR.into()),
                    ..Default::default()
                }]),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::NO),
                    maximum_retry_count: None,
                }),
                log_config: Some(HostConfigLogConfig {
                    typ: Some("json-file".into()),
                    config: Some(HashMap::from([
                        ("max-size".into(), "1m".into()),
                        ("max-file".into(), "1".into()),
                    ])),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

#[async_trait]
impl Engine for DockerEngine {
    async fn create(&self, spec: &Spec) -> Result<Instance, EngineError> {
        match self.make(spec).await {
            Ok(instance) => Ok(instance),
            Err(e) => {
                if let Err(cleanup) = self.remove(&spec.id).await {
                    tracing::warn!(instance = %spec.id, "cannot clean up a failed creation: {cleanup}");
                }
                Err(e)
            }
        }
    }

    async fn list(&self) -> Result<Vec<Instance>, EngineError> {
        let filters = Labels::made_by(&self.service);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(refused("list containers"))?;
        let mut instances: Vec<Instance> = containers
            .into_iter()
            .filter_map(|c| {
                let mut instance = Labels::read(c.labels.as_ref()?)?;
                instance.running = c.state.is_some_and(|s| s.to_string() == "running");
                let name = instance.id.resource_name();
                instance.address = c
                    .network_settings
                    .and_then(|n| n.networks)
                    .and_then(|n| address_on(&n, &name));
                Some(instance)
            })
            .collect();
        let node = self.node_name().await;
        for instance in &mut instances {
            instance.node = Some(node.clone());
            if let Some(at) = self.extension(&instance.id).await {
                instance.expires_at = at;
            }
        }
        Ok(instances)
    }

    async fn nodes(&self) -> Result<Vec<Node>, EngineError> {
        Ok(vec![Node {
            name: self.node_name().await,
            ready: true,
            up: true,
        }])
    }

    async fn remove(&self, id: &InstanceId) -> Result<(), EngineError> {
        let name = id.resource_name();
        let force = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        gone_is_fine(self.docker.remove_container(&name, Some(force)).await)
            .map_err(refused("remove a container"))?;
        gone_is_fine(self.docker.remove_network(&name).await)
            .map_err(refused("remove a network"))?;
        let force = RemoveVolumeOptionsBuilder::default().force(true).build();
        gone_is_fine(self.docker.remove_volume(&name, Some(force)).await)
            .map_err(refused("remove a volume"))?;
        Ok(())
    }

    async fn set_expiry(&self, id: &InstanceId, at: SystemTime) -> Result<(), EngineError> {
        let secs = unix_seconds(at);
        let archive = archive_of(EXPIRY_FILE, secs.to_string().as_bytes(), 0o444)?;
        let upload = UploadToContainerOptionsBuilder::default()
            .path(SECRETS_DIR)
            .build();
        self.docker
            .upload_to_container(
                &id.resource_name(),
                Some(upload),
                bollard::body_full(archive.into()),
            )
            .await
            .map_err(refused("write the new expiry"))
    }

    async fn usage(&self, id: &InstanceId) -> Result<Usage, EngineError> {
        stats_of(&self.docker, &id.resource_name()).await
    }
}

/// The container's address on the network named `name`.
fn address_on(
    networks: &HashMap<String, bollard::models::EndpointSettings>,
    name: &str,
) -> Option<IpAddr> {
    networks
        .get(name)?
        .ip_address
        .as_deref()
        .and_then(|ip| ip.parse().ok())
}

/// One sample of a container's memory and CPU, from its engine's stats.
pub(super) async fn stats_of(docker: &Docker, container: &str) -> Result<Usage, EngineError> {
    let options = StatsOptionsBuilder::default().stream(false).build();
    let stats = docker
        .stats(container, Some(options))
        .next()
        .await
        .ok_or_else(|| EngineError::Unreachable("no stats".into()))?
        .map_err(refused("read stats"))?;
    let cpu = |s: &Option<bollard::models::ContainerCpuStats>| {
        s.as_ref().map(|s| {
            (
                s.cpu_usage
                    .as_ref()
                    .and_then(|u| u.total_usage)
                    .unwrap_or(0),
                s.system_cpu_usage.unwrap_or(0),
                s.online_cpus.unwrap_or(1),
            )
        })
    };
    let cpu_percent = match (cpu(&stats.cpu_stats), cpu(&stats.precpu_stats)) {
        (Some((total, system, cpus)), Some((pre_total, pre_system, _))) if system > pre_system => {
            total.saturating_sub(pre_total) as f64 / (system - pre_system) as f64
                * cpus as f64
                * 100.0
        }
        _ => 0.0,
    };
    Ok(Usage {
        memory_bytes: stats.memory_stats.and_then(|m| m.usage).unwrap_or(0),
        cpu_percent,
    })
}
