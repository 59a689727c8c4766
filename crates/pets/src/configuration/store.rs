//! Where the store is (`DB`, `CONSUL_HTTP_TOKEN[_FILE]`, `CONSUL_CACERT`,
//! `PETS_KV_PREFIX`), and the name this process writes its keys under. Read
//! by `pets serve` and by `pets load`, which publishes its figures through
//! the same store.

use std::path::PathBuf;

use clap::Args;
use pets_store::{ConsulSettings, Targets};
use secrecy::SecretString;

use super::parse::{self, SecretFile};
use super::ConfigError;

/// The store's section of the command line.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "The store")]
pub struct StoreArgs {
    /// Consul: a name (`db`, `tasks.db`), `host:port`, several
    /// comma-separated, or http(s):// URLs; port 8500 when omitted. Unset:
    /// votes live in this process.
    #[arg(long, env = "DB", value_name = "DB", value_parser = targets)]
    pub db: Option<Targets>,
    /// Where in Consul's KV store pets keeps its keys.
    #[arg(long, env = "PETS_KV_PREFIX", value_name = "PETS_KV_PREFIX",
          default_value = "pets/", value_parser = kv_prefix)]
    pub kv_prefix: String,
    /// Consul's ACL token.
    #[arg(long, env = "CONSUL_HTTP_TOKEN", value_name = "CONSUL_HTTP_TOKEN",
          hide_env_values = true, value_parser = token)]
    pub consul_token: Option<Token>,
    /// A file whose first line is Consul's ACL token (a Swarm secret).
    #[arg(long, env = "CONSUL_HTTP_TOKEN_FILE", value_name = "CONSUL_HTTP_TOKEN_FILE",
          value_parser = parse::secret_file)]
    pub consul_token_file: Option<SecretFile>,
    /// A PEM CA certificate for Consul over https.
    #[arg(long, env = "CONSUL_CACERT", value_name = "CONSUL_CACERT",
          value_parser = parse::path)]
    pub consul_cacert: Option<PathBuf>,
}

/// Which store to use.
#[derive(Debug, Clone)]
pub enum StoreSettings {
    Memory,
    Consul(ConsulSettings),
}

/// A token given on the command line or in the environment.
#[derive(Clone)]
pub struct Token(SecretString);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

fn token(raw: &str) -> Result<Token, String> {
    parse::text(raw).map(|t| Token(SecretString::from(t)))
}

fn targets(raw: &str) -> Result<Targets, String> {
    Targets::parse(raw).map_err(|e| e.to_string())
}

impl StoreArgs {
    /// The store, with `replica` as this process's name in its keys.
    pub fn settings(&self, replica: &str) -> Result<StoreSettings, ConfigError> {
        let Some(targets) = self.db.clone() else {
            return Ok(StoreSettings::Memory);
        };
        let token = match (&self.consul_token, &self.consul_token_file) {
            (Some(Token(token)), _) => Some(token.clone()),
            (None, Some(file)) => Some(file.secret.clone()),
            (None, None) => None,
        };
        let ca_cert_pem = match &self.consul_cacert {
            None => None,
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                ConfigError::new(
                    "CONSUL_CACERT",
                    format!("cannot read `{}`: {e}", path.display()),
                )
            })?),
        };
        Ok(StoreSettings::Consul(ConsulSettings {
            targets,
            token,
            ca_cert_pem,
            prefix: self.kv_prefix.clone(),
            replica: replica.to_owned(),
        }))
    }
}

/// Letters, digits, `-_./`, not absolute, no `..`; ends in `/`.
fn kv_prefix(raw: &str) -> Result<String, String> {
    let prefix = raw.trim();
    let valid = prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
        && !prefix.starts_with('/')
        && !prefix.split('/').any(|p| p == "..");
    if !valid {
        return Err(format!(
            "`{prefix}` may hold only letters, digits, '-', '_', '.' and '/'"
        ));
    }
    Ok(if prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    })
}

/// This process's name in Consul keys: the host name, for people reading the
/// keys, and a random suffix, so that no two processes ever share a counter.
pub fn replica_name(hostname: &str) -> String {
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
    format!("{host}-{:06x}", rand::random::<u32>() & 0xff_ffff)
}
