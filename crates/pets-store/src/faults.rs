//! Faults an operator injects, as the store carries them between replicas.
//!
//! An operator aims a [`FaultCommand`] at the whole fleet or at one replica.
//! The store keeps one [`FaultOrder`] per target: the lasting faults
//! ([`FaultSpec`]: latency, errors, turning unhealthy, memory ballast) merged
//! with every earlier command for that target, plus the one-off actions of
//! the latest command (crash, CPU burn), stamped with when it was issued so
//! a replica acts on each once and a replica started later never does.
//! Every replica follows the fleet's order and its own ([`FaultOrders`]);
//! the web layer applies them.

use serde::{Deserialize, Serialize};

/// The most latency a fault may add: below common proxy timeouts.
pub const MAX_LATENCY_MS: u64 = 30_000;
/// The longest wait before a replica turns unhealthy: a day.
pub const MAX_UNHEALTHY_AFTER_S: u64 = 86_400;
/// The longest CPU burn.
pub const MAX_CPU_SECONDS: u64 = 600;
/// The largest memory ballast.
pub const MAX_MEMORY_MIB: u64 = 4_096;

/// The faults that last until cleared. `None` leaves a fault as it was when
/// commands merge; zero turns it off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_percent: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_after_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
}

impl FaultSpec {
    /// `self` with every fault `over` sets replacing it.
    pub fn overlay(self, over: &FaultSpec) -> FaultSpec {
        FaultSpec {
            latency_ms: over.latency_ms.or(self.latency_ms),
            error_percent: over.error_percent.or(self.error_percent),
            unhealthy_after_s: over.unhealthy_after_s.or(self.unhealthy_after_s),
            memory_mib: over.memory_mib.or(self.memory_mib),
        }
    }

    /// The same faults with the ones turned off (zero) left out.
    pub fn active(self) -> FaultSpec {
        FaultSpec {
            latency_ms: self.latency_ms.filter(|&v| v > 0),
            error_percent: self.error_percent.filter(|&v| v > 0),
            unhealthy_after_s: self.unhealthy_after_s,
            memory_mib: self.memory_mib.filter(|&v| v > 0),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == FaultSpec::default()
    }
}

/// Which replicas a command is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultTarget {
    Fleet,
    Replica(String),
}

/// One operator's request, already checked against the bounds above.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCommand {
    pub spec: FaultSpec,
    pub crash: bool,
    pub cpu_seconds: Option<u64>,
    /// Takes every fault off the target, including those set at start.
    pub clear: bool,
}

/// A command's numbers as someone asked for them, before they are checked:
/// what [`FaultCommand::checked`] turns into a command. Field names are the
/// API's, and appear in what a refusal says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultAsk {
    pub latency_ms: Option<u64>,
    pub error_percent: Option<u64>,
    pub unhealthy_after_s: Option<u64>,
    pub memory_mib: Option<u64>,
    pub cpu_seconds: Option<u64>,
    pub crash: bool,
    pub clear: bool,
}

/// Why a command was refused: which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct FaultRefused {
    /// The field at fault (`latency_ms`, …), or `None` for the whole.
    pub field: Option<&'static str>,
    pub problem: String,
}

impl FaultCommand {
    /// The one place fault commands are checked, whoever asks (the console,
    /// the API, the faults set at start): every number within its bound, at
    /// least one fault or a clear, and a clear alone.
    pub fn checked(ask: FaultAsk) -> Result<Self, FaultRefused> {
        let within = |field: &'static str, value: Option<u64>, max: u64| match value {
            Some(v) if v > max => Err(FaultRefused {
                field: Some(field),
                problem: format!("`{field}` must be at most {max}, not {v}"),
            }),
            _ => Ok(value),
        };
        let command = FaultCommand {
            spec: FaultSpec {
                latency_ms: within("latency_ms", ask.latency_ms, MAX_LATENCY_MS)?,
                error_percent: within("error_percent", ask.error_percent, 100)?.map(|p| p as u8),
                unhealthy_after_s: within(
                    "unhealthy_after_s",
                    ask.unhealthy_after_s,
                    MAX_UNHEALTHY_AFTER_S,
                )?,
                memory_mib: within("memory_mib", ask.memory_mib, MAX_MEMORY_MIB)?,
            },
            crash: ask.crash,
            cpu_seconds: within("cpu_seconds", ask.cpu_seconds, MAX_CPU_SECONDS)?,
            clear: ask.clear,
        };
        let faults = !command.spec.is_empty() || command.crash || command.cpu_seconds.is_some();
        let whole = |problem: &str| FaultRefused {
            field: None,
            problem: problem.into(),
        };
        match (faults, command.clear) {
            (false, false) => Err(whole("Name a fault to set (latency_ms, error_percent, unhealthy_after_s, crash, cpu_seconds, memory_mib) or \"clear\": true.")),
            (true, true) => Err(whole("\"clear\" takes every fault off; send it without other faults.")),
            _ => Ok(command),
        }
    }
}

