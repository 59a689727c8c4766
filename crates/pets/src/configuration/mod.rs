//! Settings from the command line and the environment, checked once at
//! start.
//!
//! [`cli`] is the command line: every setting is a flag and a variable, in a
//! section per concern ([`serve`]'s ports and limits, [`site`], [`store`],
//! [`security`], [`faults`], [`telemetry`], [`paas`], [`load`]), each
//! value read by one of the typed parsers in [`parse`]. Anything wrong (a
//! port that is not a number, an `ADMIN_PASSWORD_FILE` that cannot be read)
//! stops `pets` with a message naming the variable, rather than letting it
//! run in a state nobody asked for, such as an open console.

pub mod cli;
pub mod consul_acl;
pub mod faults;
pub mod healthcheck;
pub mod load;
pub mod paas;
pub mod parse;
pub mod security;
pub mod serve;
pub mod site;
pub mod store;
pub mod telemetry;

use std::net::IpAddr;
use std::time::Duration;

use pets_store::ReplicaIdentity;
use pets_web::{PetOptions, WebSettings};
use secrecy::SecretString;

pub use self::cli::{parse_or_exit, Cli, Command};
pub use self::serve::ServeArgs;
pub use self::store::StoreSettings;
use crate::serve::Limits;
use crate::telemetry::LogSettings;

/// Everything `pets serve` runs with. `Debug` never shows a secret.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: IpAddr,
    pub web_port: u16,
    pub admin_port: u16,
    pub web: WebSettings,
    /// The admin password, if `ADMIN_PASSWORD_FILE` is set.
    pub admin_password: Option<SecretString>,
    /// `SESSION_KEY_FILE`: what sessions are signed with, if not the password.
    pub session_key: Option<SecretString>,
    pub store: StoreSettings,
    /// Who this replica is in the fleet (`started_at` is set at start).
    pub identity: ReplicaIdentity,
    /// Timeouts and limits on both ports.
    pub limits: Limits,
    /// `LOG_FORMAT` and `RUST_LOG`.
    pub logs: LogSettings,
    /// `PETS_SHUTDOWN_DELAY`: how long to keep answering after the signal.
    pub shutdown_delay: Duration,
}

/// A setting that cannot work, and the variable (or flag) it came from.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: &str, problem: impl Into<String>) -> Self {
        Self {
            variable: variable.to_owned(),
            problem: problem.into(),
        }
    }
}

impl Settings {
    /// Reads settings through `var`, as if it were the environment, so tests
    /// need not touch the process's own.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_args(cli::from_vars::<ServeArgs>(var)?)
    }

    /// The settings a parsed command line gives.
    pub fn from_args(args: ServeArgs) -> Result<Self, ConfigError> {
        let hostname = args.identity.hostname();
        let replica = store::replica_name(&hostname);
        let site = &args.site;
        let security = &args.security;
        let web = WebSettings {
            options: PetOptions::new(
                site.option_a.clone(),
                site.option_b.clone(),
                site.option_c.clone(),
            ),
            faults: args.faults.spec(&site.pets_version)?,
            metrics_token: secret(&security.metrics_token_file),
            version: site.pets_version.clone(),
            debug: site.debug,
            web_root: site.web_root.clone(),
            pictures_dir: site.pictures_dir.clone(),
            hostname: hostname.clone(),
            replica: replica.clone(),
            trusted_proxies: security
                .trusted_proxies
                .clone()
                .map(|n| n.0)
                .unwrap_or_default(),
            allowed_hosts: security
                .allowed_hosts
                .clone()
                .map(|h| h.0)
                .unwrap_or_default(),
            public_url: site.public_url.clone(),
            web_port: args.listen.web_port,
            login_failures_per_minute: security.login_failures_per_minute,
            new_voters_per_minute: security.new_voters_per_minute,
            expires_at: site.expires_at,
            expires_at_file: site.expires_at_file.clone(),
            chaos: security.chaos,
        };
        let identity = ReplicaIdentity {
            id: replica,
            host: hostname,
            node: args.identity.node.clone(),
            service: args.identity.service.clone(),
            slot: args.identity.task_slot.clone(),
            task: args.identity.task_name.clone(),
            version: web.version.clone(),
            started_at: String::new(),
        };
        Ok(Self {
            bind: args.listen.bind,
            web_port: args.listen.web_port,
            admin_port: args.listen.admin_port,
            admin_password: secret(&security.admin_password_file),
            session_key: secret(&security.session_key_file),
            store: args.store.settings(&identity.id)?,
            identity,
            limits: args.limits.limits(),
            logs: args.telemetry.settings(site.debug),
            shutdown_delay: args.limits.shutdown_delay,
            web,
        })
    }
}

