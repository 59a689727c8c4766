//! Settings from the environment, checked once at start.
//!
//! Anything wrong (a port that is not a number, an `ADMIN_PASSWORD_FILE` that
//! cannot be read) stops `pets` with a message naming the variable, rather
//! than letting it run in a state nobody asked for, such as an open console.

mod faults;
mod store;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use pets_store::ReplicaIdentity;

use self::store::replica_name;
pub use self::store::{driver_store_from_env, StoreSettings};
use crate::serve::Limits;
use crate::telemetry::LogFormat;
use pets_web::{PetOptions, WebSettings};
use secrecy::SecretString;

/// Everything `pets` runs with. `Debug` never shows a secret.
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
    /// `LOG_FORMAT`: `text` (the default) or `json`.
    pub log_format: LogFormat,
    /// `PETS_SHUTDOWN_DELAY`: how long to keep answering after the signal.
    pub shutdown_delay: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

pub(super) fn error(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `var`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let port = |name: &'static str, default: u16| match get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| error(name, format!("`{v}` is not a port number"))),
        };
        let option = |name: &str, default: &str| get(name).unwrap_or_else(|| default.to_owned());
        let hostname = get("HOSTNAME").unwrap_or_else(system_hostname);
        let debug = get("DEBUG").is_some_and(|v| {
            matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
        });
        let version = option("PETS_VERSION", "1.0");
        let web = WebSettings {
            options: PetOptions::new(
                option("OPTION_A", "Cats"),
                option("OPTION_B", "Dogs"),
                option("OPTION_C", "Whales"),
            ),
            faults: faults::at_start(get, &version)?,
            metrics_token: match get("METRICS_TOKEN_FILE") {
                None => None,
                Some(path) => Some(read_secret("METRICS_TOKEN_FILE", "metrics token", &path)?),
            },
            version,
            debug,
            web_root: PathBuf::from(option("PETS_WEB_ROOT", "web")),
            pictures_dir: PathBuf::from(option("PICTURES_DIR", "/pictures")),
            hostname: hostname.clone(),
            trusted_proxies: trusted_proxies(get("PETS_TRUSTED_PROXIES"))?,
            allowed_hosts: get("PETS_ALLOWED_HOSTS")
                .map(|v| {
                    v.split(',')
                        .map(|h| h.trim().to_ascii_lowercase())
                        .filter(|h| !h.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            login_failures_per_minute: match get("PETS_LOGIN_FAILURES_PER_MINUTE") {
                None => 100,
                Some(v) => v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                    error(
                        "PETS_LOGIN_FAILURES_PER_MINUTE",
                        format!("`{v}` is not a positive whole number"),
                    )
                })?,
            },
            expires_at: match get("PETS_EXPIRES_AT") {
                None => None,
                Some(v) => Some(v.parse().map_err(|_| {
                    error(
                        "PETS_EXPIRES_AT",
                        format!("`{v}` is not a time in Unix seconds"),
                    )
                })?),
            },
            expires_at_file: get("PETS_EXPIRES_AT_FILE").map(PathBuf::from),
            chaos: match get("PETS_CHAOS").map(|v| v.to_ascii_lowercase()) {
                None => true,
                Some(v) if matches!(v.as_str(), "on" | "true" | "1" | "yes") => true,
                Some(v) if matches!(v.as_str(), "off" | "false" | "0" | "no") => false,
                Some(v) => return Err(error("PETS_CHAOS", format!("`{v}` is neither on nor off"))),
            },
        };
        let bind = match get("PETS_BIND") {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(v) => v
                .parse()
                .map_err(|_| error("PETS_BIND", format!("`{v}` is not an IP address")))?,
        };
        let admin_password = match var("ADMIN_PASSWORD_FILE") {
            None => None,
            Some(path) => Some(read_secret("ADMIN_PASSWORD_FILE", "admin password", &path)?),
        };
        let session_key = match get("SESSION_KEY_FILE") {
            None => None,
            Some(path) => Some(read_secret("SESSION_KEY_FILE", "session key", &path)?),
        };
        let identity = ReplicaIdentity {
            id: replica_name(&hostname),
            host: hostname.clone(),
            node: get("PETS_NODE"),
            service: get("PETS_SERVICE"),
            slot: get("PETS_TASK_SLOT"),
            task: get("PETS_TASK_NAME"),
            version: web.version.clone(),
            started_at: String::new(),
        };
        let store = store::from_lookup(&get, &identity.id)?;
        let defaults = Limits::default();
        let number = |name: &'static str, default: usize, min: usize| match get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n >= min => Ok(n),
                _ => Err(error(
                    name,
                    format!("`{v}` is not a whole number of at least {min}"),
                )),
            },
        };
        let seconds = |name: &'static str, default: Duration| match get(name) {
            None => Ok(default),
            Some(v) => match v.trim_end_matches('s').parse::<f64>() {
                Ok(s) if s > 0.0 && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
                _ => Err(error(
                    name,
                    format!("`{v}` is not a number of seconds (0 to 3600)"),
                )),
            },
        };
        let limits = Limits {
            header_timeout: seconds("PETS_HEADER_TIMEOUT", defaults.header_timeout)?,
            body_timeout: seconds("PETS_BODY_TIMEOUT", defaults.body_timeout)?,
            max_connections: number("PETS_MAX_CONNECTIONS", defaults.max_connections, 1)?,
            max_header_bytes: number("PETS_MAX_HEADER_BYTES", defaults.max_header_bytes, 4096)?,
            max_headers: number("PETS_MAX_HEADERS", defaults.max_headers, 8)?,
        };
        let shutdown_delay = match get("PETS_SHUTDOWN_DELAY") {
            None => Duration::ZERO,
            Some(v) => match v.trim_end_matches('s').parse::<f64>() {
                Ok(s) if (0.0..=60.0).contains(&s) => Duration::from_secs_f64(s),
                _ => {
                    return Err(error(
                        "PETS_SHUTDOWN_DELAY",
                        format!("`{v}` is not a number of seconds (0 to 60)"),
                    ))
                }
            },
        };
        Ok(Self {
            shutdown_delay,
            bind,
            web_port: port("WEB_PORT", 5000)?,
            admin_port: port("ADMIN_PORT", 7000)?,
            web,
            admin_password,
            session_key,
            store,
            identity,
            limits,
            log_format: match get("LOG_FORMAT") {
                None => LogFormat::Text,
                Some(v) => LogFormat::parse(&v).ok_or_else(|| {
                    error("LOG_FORMAT", format!("`{v}` is neither text nor json"))
                })?,
            },
        })
    }
}