/// What the store keeps for one target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultOrder {
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// The latest command's one-off actions.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub crash: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<u64>,
    /// The latest command cleared the target.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cleared: bool,
    /// When the latest command was issued, Unix milliseconds.
    pub issued_at_ms: u64,
}

impl FaultOrder {
    /// The order after `command`, given the one before it.
    pub fn next(previous: Option<&FaultOrder>, command: &FaultCommand, now_ms: u64) -> Self {
        let spec = if command.clear {
            FaultSpec::default()
        } else {
            previous
                .map(|p| p.spec)
                .unwrap_or_default()
                .overlay(&command.spec)
        };
        FaultOrder {
            spec,
            crash: command.crash && !command.clear,
            cpu_seconds: command.cpu_seconds.filter(|_| !command.clear),
            cleared: command.clear,
            // Never the same stamp twice, so each command is acted on.
            issued_at_ms: previous.map_or(now_ms, |p| now_ms.max(p.issued_at_ms + 1)),
        }
    }
}

/// The orders one replica follows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultOrders {
    pub fleet: Option<FaultOrder>,
    pub own: Option<FaultOrder>,
}

/// What a replica reports of its faults in its fleet record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveFaults {
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// While a CPU burn runs: when it ends, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_until: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(ms: u64) -> FaultCommand {
        FaultCommand {
            spec: FaultSpec {
                latency_ms: Some(ms),
                ..FaultSpec::default()
            },
            ..FaultCommand::default()
        }
    }

    #[test]
    fn commands_merge_until_cleared() {
        let first = FaultOrder::next(None, &latency(300), 1_000);
        let errors = FaultCommand {
            spec: FaultSpec {
                error_percent: Some(20),
                ..FaultSpec::default()
            },
            crash: true,
            ..FaultCommand::default()
        };
        let second = FaultOrder::next(Some(&first), &errors, 1_000);
        assert_eq!(second.spec.latency_ms, Some(300), "kept");
        assert_eq!(second.spec.error_percent, Some(20), "added");
        assert!(second.crash);
        assert_eq!(
            second.issued_at_ms, 1_001,
            "a later stamp, even in the same ms"
        );
        let third = FaultOrder::next(Some(&second), &latency(0), 2_000);
        assert!(!third.crash, "one-off actions are not carried on");
        assert_eq!(third.spec.active().latency_ms, None, "zero turns it off");
        let clear = FaultCommand {
            clear: true,
            crash: true,
            ..latency(5)
        };
        let cleared = FaultOrder::next(Some(&third), &clear, 3_000);
        assert!(cleared.cleared && cleared.spec.is_empty() && !cleared.crash);
    }

    #[test]
    fn an_own_order_overrides_the_fleets_fault_by_fault() {
        let fleet = FaultSpec {
            latency_ms: Some(100),
            error_percent: Some(5),
            ..FaultSpec::default()
        };
        let own = FaultSpec {
            latency_ms: Some(0),
            ..FaultSpec::default()
        };
        let merged = fleet.overlay(&own).active();
        assert_eq!(merged.latency_ms, None);
        assert_eq!(merged.error_percent, Some(5));
    }

    #[test]
    fn orders_travel_as_flat_json() {
        let order = FaultOrder::next(None, &latency(250), 42);
        let json = serde_json::to_value(&order).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"latency_ms": 250, "issued_at_ms": 42})
        );
        let back: FaultOrder = serde_json::from_value(json).unwrap();
        assert_eq!(back, order);
    }
}
