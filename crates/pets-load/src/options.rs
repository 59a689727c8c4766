//! What `pets load` runs with, as [`LoadOptions`]; the `pets` binary reads
//! them from its command line (`pets load --help`), through the parsers
//! here for the values only the driver knows: a target and a duration.

use std::time::Duration;

/// What to drive, how hard and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// Base URLs (`http://host:port`); a host may be a name for many addresses.
    pub targets: Vec<Target>,
    /// Requests a second.
    pub rate: u32,
    /// Synthetic visitors, each with its own cookies.
    pub voters: usize,
    /// How long to run; `None` runs until Ctrl-C or SIGTERM.
    pub duration: Option<Duration>,
    /// The share of a voter's requests that are votes once they have voted.
    pub vote_share: f64,
    /// One JSON object a line instead of the live line and table.
    pub json: bool,
}

/// A target as given: its host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

/// The most requests a second one driver sends.
pub const MAX_RATE: u32 = 20_000;

impl LoadOptions {
    /// The targets as `host:port`, comma-separated, as the console shows them.
    pub fn target_list(&self) -> String {
        let list: Vec<String> = self
            .targets
            .iter()
            .map(|t| format!("{}:{}", t.host, t.port))
            .collect();
        list.join(",")
    }
}

impl Target {
    /// `http://host:port`, `host:port` or `host` (port 80); IPv6 in brackets.
    pub fn parse(url: &str) -> Result<Target, String> {
        let url = url.trim();
        let bad = || format!("--target takes http://host:port URLs, not {url:?}");
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let hostport = rest.split('/').next().unwrap_or_default();
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                (host, port.parse::<u16>().map_err(|_| bad())?)
            }
            _ => (hostport, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || url.starts_with("https://") {
            return Err(bad());
        }
        Ok(Target {
            host: host.to_owned(),
            port,
        })
    }
}

/// `30s`, `5m`, `1h`, or plain seconds; more than zero.
pub fn duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let bad = || format!("--duration takes seconds or minutes, like 30s or 5m, not {value:?}");
    let (digits, unit) = value.split_at(
        value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len()),
    );
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if seconds == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_durations_parse() {
        assert_eq!(
            Target::parse("http://[::1]:5000/"),
            Ok(Target {
                host: "::1".into(),
                port: 5000
            })
        );
        assert_eq!(Target::parse("web").unwrap().port, 80);
        assert!(Target::parse("https://x:1").is_err());
        assert!(Target::parse("x:99999").is_err());
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert!(duration("0s").is_err());
        assert!(duration("soon").is_err());
    }
}
