//! Settings from the environment, checked once at start.
//!
//! Anything wrong (a port that is not a number, an `ADMIN_PASSWORD_FILE` that
//! cannot be read) stops `pets` with a message naming the variable, rather
//! than letting it run in a state nobody asked for, such as an open console.

use std::net::IpAddr;
use std::path::PathBuf;

use pets_store::ConsulSettings;
use pets_web::{PetOptions, WebSettings};

#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: IpAddr,
    pub web_port: u16,
    pub admin_port: u16,
    pub web: WebSettings,
    /// The admin password, if `ADMIN_PASSWORD_FILE` is set.
    pub admin_password: Option<String>,
    pub store: StoreSettings,
}

#[derive(Debug, Clone)]
pub enum StoreSettings {
    Memory,
    Consul(ConsulSettings),
}

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn error(variable: &'static str, problem: impl Into<String>) -> ConfigError {
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
        let web = WebSettings {
            options: PetOptions::new(
                option("OPTION_A", "Cats"),
                option("OPTION_B", "Dogs"),
                option("OPTION_C", "Whales"),
            ),
            version: option("PETS_VERSION", "1.0"),
            debug,
            web_root: PathBuf::from(option("PETS_WEB_ROOT", "web")),
            pictures_dir: PathBuf::from(option("PICTURES_DIR", "/pictures")),
            hostname: hostname.clone(),
        };
        let bind = match get("PETS_BIND") {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(v) => v
                .parse()
                .map_err(|_| error("PETS_BIND", format!("`{v}` is not an IP address")))?,
        };
        let admin_password = match var("ADMIN_PASSWORD_FILE") {
            None => None,
            Some(path) => Some(read_password(&path)?),
        };
        let store = match get("DB") {
            None => StoreSettings::Memory,
            Some(db) => StoreSettings::Consul(ConsulSettings {
                db,
                token: consul_token(&get)?,
                ca_cert_pem: match get("CONSUL_CACERT") {
                    None => None,
                    Some(path) => Some(std::fs::read(&path).map_err(|e| {
                        error("CONSUL_CACERT", format!("cannot read `{path}`: {e}"))
                    })?),
                },
                prefix: kv_prefix(get("PETS_KV_PREFIX"))?,
                replica: replica_name(&hostname),
            }),
        };
        Ok(Self {
            bind,
            web_port: port("WEB_PORT", 5000)?,
            admin_port: port("ADMIN_PORT", 7000)?,
            web,
            admin_password,
            store,
        })
    }
}

/// The first line of the file, without its line ending. Missing, unreadable
/// or empty is an error: the console must not open by accident.
fn read_password(path: &str) -> Result<String, ConfigError> {
    const VAR: &str = "ADMIN_PASSWORD_FILE";
    let text = std::fs::read_to_string(path).map_err(|e| {
        error(
            VAR,
            format!("cannot read the admin password from `{path}`: {e}"),
        )
    })?;
    let first = text.lines().next().unwrap_or("");
    if first.is_empty() {
        return Err(error(
            VAR,
            format!("`{path}` is empty; its first line must hold the admin password"),
        ));
    }
    Ok(first.to_owned())
}

fn consul_token(get: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    if let Some(token) = get("CONSUL_HTTP_TOKEN") {
        return Ok(Some(token));
    }
    match get("CONSUL_HTTP_TOKEN_FILE") {
        None => Ok(None),
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                error(
                    "CONSUL_HTTP_TOKEN_FILE",
                    format!("cannot read `{path}`: {e}"),
                )
            })?;
            Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty()))
        }
    }
}

fn kv_prefix(raw: Option<String>) -> Result<String, ConfigError> {
    let prefix = raw.unwrap_or_else(|| "pets/".into());
    let valid = prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
        && !prefix.starts_with('/')
        && !prefix.split('/').any(|p| p == "..");
    if !valid {
        return Err(error(
            "PETS_KV_PREFIX",
            format!("`{prefix}` may hold only letters, digits, '-', '_', '.' and '/'"),
        ));
    }
    Ok(if prefix.ends_with('/') {
        prefix
    } else {
        format!("{prefix}/")
    })
}

/// This process's name in Consul keys: the host name, for people reading the
/// keys, and a random suffix, so that no two processes ever share a counter.
fn replica_name(hostname: &str) -> String {
    let host: String = hostname
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    format!("{host}-{:06x}", rand_suffix())
}

fn rand_suffix() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos ^ std::process::id().rotate_left(16)) & 0xff_ffff
}

fn system_hostname() -> String {
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
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = settings(&[("WEB_PORT", "http")]).unwrap_err();
        assert_eq!(e.variable, "WEB_PORT");
        let e = settings(&[("ADMIN_PASSWORD_FILE", "/nonexistent/secret")]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/secret"));
        let e = settings(&[("DB", "db"), ("PETS_KV_PREFIX", "../x")]).unwrap_err();
        assert_eq!(e.variable, "PETS_KV_PREFIX");
    }

    #[test]
    fn the_password_is_the_first_line() {
        let dir = std::env::temp_dir().join(format!("pets-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "hunter2\nignored\n").unwrap();
        let s = settings(&[("ADMIN_PASSWORD_FILE", file.to_str().unwrap())]).unwrap();
        assert_eq!(s.admin_password.as_deref(), Some("hunter2"));
        std::fs::write(&file, "\n").unwrap();
        assert!(settings(&[("ADMIN_PASSWORD_FILE", file.to_str().unwrap())]).is_err());
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
