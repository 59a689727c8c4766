//! A fault command as an operator sends it, JSON from `POST /api/faults` or
//! the console's form, parsed once into a target and a checked
//! [`FaultCommand`]: every number within its bound, at least one fault or a
//! clear, and a clear alone.

use pets_store::faults::FaultAsk;
use pets_store::{FaultCommand, FaultTarget};
use serde::{Deserialize, Serialize};

/// The longest replica id accepted: host names are at most 64 characters,
/// plus the random suffix.
const MAX_TARGET_LEN: usize = 128;

/// `POST /api/faults`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    pub target: String,
    pub latency_ms: Option<u64>,
    pub error_percent: Option<u64>,
    pub unhealthy_after_s: Option<u64>,
    #[serde(default)]
    pub crash: bool,
    pub cpu_seconds: Option<u64>,
    pub memory_mib: Option<u64>,
    #[serde(default)]
    pub clear: bool,
}

impl FaultRequest {
    /// The target and command, or what is wrong with them (the command
    /// checked by [`FaultCommand::checked`]).
    pub fn parse(&self) -> Result<(FaultTarget, FaultCommand), String> {
        let target = parse_target(&self.target)?;
        let command = FaultCommand::checked(FaultAsk {
            latency_ms: self.latency_ms,
            error_percent: self.error_percent,
            unhealthy_after_s: self.unhealthy_after_s,
            memory_mib: self.memory_mib,
            cpu_seconds: self.cpu_seconds,
            crash: self.crash,
            clear: self.clear,
        })
        .map_err(|refused| refused.problem)?;
        Ok((target, command))
    }
}

fn parse_target(target: &str) -> Result<FaultTarget, String> {
    if target == "fleet" {
        return Ok(FaultTarget::Fleet);
    }
    let valid = !target.is_empty()
        && target.len() <= MAX_TARGET_LEN
        && target
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(FaultTarget::Replica(target.to_owned()))
    } else {
        Err("`target` must be \"fleet\" or a replica id from /api/fleet.".into())
    }
}

/// The console's form: every field text, empty when left blank, and the
/// button pressed (`set`, `crash` or `clear`).
#[derive(Debug, Deserialize)]
pub struct FaultForm {
    pub target: String,
    #[serde(default)]
    pub latency_ms: String,
    #[serde(default)]
    pub error_percent: String,
    #[serde(default)]
    pub unhealthy_after_s: String,
    #[serde(default)]
    pub cpu_seconds: String,
    #[serde(default)]
    pub memory_mib: String,
    pub action: String,
}

impl FaultForm {
    /// The same request as the JSON API would take.
    pub fn request(&self) -> Result<FaultRequest, String> {
        let number = |name: &str, text: &str| -> Result<Option<u64>, String> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            text.parse()
                .map(Some)
                .map_err(|_| format!("{name} must be a whole number, not {text:?}"))
        };
        let mut request = FaultRequest {
            target: self.target.clone(),
            ..FaultRequest::default()
        };
        match self.action.as_str() {
            "clear" => request.clear = true,
            "crash" => request.crash = true,
            "set" => {
                request.latency_ms = number("Latency", &self.latency_ms)?;
                request.error_percent = number("Errors", &self.error_percent)?;
                request.unhealthy_after_s = number("Unhealthy after", &self.unhealthy_after_s)?;
                request.cpu_seconds = number("CPU burn", &self.cpu_seconds)?;
                request.memory_mib = number("Memory", &self.memory_mib)?;
            }
            other => return Err(format!("unknown action {other:?}")),
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> Result<(FaultTarget, FaultCommand), String> {
        serde_json::from_value::<FaultRequest>(json)
            .map_err(|e| e.to_string())?
            .parse()
    }

    #[test]
    fn a_request_names_a_target_and_faults_within_bounds() {
        let (target, command) =
            request(serde_json::json!({"target": "fleet", "latency_ms": 250})).unwrap();
        assert_eq!(target, FaultTarget::Fleet);
        assert_eq!(command.spec.latency_ms, Some(250));
        let (target, command) =
            request(serde_json::json!({"target": "web-1.abc_2", "crash": true})).unwrap();
        assert_eq!(target, FaultTarget::Replica("web-1.abc_2".into()));
        assert!(command.crash);
        assert!(
            request(serde_json::json!({"target": "fleet", "clear": true}))
                .unwrap()
                .1
                .clear
        );
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let cases = [
            (serde_json::json!({"target": "fleet"}), "Name a fault"),
            (
                serde_json::json!({"target": "fleet", "error_percent": 101}),
                "at most 100",
            ),
            (
                serde_json::json!({"target": "fleet", "memory_mib": 1_000_000}),
                "at most 4096",
            ),
            (
                serde_json::json!({"target": "fleet", "clear": true, "crash": true}),
                "without other faults",
            ),
            (
                serde_json::json!({"target": "../x", "crash": true}),
                "replica id",
            ),
            (
                serde_json::json!({"target": "", "crash": true}),
                "replica id",
            ),
            (
                serde_json::json!({"target": "fleet", "latency": 5}),
                "unknown field",
            ),
            (
                serde_json::json!({"target": "fleet", "latency_ms": -5}),
                "invalid value",
            ),
        ];
        for (json, expected) in cases {
            let error = request(json.clone()).unwrap_err();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn the_form_becomes_the_same_request() {
        let form = FaultForm {
            target: "fleet".into(),
            latency_ms: " 300 ".into(),
            error_percent: String::new(),
            unhealthy_after_s: String::new(),
            cpu_seconds: String::new(),
            memory_mib: String::new(),
            action: "set".into(),
        };
        let (_, command) = form.request().unwrap().parse().unwrap();
        assert_eq!(command.spec.latency_ms, Some(300));
        assert_eq!(command.spec.error_percent, None);
        let bad = FaultForm {
            latency_ms: "soon".into(),
            ..form
        };
        assert!(bad.request().unwrap_err().contains("whole number"));
    }
}
