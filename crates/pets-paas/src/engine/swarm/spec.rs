//! What Swarm is asked to run for an instance: the service's spec (image,
//! limits, hardening, the password secret, its network, its first
//! placement), and reading that placement back.

use std::collections::HashMap;

use bollard::models::{
    EndpointSpec, EndpointSpecModeEnum, Limit, NetworkAttachmentConfig, ServiceSpec,
    ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecFile, TaskSpecContainerSpecPrivileges, TaskSpecContainerSpecSecrets,
    TaskSpecLogDriver, TaskSpecPlacement, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};
use ipnet::Ipv4Net;
use pets_store::clock::unix_seconds;

use crate::engine::docker::{limits, option_env, USER};
use crate::engine::labels::Labels;
use crate::engine::Spec;

/// Where the password secret is mounted inside the instance.
const PASSWORD_FILE: &str = "/run/secrets/admin_password";

/// The service for `spec`, made by `service` from `image`, on its network
/// (`subnet`), with the secret `secret` (Swarm wants a secret's id, not
/// only its name).
pub(super) fn service_spec(
    image: &str,
    service: &str,
    spec: &Spec,
    subnet: Ipv4Net,
    secret: String,
) -> ServiceSpec {
    let name = spec.id.resource_name();
    let (site, console) = spec.hosts();
    let mut env = vec![
        format!("ADMIN_PASSWORD_FILE={PASSWORD_FILE}"),
        format!("PETS_TRUSTED_PROXIES={subnet}"),
        format!("PETS_ALLOWED_HOSTS={site},{console}"),
        format!("PETS_EXPIRES_AT={}", unix_seconds(spec.expires_at)),
    ];
    env.extend(option_env(spec));
    let (memory, cpus, pids) = limits();
    ServiceSpec {
        name: Some(name.clone()),
        labels: Some(Labels::of(spec, service)),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(1) }),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(EndpointSpecModeEnum::DNSRR),
            ports: None,
        }),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(format!("{}:{}", image, spec.version.tag())),
                hostname: Some(spec.id.to_string()),
                user: Some(USER.into()),
                env: Some(env),
                labels: Some(Labels::owner(&spec.id, service)),
                read_only: Some(true),
                capability_drop: Some(vec!["ALL".into()]),
                privileges: Some(TaskSpecContainerSpecPrivileges {
                    no_new_privileges: Some(true),
                    ..Default::default()
                }),
                secrets: Some(vec![TaskSpecContainerSpecSecrets {
                    file: Some(TaskSpecContainerSpecFile {
                        name: Some("admin_password".into()),
                        uid: Some("65532".into()),
                        gid: Some("65532".into()),
                        mode: Some(0o400),
                    }),
                    secret_id: Some(secret),
                    secret_name: Some(name.clone()),
                }]),
                ..Default::default()
            }),
            resources: Some(TaskSpecResources {
                limits: Some(Limit {
                    nano_cpus: Some(cpus),
                    memory_bytes: Some(memory),
                    pids: Some(pids),
                }),
                ..Default::default()
            }),
            // First on the node with the most room; the constraint goes
            // once the task runs there (see `release`), so that Swarm
            // may move it when that node is lost.
            placement: Some(placement(spec.node.as_deref())),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(TaskSpecRestartPolicyConditionEnum::ANY),
                delay: Some(1_000_000_000),
                ..Default::default()
            }),
            networks: Some(vec![NetworkAttachmentConfig {
                target: Some(name),
                ..Default::default()
            }]),
            log_driver: Some(TaskSpecLogDriver {
                name: Some("json-file".into()),
                options: Some(HashMap::from([
                    ("max-size".into(), "1m".into()),
                    ("max-file".into(), "1".into()),
                ])),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The node the service is still held to, where it was first placed.
pub(super) fn pinned(spec: &ServiceSpec) -> Option<String> {
    let constraints = spec
        .task_template
        .as_ref()?
        .placement
        .as_ref()?
        .constraints
        .as_ref()?;
    constraints
        .iter()
        .find_map(|c| c.strip_prefix("node.hostname=="))
        .map(str::to_owned)
}

/// On `node` only, or anywhere.
pub(super) fn placement(node: Option<&str>) -> TaskSpecPlacement {
    TaskSpecPlacement {
        constraints: Some(
            node.map(|n| format!("node.hostname=={n}"))
                .into_iter()
                .collect(),
        ),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(placement: Option<TaskSpecPlacement>) -> ServiceSpec {
        ServiceSpec {
            task_template: Some(TaskSpec {
                placement,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_first_placement_is_read_back_and_lifted_to_an_empty_one() {
        assert_eq!(
            pinned(&with(Some(placement(Some("node2"))))).as_deref(),
            Some("node2")
        );
        let lifted = placement(None);
        assert_eq!(
            lifted.constraints.as_deref(),
            Some(&[][..]),
            "empty, never none"
        );
        assert_eq!(pinned(&with(Some(lifted))), None);
        assert_eq!(pinned(&with(None)), None);
        let json = serde_json::to_value(placement(None)).unwrap();
        assert_eq!(json, serde_json::json!({"Constraints": []}));
    }
}