/// The first line of the file, without its line ending. Missing,
/// unreadable, blank or only spaces is an error naming what is wrong: the
/// console must not open by accident, nor with a password nobody meant.
fn read_secret(var: &'static str, what: &str, path: &str) -> Result<SecretString, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| error(var, format!("cannot read the {what} from `{path}`: {e}")))?;
    if text.trim().is_empty() {
        return Err(error(
            var,
            format!("`{path}` is empty; its first line must hold the {what}"),
        ));
    }
    let first = text.lines().next().unwrap_or("");
    if first.trim().is_empty() {
        return Err(error(
            var,
            format!("the first line of `{path}` is blank; the {what} must be on the first line"),
        ));
    }
    Ok(SecretString::from(first))
}

/// `PETS_TRUSTED_PROXIES`: comma-separated addresses or CIDR blocks.
fn trusted_proxies(raw: Option<String>) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    error(
                        "PETS_TRUSTED_PROXIES",
                        format!("`{s}` is not an address or a CIDR block such as 10.0.0.0/8"),
                    )
                })
        })
        .collect()
}

pub(super) fn system_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length, and gethostname writes at
    // most that many bytes.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
        .filter(|h| ok && !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
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
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = settings(&[("WEB_PORT", "http")]).unwrap_err();
        assert_eq!(e.variable, "WEB_PORT");
        let e = settings(&[("ADMIN_PASSWORD_FILE", "/nonexistent/secret")]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/secret"));
        let e = settings(&[("DB", "db"), ("PETS_KV_PREFIX", "../x")]).unwrap_err();
        assert_eq!(e.variable, "PETS_KV_PREFIX");
        let e = settings(&[("DB", "db:notaport")]).unwrap_err();
        assert_eq!(e.variable, "DB");
        assert!(e.to_string().contains("invalid port"), "{e}");
        let e = settings(&[("PETS_EXPIRES_AT", "soon")]).unwrap_err();
        assert_eq!(e.variable, "PETS_EXPIRES_AT");
        let s = settings(&[("PETS_EXPIRES_AT", "1795462546")]).unwrap();
        assert_eq!(s.web.expires_at, Some(1_795_462_546));
    }

    #[test]
    fn the_password_is_the_first_line() {
        let dir = std::env::temp_dir().join(format!("pets-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "hunter2\nignored\n").unwrap();
        let s = settings(&[("ADMIN_PASSWORD_FILE", file.to_str().unwrap())]).unwrap();
        let password = s.admin_password.as_ref().unwrap();
        assert_eq!(password.expose_secret(), "hunter2");
        assert!(!format!("{s:?}").contains("hunter2"), "Debug hides it");
        for (contents, says) in [("\n", "empty"), (" \n", "empty"), ("\nhunter2\n", "blank")] {
            std::fs::write(&file, contents).unwrap();
            let e = settings(&[("ADMIN_PASSWORD_FILE", file.to_str().unwrap())]).unwrap_err();
            assert!(e.to_string().contains(says), "{contents:?}: {e}");
        }
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
        let name = replica_name("web.1/x");
        assert!(name.starts_with("web_1_x-"));
        assert!(name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}
