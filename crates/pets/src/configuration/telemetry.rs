//! How pets logs: the format and the filter, for `pets serve` and
//! `pets paas` alike.

use clap::Args;

use crate::telemetry::{LogFormat, LogSettings};

/// The logs section.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Logs")]
pub struct TelemetryArgs {
    /// `text`, or `json`: one JSON object a line, for log shippers.
    #[arg(long, env = "LOG_FORMAT", value_name = "LOG_FORMAT", default_value = "text",
          value_parser = log_format)]
    pub log_format: LogFormat,
    /// What to log, as a tracing filter (`info`, `warn`, `pets=debug`).
    /// Default: info, or debug with DEBUG on.
    #[arg(long = "log", env = "RUST_LOG", value_name = "RUST_LOG", value_parser = filter)]
    pub rust_log: Option<String>,
}

impl TelemetryArgs {
    /// The logger's settings; `debug` lowers the default level.
    pub fn settings(&self, debug: bool) -> LogSettings {
        let default = if debug {
            "debug,hyper=info,reqwest=info"
        } else {
            "info"
        };
        LogSettings {
            format: self.log_format,
            filter: self.rust_log.clone().unwrap_or_else(|| default.to_owned()),
        }
    }
}

fn log_format(raw: &str) -> Result<LogFormat, String> {
    LogFormat::parse(raw.trim()).ok_or_else(|| format!("`{}` is neither text nor json", raw.trim()))
}

fn filter(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    tracing_subscriber::EnvFilter::try_new(raw)
        .map(|_| raw.to_owned())
        .map_err(|e| format!("`{raw}` is not a log filter: {e}"))
}
