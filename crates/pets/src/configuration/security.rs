//! What guards the two sites: the console's password and session key, the
//! metrics token, the host names and proxies pets believes, the chaos
//! switch and the login throttle.

use clap::Args;

use super::parse::{self, Hosts, Networks, SecretFile};

/// The security section of `pets serve`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Security")]
pub struct SecurityArgs {
    /// A file whose first line is the console's password (a Swarm secret,
    /// such as /run/secrets/admin_password). Unset: the console is open.
    /// Missing, unreadable or empty: pets refuses to start.
    #[arg(long, env = "ADMIN_PASSWORD_FILE", value_name = "ADMIN_PASSWORD_FILE",
          value_parser = parse::secret_file)]
    pub admin_password_file: Option<SecretFile>,
    /// A file whose first line signs sessions, if not the password.
    #[arg(long, env = "SESSION_KEY_FILE", value_name = "SESSION_KEY_FILE",
          value_parser = parse::secret_file)]
    pub session_key_file: Option<SecretFile>,
    /// A file whose first line is the bearer token /metrics asks for. Unset:
    /// /metrics is open.
    #[arg(long, env = "METRICS_TOKEN_FILE", value_name = "METRICS_TOKEN_FILE",
          value_parser = parse::secret_file)]
    pub metrics_token_file: Option<SecretFile>,
    /// The host names pets answers to, comma-separated (plus localhost and
    /// IP addresses); others get 421. Unset: any.
    #[arg(long, env = "PETS_ALLOWED_HOSTS", value_name = "PETS_ALLOWED_HOSTS",
          value_parser = parse::hosts)]
    pub allowed_hosts: Option<Hosts>,
    /// Addresses or CIDR blocks whose X-Forwarded-For, Forwarded and
    /// X-Forwarded-Proto are believed. Unset: none.
    #[arg(long, env = "PETS_TRUSTED_PROXIES", value_name = "PETS_TRUSTED_PROXIES",
          value_parser = parse::networks)]
    pub trusted_proxies: Option<Networks>,
    /// `off` turns /kill, PUT /health and injected faults off (403).
    #[arg(long, env = "PETS_CHAOS", value_name = "PETS_CHAOS", default_value = "on",
          action = clap::ArgAction::Set, value_parser = parse::switch)]
    pub chaos: bool,
    /// Failed admin logins the whole service takes in a minute before it
    /// refuses logins until the next.
    #[arg(long, env = "PETS_LOGIN_FAILURES_PER_MINUTE",
          value_name = "PETS_LOGIN_FAILURES_PER_MINUTE", default_value = "100",
          value_parser = parse::bounded(1, 1_000_000))]
    pub login_failures_per_minute: u64,
    /// New voters one client address may bring per minute (a minute's
    /// worth at once, then evenly); more get 429. Bounds how fast one
    /// address can grow the store. 0: no limit (benchmarks).
    #[arg(long, env = "PETS_NEW_VOTERS_PER_MINUTE",
          value_name = "PETS_NEW_VOTERS_PER_MINUTE", default_value = "600",
          value_parser = parse::bounded(0, 1_000_000))]
    pub new_voters_per_minute: u64,
}
