//! The command line of `pets load`, parsed once into [`LoadOptions`].

use std::time::Duration;

/// `pets load --target URL[,URL…] [--rate N] [--voters N] [--duration D]
/// [--vote-share P] [--json]`.
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

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("pets load: {0}\nusage: pets load --target URL[,URL...] [--rate N] [--voters N] [--duration 30s|5m] [--vote-share 0.1] [--json]")]
pub struct OptionsError(String);

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

    pub fn parse(args: &[String]) -> Result<Self, OptionsError> {
        let mut options = LoadOptions {
            targets: Vec::new(),
            rate: 50,
            voters: 100,
            duration: None,
            vote_share: 0.1,
            json: false,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (arg.as_str(), None),
            };
            if name == "--json" {
                options.json = true;
                continue;
            }
            let value = match inline.or_else(|| args.next().cloned()) {
                Some(value) => value,
                None => return Err(OptionsError(format!("{name} needs a value"))),
            };
            match name {
                "--target" => {
                    for url in value.split(',').filter(|u| !u.trim().is_empty()) {
                        options.targets.push(parse_target(url.trim())?);
                    }
                }
                "--rate" => options.rate = number(name, &value, 1, MAX_RATE.into())? as u32,
                "--voters" => options.voters = number(name, &value, 1, 1_000_000)? as usize,
                "--duration" => options.duration = Some(duration(&value)?),
                "--vote-share" => {
                    options.vote_share = value
                        .parse::<f64>()
                        .ok()
                        .filter(|p| (0.0..=1.0).contains(p))
                        .ok_or_else(|| {
                            OptionsError(format!(
                                "--vote-share must be between 0 and 1, not {value:?}"
                            ))
                        })?
                }
                other => return Err(OptionsError(format!("unknown option {other:?}"))),
            }
        }
        if options.targets.is_empty() {
            return Err(OptionsError("name at least one --target".into()));
        }
        Ok(options)
    }
}

fn number(name: &str, value: &str, min: u64, max: u64) -> Result<u64, OptionsError> {
    value
        .trim_end_matches("/s")
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            OptionsError(format!(
                "{name} must be a whole number from {min} to {max}, not {value:?}"
            ))
        })
}

fn duration(value: &str) -> Result<Duration, OptionsError> {
    let bad = || {
        OptionsError(format!(
            "--duration takes seconds or minutes, like 30s or 5m, not {value:?}"
        ))
    };
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

fn parse_target(url: &str) -> Result<Target, OptionsError> {
    let bad = || OptionsError(format!("--target takes http://host:port URLs, not {url:?}"));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<LoadOptions, OptionsError> {
        LoadOptions::parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_parse_with_defaults() {
        let options = parse(&[
            "--target",
            "http://tasks.web:5000,127.0.0.1:5001",
            "--rate=200/s",
            "--duration",
            "2m",
            "--json",
        ])
        .unwrap();
        assert_eq!(
            options.targets,
            [
                Target {
                    host: "tasks.web".into(),
                    port: 5000
                },
                Target {
                    host: "127.0.0.1".into(),
                    port: 5001
                }
            ]
        );
        assert_eq!(options.rate, 200);
        assert_eq!(options.duration, Some(Duration::from_secs(120)));
        assert!(options.json);
        assert_eq!(options.voters, 100);
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        for (args, expected) in [
            (vec![], "at least one --target"),
            (vec!["--target"], "needs a value"),
            (vec!["--target", "https://x:1"], "http://host:port"),
            (vec!["--target", "x:1", "--rate", "0"], "from 1 to"),
            (vec!["--target", "x:1", "--duration", "soon"], "30s or 5m"),
            (
                vec!["--target", "x:1", "--vote-share", "2"],
                "between 0 and 1",
            ),
            (vec!["--target", "x:1", "--speed", "9"], "unknown option"),
        ] {
            let error = parse(&args).unwrap_err().to_string();
            assert!(error.contains(expected), "{args:?}: {error}");
        }
    }
}