fn secret(file: &Option<parse::SecretFile>) -> Option<SecretString> {
    file.as_ref().map(|f| f.secret.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_need_no_configuration() {
        let s = settings(&[]).unwrap();
        assert_eq!((s.web_port, s.admin_port), (5000, 7000));
        assert!(matches!(s.store, StoreSettings::Memory));
        assert!(s.admin_password.is_none());
        assert_eq!(s.web.version, "1.0");
        assert_eq!(s.limits, Limits::default());
        assert!(s.web.chaos);
        assert_eq!(s.logs, LogSettings::default());
    }

    #[test]
    fn proxies_and_hosts_are_read() {
        let s = settings(&[
            ("PETS_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
            ("PETS_ALLOWED_HOSTS", "Pets.Example.com,admin.example.com"),
        ])
        .unwrap();
        assert_eq!(s.web.trusted_proxies.len(), 2);
        assert_eq!(
            s.web.allowed_hosts,
            ["pets.example.com", "admin.example.com"]
        );
        let s = settings(&[("PETS_PUBLIC_URL", "https://pets.example.com")]).unwrap();
        assert_eq!(
            s.web.public_url.map(|u| u.as_str().to_owned()).as_deref(),
            Some("https://pets.example.com/")
        );
        let e = settings(&[("PETS_TRUSTED_PROXIES", "everyone")]).unwrap_err();
        assert_eq!(e.variable, "PETS_TRUSTED_PROXIES");
    }

    #[test]
    fn limits_are_read_and_checked() {
        let s = settings(&[
            ("PETS_HEADER_TIMEOUT", "2.5s"),
            ("PETS_MAX_CONNECTIONS", "50"),
        ])
        .unwrap();
        assert_eq!(s.limits.header_timeout, Duration::from_millis(2500));
        assert_eq!(s.limits.max_connections, 50);
        let e = settings(&[("PETS_MAX_HEADER_BYTES", "10")]).unwrap_err();
        assert_eq!(e.variable, "PETS_MAX_HEADER_BYTES");
        let e = settings(&[("PETS_BODY_TIMEOUT", "-1")]).unwrap_err();
        assert_eq!(e.variable, "PETS_BODY_TIMEOUT");
        let e = settings(&[("PETS_SHUTDOWN_DELAY", "61")]).unwrap_err();
        assert_eq!(e.variable, "PETS_SHUTDOWN_DELAY");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (variable, value, says) in [
            ("WEB_PORT", "http", "not a port"),
            ("WEB_PORT", "70000", "not a port"),
            (
                "ADMIN_PASSWORD_FILE",
                "/nonexistent/secret",
                "/nonexistent/secret",
            ),
            ("LOG_FORMAT", "xml", "neither text nor json"),
            ("RUST_LOG", "info,[", "not a log filter"),
            ("PETS_CHAOS", "maybe", "neither on nor off"),
            ("PETS_EXPIRES_AT", "soon", "whole number"),
            ("PETS_PUBLIC_URL", "pets.example.com", "http://"),
        ] {
            let e = settings(&[(variable, value)]).unwrap_err();
            assert_eq!(e.variable, variable, "{value}");
            assert!(e.problem.contains(says), "{variable}={value}: {e}");
        }
        let e = settings(&[("DB", "db"), ("PETS_KV_PREFIX", "../x")]).unwrap_err();
        assert_eq!(e.variable, "PETS_KV_PREFIX");
        let e = settings(&[("DB", "db:notaport")]).unwrap_err();
        assert_eq!(e.variable, "DB");
        assert!(e.to_string().contains("invalid port"), "{e}");
        let s = settings(&[("PETS_EXPIRES_AT", "1795462546")]).unwrap();
        assert_eq!(s.web.expires_at, Some(1_795_462_546));
    }

    #[test]
    fn secrets_come_from_their_files() {
        let dir = std::env::temp_dir().join(format!("pets-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "hunter2\nignored\n").unwrap();
        let path = file.to_str().unwrap();
        let s = settings(&[
            ("ADMIN_PASSWORD_FILE", path),
            ("DB", "db"),
            ("CONSUL_HTTP_TOKEN_FILE", path),
        ])
        .unwrap();
        let password = s.admin_password.as_ref().unwrap();
        assert_eq!(password.expose_secret(), "hunter2");
        let StoreSettings::Consul(consul) = &s.store else {
            panic!("consul")
        };
        assert_eq!(consul.token.as_ref().unwrap().expose_secret(), "hunter2");
        assert!(!format!("{s:?}").contains("hunter2"), "Debug hides it");
        std::fs::write(&file, "\nhunter2\n").unwrap();
        let e = settings(&[("ADMIN_PASSWORD_FILE", path)]).unwrap_err();
        assert!(e.to_string().contains("blank"), "{e}");
    }

    #[test]
    fn the_swarm_identity_is_read() {
        let s = settings(&[
            ("HOSTNAME", "abc123"),
            ("PETS_NODE", "node-2"),
            ("PETS_TASK_SLOT", "3"),
            ("PETS_TASK_NAME", "pets_web.3.xyz"),
            ("PETS_VERSION", "2.0"),
        ])
        .unwrap();
        assert!(s.identity.id.starts_with("abc123-"));
        assert_eq!(s.identity.node.as_deref(), Some("node-2"));
        assert_eq!(s.identity.slot.as_deref(), Some("3"));
        assert_eq!(s.identity.version, "2.0");
        assert!(s.identity.service.is_none());
    }

    #[test]
    fn replicas_get_distinct_key_safe_names() {
        let name = store::replica_name("web.1/x");
        assert!(name.starts_with("web_1_x-"));
        assert!(name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(store::replica_name("a"), store::replica_name("a"));
    }
}
