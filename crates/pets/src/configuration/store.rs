//! Where the store is (`DB`, `CONSUL_HTTP_TOKEN[_FILE]`, `CONSUL_CACERT`,
//! `PETS_KV_PREFIX`), and the name this process writes its keys under. Read
//! by the server's settings and, alone, by `pets load`, which publishes its
//! figures through the same store.

use pets_store::{ConsulSettings, Targets};
use secrecy::SecretString;

use super::{error, system_hostname, ConfigError};

#[derive(Debug, Clone)]
pub enum StoreSettings {
    Memory,
    Consul(ConsulSettings),
}

/// The store settings through `get`, with `replica` as this process's name.
pub fn from_lookup(
    get: &impl Fn(&str) -> Option<String>,
    replica: &str,
) -> Result<StoreSettings, ConfigError> {
    Ok(match get("DB") {
        None => StoreSettings::Memory,
        Some(db) => {
            StoreSettings::Consul(ConsulSettings {
                targets: Targets::parse(&db).map_err(|e| error("DB", e.to_string()))?,
                token: consul_token(get)?,
                ca_cert_pem: match get("CONSUL_CACERT") {
                    None => None,
                    Some(path) => Some(std::fs::read(&path).map_err(|e| {
                        error("CONSUL_CACERT", format!("cannot read `{path}`: {e}"))
                    })?),
                },
                prefix: kv_prefix(get("PETS_KV_PREFIX"))?,
                replica: replica.to_owned(),
            })
        }
    })
}

/// The store a traffic driver publishes to, from the environment; its name
/// is `load-` and the host's.
pub fn driver_store_from_env() -> Result<StoreSettings, ConfigError> {
    let get = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let host = get("HOSTNAME").unwrap_or_else(system_hostname);
    from_lookup(&get, &replica_name(&format!("load-{host}")))
}

fn consul_token(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<SecretString>, ConfigError> {
    if let Some(token) = get("CONSUL_HTTP_TOKEN") {
        return Ok(Some(SecretString::from(token)));
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
            let token = text.trim();
            Ok((!token.is_empty()).then(|| SecretString::from(token)))
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
pub(super) fn replica_name(hostname: &str) -> String {
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
