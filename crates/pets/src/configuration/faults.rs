//! Faults in force from the start: `PETS_FAULT_LATENCY_MS`,
//! `PETS_FAULT_ERROR_PERCENT`, `PETS_FAULT_UNHEALTHY_AFTER_S` and
//! `PETS_FAULT_MEMORY_MIB`, within the same bounds as the console's (crash
//! and CPU burn are one-off actions, so only the console has them).
//! `PETS_VERSION=broken` means "unhealthy 20 s after start" unless
//! `PETS_FAULT_UNHEALTHY_AFTER_S` says otherwise: the update monitor, not the
//! first health check, is what catches it.

use clap::Args;
use pets_store::faults::FaultAsk;
use pets_store::{FaultCommand, FaultSpec};

use super::{parse, ConfigError};

/// How long the `broken` version stays healthy.
pub const BROKEN_AFTER_S: u64 = 20;

/// The faults section of `pets serve`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Faults at start (the console sets the same)")]
pub struct FaultArgs {
    /// Milliseconds added to every voter-site response but /health.
    #[arg(long, env = "PETS_FAULT_LATENCY_MS", value_name = "PETS_FAULT_LATENCY_MS",
          value_parser = parse::whole)]
    pub fault_latency_ms: Option<u64>,
    /// The share of voter-site requests answered with a 500 page.
    #[arg(long, env = "PETS_FAULT_ERROR_PERCENT", value_name = "PETS_FAULT_ERROR_PERCENT",
          value_parser = parse::whole)]
    pub fault_error_percent: Option<u64>,
    /// /health fails this many seconds after start (PETS_VERSION=broken: 20).
    #[arg(long, env = "PETS_FAULT_UNHEALTHY_AFTER_S",
          value_name = "PETS_FAULT_UNHEALTHY_AFTER_S",
          value_parser = parse::whole)]
    pub fault_unhealthy_after_s: Option<u64>,
    /// MiB of memory held, every page written.
    #[arg(long, env = "PETS_FAULT_MEMORY_MIB", value_name = "PETS_FAULT_MEMORY_MIB",
          value_parser = parse::whole)]
    pub fault_memory_mib: Option<u64>,
}

impl FaultArgs {
    /// The faults in force at start for this version, checked as the
    /// console's are ([`FaultCommand::checked`]).
    pub fn spec(&self, version: &str) -> Result<FaultSpec, ConfigError> {
        let unhealthy_after_s = self
            .fault_unhealthy_after_s
            .or((version == "broken").then_some(BROKEN_AFTER_S));
        let ask = FaultAsk {
            latency_ms: self.fault_latency_ms,
            error_percent: self.fault_error_percent,
            unhealthy_after_s,
            memory_mib: self.fault_memory_mib,
            ..FaultAsk::default()
        };
        if ask == FaultAsk::default() {
            return Ok(FaultSpec::default());
        }
        FaultCommand::checked(ask)
            .map(|command| command.spec.active())
            .map_err(|refused| {
                let variable = match refused.field {
                    Some("latency_ms") => "PETS_FAULT_LATENCY_MS",
                    Some("error_percent") => "PETS_FAULT_ERROR_PERCENT",
                    Some("unhealthy_after_s") => "PETS_FAULT_UNHEALTHY_AFTER_S",
                    Some("memory_mib") => "PETS_FAULT_MEMORY_MIB",
                    _ => "PETS_FAULT_*",
                };
                ConfigError::new(variable, refused.problem)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::cli::from_vars;
    use crate::configuration::ConfigError;

    fn from(pairs: &[(&str, &str)], version: &str) -> Result<FaultSpec, ConfigError> {
        let args: FaultArgs = from_vars(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })?;
        args.spec(version)
    }

    #[test]
    fn faults_at_start_are_read_and_checked() {
        assert!(from(&[], "1.0").unwrap().is_empty());
        let spec = from(
            &[
                ("PETS_FAULT_LATENCY_MS", "250"),
                ("PETS_FAULT_ERROR_PERCENT", "10"),
            ],
            "1.0",
        )
        .unwrap();
        assert_eq!((spec.latency_ms, spec.error_percent), (Some(250), Some(10)));
        let wrong = from(&[("PETS_FAULT_ERROR_PERCENT", "150")], "1.0").unwrap_err();
        assert_eq!(wrong.variable, "PETS_FAULT_ERROR_PERCENT");
        assert!(wrong.problem.contains("at most 100"), "{wrong}");
        let wrong = from(&[("PETS_FAULT_MEMORY_MIB", "lots")], "1.0").unwrap_err();
        assert_eq!(wrong.variable, "PETS_FAULT_MEMORY_MIB");
    }

    #[test]
    fn broken_turns_unhealthy_after_twenty_seconds_unless_told_otherwise() {
        assert_eq!(from(&[], "broken").unwrap().unhealthy_after_s, Some(20));
        let spec = from(&[("PETS_FAULT_UNHEALTHY_AFTER_S", "0")], "broken").unwrap();
        assert_eq!(spec.unhealthy_after_s, Some(0));
    }
}
