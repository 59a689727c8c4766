//! `pets consul-acl`: the cluster it sets up (the store's section, whose
//! token must be Consul's management token) and the secret of each role's
//! token (web, load, and the servers' agent), chosen by the operator and
//! kept as Swarm secrets.

use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::parse::{self, SecretFile};
use super::store::{StoreArgs, StoreSettings};
use super::ConfigError;

/// Everything `pets consul-acl` reads.
#[derive(Debug, Clone, Args)]
pub struct ConsulAclArgs {
    /// A file holding the secret (a UUID) of the token `pets serve` will
    /// use: created in Consul with the web role's policy if it is new.
    #[arg(long, env = "PETS_CONSUL_WEB_TOKEN_FILE", value_name = "PETS_CONSUL_WEB_TOKEN_FILE",
          value_parser = uuid_file)]
    pub web_token_file: Option<SecretFile>,
    /// A file holding the secret (a UUID) of the token `pets load` will use.
    #[arg(long, env = "PETS_CONSUL_LOAD_TOKEN_FILE", value_name = "PETS_CONSUL_LOAD_TOKEN_FILE",
          value_parser = uuid_file)]
    pub load_token_file: Option<SecretFile>,
    /// A file holding the secret (a UUID) of the token Consul's servers use
    /// as their agent token (`acl.tokens.agent`): node writes only.
    #[arg(long, env = "PETS_CONSUL_AGENT_TOKEN_FILE", value_name = "PETS_CONSUL_AGENT_TOKEN_FILE",
          value_parser = uuid_file)]
    pub agent_token_file: Option<SecretFile>,
    /// How long to keep trying while Consul has no leader or its ACLs are
    /// not ready (a cluster deployed at the same moment).
    #[arg(long, env = "PETS_CONSUL_ACL_WAIT", value_name = "PETS_CONSUL_ACL_WAIT",
          default_value = "180s", value_parser = pets_load::options::duration)]
    pub wait: Duration,
    #[command(flatten)]
    pub store: StoreArgs,
}

impl ConsulAclArgs {
    /// The cluster, with its token: `DB` and the management token are both
    /// required.
    pub fn cluster(&self) -> Result<pets_store::ConsulSettings, ConfigError> {
        match self.store.settings("consul-acl")? {
            StoreSettings::Consul(settings) if settings.token.is_some() => Ok(settings),
            StoreSettings::Consul(_) => Err(ConfigError::new(
                "CONSUL_HTTP_TOKEN_FILE",
                "names no file: the management token is needed to make the roles' tokens",
            )),
            StoreSettings::Memory => Err(ConfigError::new(
                "DB",
                "is not set: say where Consul is (tasks.db, consul:8500, ...)",
            )),
        }
    }
}

/// A secret file whose first line is a UUID, as Consul's token secrets are.
fn uuid_file(raw: &str) -> Result<SecretFile, String> {
    let file = parse::secret_file(raw)?;
    let secret = file.secret.expose_secret().trim();
    let shape = [8, 4, 4, 4, 12];
    let parts: Vec<&str> = secret.split('-').collect();
    let is_uuid = parts.len() == shape.len()
        && parts
            .iter()
            .zip(shape)
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if !is_uuid {
        return Err(format!(
            "`{}` does not hold a UUID (make one with uuidgen or `cat /proc/sys/kernel/random/uuid`)",
            file.path.display()
        ));
    }
    Ok(SecretFile {
        secret: SecretString::from(secret.to_ascii_lowercase()),
        path: file.path,
    })
}
