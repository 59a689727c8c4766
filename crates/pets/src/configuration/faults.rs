//! Faults in force from the start: `PETS_FAULT_LATENCY_MS`,
//! `PETS_FAULT_ERROR_PERCENT`, `PETS_FAULT_UNHEALTHY_AFTER_S` and
//! `PETS_FAULT_MEMORY_MIB`, within the same bounds as the console's (crash
//! and CPU burn are one-off actions, so only the console has them).
//! `PETS_VERSION=broken` means "unhealthy 20 s after start" unless
//! `PETS_FAULT_UNHEALTHY_AFTER_S` says otherwise: the update monitor, not the
//! first health check, is what catches it.

use pets_store::FaultSpec;
use pets_web::faults::FaultRequest;

use super::{error, ConfigError};

/// How long the `broken` version stays healthy.
pub const BROKEN_AFTER_S: u64 = 20;

const VARIABLES: [&str; 4] = [
    "PETS_FAULT_LATENCY_MS",
    "PETS_FAULT_ERROR_PERCENT",
    "PETS_FAULT_UNHEALTHY_AFTER_S",
    "PETS_FAULT_MEMORY_MIB",
];

/// The faults set at start, checked.
pub fn at_start(
    get: impl Fn(&str) -> Option<String>,
    version: &str,
) -> Result<FaultSpec, ConfigError> {
    let mut values = [None; 4];
    for (value, variable) in values.iter_mut().zip(VARIABLES) {
        if let Some(text) = get(variable) {
            *value = Some(
                text.parse::<u64>()
                    .map_err(|_| error(variable, format!("`{text}` is not a whole number")))?,
            );
        }
    }
    let [latency_ms, error_percent, unhealthy_after_s, memory_mib] = values;
    let unhealthy_after_s = unhealthy_after_s.or((version == "broken").then_some(BROKEN_AFTER_S));
    if latency_ms
        .or(error_percent)
        .or(unhealthy_after_s)
        .or(memory_mib)
        .is_none()
    {
        return Ok(FaultSpec::default());
    }
    let request = FaultRequest {
        target: "fleet".into(),
        latency_ms,
        error_percent,
        unhealthy_after_s,
        memory_mib,
        ..FaultRequest::default()
    };
    let (_, command) = request
        .parse()
        .map_err(|problem| error("PETS_FAULT_*", problem))?;
    Ok(command.spec.active())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)], version: &str) -> Result<FaultSpec, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        at_start(
            |name| {
                pairs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            },
            version,
        )
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
