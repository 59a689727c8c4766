//! What `pets load` runs with, as [`LoadOptions`]; the `pets` binary reads
//! them from its command line (`pets load --help`), through the parsers
//! here for the values only the driver knows: a target and a duration.

use std::time::Duration;

/// What to drive, how hard and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// Base URLs (`http://host:port`, `https://host`); a host may be a name
    /// for many addresses.
    pub targets: Vec<Target>,
    /// Addresses given for a host and port instead of looking the name up
    /// (curl's `--resolve`).
    pub resolve: Vec<Resolve>,
    /// A CA certificate (PEM) trusted for `https` targets, beside the
    /// usual roots.
    pub ca_cert: Option<CaCert>,
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

/// A target as given: its host and port, and whether it speaks TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

/// `--resolve host:port:addr[,addr...]`: the addresses behind a host and
/// port, used instead of a lookup, in turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<std::net::IpAddr>,
}

/// A CA certificate read from `--ca-cert`, checked to be PEM.
#[derive(Clone)]
pub struct CaCert {
    pub path: String,
    pub certificate: reqwest::Certificate,
}

impl std::fmt::Debug for CaCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CaCert({})", self.path)
    }
}

impl PartialEq for CaCert {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl CaCert {
    /// Reads and checks a PEM certificate.
    pub fn read(path: &str) -> Result<CaCert, String> {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read --ca-cert {path}: {e}"))?;
        if !pem.starts_with(b"-----BEGIN CERTIFICATE-----") {
            return Err(format!(
                "--ca-cert {path} is not a PEM certificate (-----BEGIN CERTIFICATE-----)"
            ));
        }
        let certificate = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("--ca-cert {path} is not a certificate: {e}"))?;
        Ok(CaCert {
            path: path.to_owned(),
            certificate,
        })
    }
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
    /// `http://host:port`, `https://host:port`, `host:port` or `host`
    /// (port 80, or 443 for `https`); IPv6 in brackets.
    pub fn parse(url: &str) -> Result<Target, String> {
        let url = url.trim();
        let bad = || format!("--target takes http://host:port or https://host URLs, not {url:?}");
        let (tls, rest) = match url.split_once("://") {
            Some(("https", rest)) => (true, rest),
            Some(("http", rest)) => (false, rest),
            Some(_) => return Err(bad()),
            None => (false, url),
        };
        let (host, port) =
            host_port(rest.split('/').next().unwrap_or_default(), tls).ok_or_else(bad)?;
        Ok(Target { host, port, tls })
    }

    /// The scheme and authority requests name: `https://pets.example.com:443`.
    pub fn base(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// `host:port` or `host` (the scheme's port); IPv6 in brackets.
fn host_port(hostport: &str, tls: bool) -> Option<(String, u16)> {
    let (host, port) = match hostport.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
            (host, port.parse::<u16>().ok()?)
        }
        _ => (hostport, if tls { 443 } else { 80 }),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

impl Resolve {
    /// curl's form: `pets.example.com:443:10.0.0.2,10.0.0.3`.
    pub fn parse(value: &str) -> Result<Resolve, String> {
        let value = value.trim();
        let bad = || {
            format!("--resolve takes host:port:address[,address...], like pets.example.com:443:10.0.0.2, not {value:?}")
        };
        let mut parts = value.splitn(3, ':');
        let (Some(host), Some(port), Some(addrs)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let port = port.parse::<u16>().map_err(|_| bad())?;
        let addrs = addrs
            .split(',')
            .map(|a| {
                a.trim()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad())?;
        if host.is_empty() || addrs.is_empty() {
            return Err(bad());
        }
        Ok(Resolve {
            host: host.to_ascii_lowercase(),
            port,
            addrs,
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
                port: 5000,
                tls: false
            })
        );
        assert_eq!(Target::parse("web").unwrap().port, 80);
        let routed = Target::parse("https://Pets.Example.com").unwrap();
        assert_eq!(
            (routed.host.as_str(), routed.port, routed.tls),
            ("pets.example.com", 443, true)
        );
        assert_eq!(routed.base(), "https://pets.example.com:443");
        assert!(Target::parse("ftp://x:1").is_err());
        assert!(Target::parse("x:99999").is_err());
        assert!(Target::parse("https://").is_err());
        let resolve = Resolve::parse("pets.example.com:443:10.0.0.2,10.0.0.3").unwrap();
        assert_eq!((resolve.port, resolve.addrs.len()), (443, 2));
        for bad in [
            "pets.example.com:443",
            "x:443:not-an-ip",
            ":443:10.0.0.2",
            "x:port:10.0.0.2",
        ] {
            assert!(Resolve::parse(bad).is_err(), "{bad}");
        }
        assert!(CaCert::read("/no/such/ca.pem")
            .unwrap_err()
            .contains("cannot read"));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert!(duration("0s").is_err());
        assert!(duration("soon").is_err());
    }
}
