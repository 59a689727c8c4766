//! `pets healthcheck`: which port to ask.

use clap::Args;

use super::parse;

/// Everything `pets healthcheck` reads.
#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// The voter site's port on this container, asked at 127.0.0.1.
    #[arg(long, env = "WEB_PORT", value_name = "WEB_PORT", default_value = "5000",
          value_parser = parse::port)]
    pub web_port: u16,
}
