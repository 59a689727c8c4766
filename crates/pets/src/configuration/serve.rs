//! `pets serve`: the sections it reads, and the ports and limits sections,
//! which only the server has.

use std::net::IpAddr;
use std::time::Duration;

use clap::Args;

use super::faults::FaultArgs;
use super::parse;
use super::security::SecurityArgs;
use super::site::{IdentityArgs, SiteArgs};
use super::store::StoreArgs;
use super::telemetry::TelemetryArgs;
use crate::serve::Limits;

/// Everything `pets serve` reads.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub security: SecurityArgs,
    #[command(flatten)]
    pub faults: FaultArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Where the two sites listen.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Ports")]
pub struct ListenArgs {
    /// The address both ports listen on.
    #[arg(long = "bind", env = "PETS_BIND", value_name = "PETS_BIND",
          default_value = "0.0.0.0", value_parser = parse::address)]
    pub bind: IpAddr,
    /// The voter site's port (0: any free port).
    #[arg(long, env = "WEB_PORT", value_name = "WEB_PORT",
          default_value = "5000", value_parser = parse::port)]
    pub web_port: u16,
    /// The admin console's port (0: any free port).
    #[arg(long, env = "ADMIN_PORT", value_name = "ADMIN_PORT",
          default_value = "7000", value_parser = parse::port)]
    pub admin_port: u16,
}

/// Timeouts and limits on both ports, and the shutdown delay.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Seconds to receive a request's headers, from when the connection
    /// opens or goes idle.
    #[arg(long, env = "PETS_HEADER_TIMEOUT", value_name = "PETS_HEADER_TIMEOUT",
          default_value = "10", value_parser = parse::seconds(3600.0))]
    pub header_timeout: Duration,
    /// Seconds to receive a request's whole body, from its headers.
    #[arg(long, env = "PETS_BODY_TIMEOUT", value_name = "PETS_BODY_TIMEOUT",
          default_value = "10", value_parser = parse::seconds(3600.0))]
    pub body_timeout: Duration,
    /// Bytes a second a request's body must keep up, from 2 s after its
    /// headers (0: no minimum); a body that trickles is cut with 408.
    #[arg(long, env = "PETS_BODY_MIN_RATE", value_name = "PETS_BODY_MIN_RATE",
          default_value = "256", value_parser = parse::bounded(0, 1 << 30))]
    pub body_min_rate: u64,
    /// Connections held open per port (lowered to fit the open-files limit).
    #[arg(long, env = "PETS_MAX_CONNECTIONS", value_name = "PETS_MAX_CONNECTIONS",
          default_value = "1024", value_parser = parse::bounded(1, 1_000_000))]
    pub max_connections: u64,
    /// Bytes of request line and headers together.
    #[arg(long, env = "PETS_MAX_HEADER_BYTES", value_name = "PETS_MAX_HEADER_BYTES",
          default_value = "16384", value_parser = parse::bounded(4096, 1 << 20))]
    pub max_header_bytes: u64,
    /// Headers one request may carry.
    #[arg(long, env = "PETS_MAX_HEADERS", value_name = "PETS_MAX_HEADERS",
          default_value = "64", value_parser = parse::bounded(8, 1024))]
    pub max_headers: u64,
    /// Seconds to keep answering after SIGTERM, one request per connection,
    /// while the orchestrator stops routing here (the stacks set 5).
    #[arg(long, env = "PETS_SHUTDOWN_DELAY", value_name = "PETS_SHUTDOWN_DELAY",
          default_value = "0", value_parser = parse::seconds_or_zero(60.0))]
    pub shutdown_delay: Duration,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            body_min_rate: self.body_min_rate,
            max_connections: self.max_connections as usize,
            max_header_bytes: self.max_header_bytes as usize,
            max_headers: self.max_headers as usize,
        }
    }
}
