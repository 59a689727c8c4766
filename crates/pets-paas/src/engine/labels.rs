//! The labels that keep an instance's state on its container, and their
//! reading back. Labels are public to anyone who can inspect the container,
//! so they hold no secret: id, client address, version and two times.

use std::collections::HashMap;

use pets_store::clock::{from_unix_seconds, unix_seconds};

use super::{Instance, Spec, Version};
use crate::id::InstanceId;

/// Marks everything `pets paas` made; its value is the instance's id.
pub const INSTANCE: &str = "org.pets.paas.instance";
/// Which service made it (`PAAS_NAME`).
pub const SERVICE: &str = "org.pets.paas.service";
const CLIENT: &str = "org.pets.paas.client";
const VERSION: &str = "org.pets.paas.version";
const CREATED: &str = "org.pets.paas.created";
pub const EXPIRES: &str = "org.pets.paas.expires";

pub struct Labels;

impl Labels {
    /// The container's labels for `spec`, made by `service`: its state, and
    /// the routes a Traefik that watches this engine would give it (the
    /// alternative to the built-in proxy; Traefik must join the instance's
    /// network, `traefik.docker.network`).
    pub fn of(spec: &Spec, service: &str) -> HashMap<String, String> {
        let (site, console) = spec.hosts();
        let id = spec.id.resource_name();
        HashMap::from([
            ("traefik.enable".into(), "true".into()),
            ("traefik.docker.network".into(), id.clone()),
            (
                format!("traefik.http.routers.{id}.rule"),
                format!("Host(`{site}`)"),
            ),
            (format!("traefik.http.routers.{id}.service"), id.clone()),
            (
                format!("traefik.http.services.{id}.loadbalancer.server.port"),
                "5000".into(),
            ),
            (
                format!("traefik.http.routers.{id}-admin.rule"),
                format!("Host(`{console}`)"),
            ),
            (
                format!("traefik.http.routers.{id}-admin.service"),
                format!("{id}-admin"),
            ),
            (
                format!("traefik.http.services.{id}-admin.loadbalancer.server.port"),
                "7000".into(),
            ),
            (SERVICE.into(), service.to_owned()),
            (INSTANCE.into(), spec.id.to_string()),
            (CLIENT.into(), spec.client.to_string()),
            (VERSION.into(), spec.version.tag().into()),
            (CREATED.into(), unix_seconds(spec.created_at).to_string()),
            (EXPIRES.into(), unix_seconds(spec.expires_at).to_string()),
        ])
    }

    /// The labels that mark the network and volume of `id`.
    pub fn owner(id: &InstanceId, service: &str) -> HashMap<String, String> {
        HashMap::from([
            (INSTANCE.into(), id.to_string()),
            (SERVICE.into(), service.to_owned()),
        ])
    }

    /// The Docker API's filter for everything `service` made.
    pub fn made_by(service: &str) -> HashMap<&'static str, Vec<String>> {
        HashMap::from([(
            "label",
            vec![INSTANCE.to_owned(), format!("{SERVICE}={service}")],
        )])
    }

    /// An instance from its container's labels; `None` when a label is
    /// missing or malformed (not ours, or tampered with).
    pub fn read(labels: &HashMap<String, String>) -> Option<Instance> {
        let time = |key: &str| labels.get(key)?.parse::<u64>().ok().map(from_unix_seconds);
        Some(Instance {
            id: InstanceId::parse(labels.get(INSTANCE)?)?,
            version: Version::parse(labels.get(VERSION)?)?,
            client: labels.get(CLIENT)?.parse().ok()?,
            created_at: time(CREATED)?,
            expires_at: time(EXPIRES)?,
            address: None,
            running: false,
            node: None,
            restarts: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn labels_round_trip() {
        let created = from_unix_seconds(1_700_000_000);
        let spec = Spec {
            id: InstanceId::random(),
            version: Version::V2,
            options: [None, None, None],
            password: SecretString::from("x".to_owned()),
            client: "192.0.2.7".parse().unwrap(),
            created_at: created,
            expires_at: created + std::time::Duration::from_secs(2400),
            domain: "localhost".into(),
            node: None,
        };
        let labels = Labels::of(&spec, "pets-paas");
        assert_eq!(labels[SERVICE], "pets-paas");
        let router = format!("traefik.http.routers.pets-paas-{}.rule", spec.id);
        assert_eq!(labels[&router], format!("Host(`{}.localhost`)", spec.id));
        assert!(!labels.values().any(|v| v == "x"), "no secret in a label");
        let back = Labels::read(&labels).unwrap();
        assert_eq!(back.id, spec.id);
        assert_eq!(back.version, Version::V2);
        assert_eq!(back.client, spec.client);
        assert_eq!(back.created_at, created);
        assert_eq!(back.expires_at, spec.expires_at);
    }

    #[test]
    fn tampered_labels_are_not_an_instance() {
        let mut labels = Labels::owner(&InstanceId::random(), "pets-paas");
        assert!(Labels::read(&labels).is_none(), "missing labels");
        labels.insert(CLIENT.into(), "not an address".into());
        labels.insert(VERSION.into(), "1.0".into());
        labels.insert(CREATED.into(), "1".into());
        labels.insert(EXPIRES.into(), "2".into());
        assert!(Labels::read(&labels).is_none());
        labels.insert(CLIENT.into(), "::1".into());
        assert!(Labels::read(&labels).is_some());
        labels.insert(INSTANCE.into(), "../../etc".into());
        assert!(Labels::read(&labels).is_none());
    }
}
