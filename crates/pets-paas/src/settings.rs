//! What `pets paas` reads from its environment, parsed once at start.
//!
//! Every variable has a default, so `pets paas` runs with no configuration
//! on a laptop: port 8000, instances on `*.localhost`, 40 minutes each, at
//! most 20 at once.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

/// A variable that was set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct SettingsError {
    pub name: &'static str,
    pub problem: String,
}

/// The service's settings.
#[derive(Debug, Clone)]
pub struct PaasSettings {
    /// `PAAS_PORT`: the landing page and every proxied instance.
    pub port: u16,
    /// `PAAS_PUBLIC_PORT`: the port visitors use, when a router in front
    /// listens on another (80 behind the compose file's router); by default
    /// the port listened on.
    pub public_port: Option<u16>,
    /// `PAAS_BIND`: the address to listen on.
    pub bind: std::net::IpAddr,
    /// `PAAS_DOMAIN`: instances are `<id>.<domain>` and `<id>-admin.<domain>`.
    pub domain: String,
    /// `PAAS_TTL` (minutes, or `<n>s` for seconds): how long an instance lives.
    pub ttl: Duration,
    /// `PAAS_MAX_INSTANCES`: how many may run at once.
    pub max_instances: usize,
    /// `PAAS_NAME`: which service's instances these are, on an engine that
    /// runs more than one (a label on each; the service adopts only its own).
    pub name: String,
    /// `PAAS_SUBNETS`: the pool instance networks take a /28 each from.
    pub subnets: ipnet::Ipv4Net,
    /// `PAAS_IMAGE`: the pets image's name; the version picks its tag.
    pub image: String,
    /// `PAAS_CREATIONS_PER_CLIENT`: creations one address may make per hour.
    pub creations_per_client_per_hour: u32,
    /// `PAAS_CREATIONS_PER_MINUTE`: creations everyone together may make per
    /// minute.
    pub creations_per_minute: u32,
    /// `ADMIN_PASSWORD_FILE`: the operator console's password; without it
    /// the console is closed.
    pub admin_password: Option<SecretString>,
}

impl PaasSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `var`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let number = |name: &'static str, default: u64, max: u64| match get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| error(name, format!("`{v}` is not a whole number from 1 to {max}"))),
        };
        let domain = get("PAAS_DOMAIN")
            .unwrap_or_else(|| "localhost".into())
            .to_ascii_lowercase();
        if !valid_domain(&domain) {
            return Err(error(
                "PAAS_DOMAIN",
                format!("`{domain}` is not a domain name"),
            ));
        }
        let admin_password = match get("ADMIN_PASSWORD_FILE") {
            None => None,
            Some(path) => Some(read_password(PathBuf::from(path))?),
        };
        Ok(Self {
            port: number("PAAS_PORT", 8000, u16::MAX as u64)? as u16,
            public_port: match get("PAAS_PUBLIC_PORT") {
                None => None,
                Some(_) => Some(number("PAAS_PUBLIC_PORT", 80, u16::MAX as u64)? as u16),
            },
            bind: match get("PAAS_BIND") {
                None => std::net::IpAddr::from([0, 0, 0, 0]),
                Some(v) => v
                    .parse()
                    .map_err(|_| error("PAAS_BIND", format!("`{v}` is not an IP address")))?,
            },
            domain,
            ttl: ttl(get("PAAS_TTL"))?,
            max_instances: number("PAAS_MAX_INSTANCES", 20, 1000)? as usize,
            name: match get("PAAS_NAME") {
                None => "pets-paas".into(),
                Some(name)
                    if (1..=32).contains(&name.len())
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
                {
                    name
                }
                Some(name) => {
                    return Err(error(
                        "PAAS_NAME",
                        format!("`{name}` is not 1 to 32 lowercase letters, digits and hyphens"),
                    ))
                }
            },
            subnets: match get("PAAS_SUBNETS") {
                None => "10.213.0.0/16".parse().expect("a valid default"),
                Some(v) => v
                    .parse::<ipnet::Ipv4Net>()
                    .ok()
                    .filter(|n| n.prefix_len() <= crate::engine::subnets::PREFIX)
                    .map(|n| n.trunc())
                    .ok_or_else(|| {
                        error(
                            "PAAS_SUBNETS",
                            format!("`{v}` is not an IPv4 network of /28 or more"),
                        )
                    })?,
            },
            image: get("PAAS_IMAGE").unwrap_or_else(|| "pets".into()),
            creations_per_client_per_hour: number("PAAS_CREATIONS_PER_CLIENT", 6, 1000)? as u32,
            creations_per_minute: number("PAAS_CREATIONS_PER_MINUTE", 10, 10_000)? as u32,
            admin_password,
        })
    }
}

fn error(name: &'static str, problem: String) -> SettingsError {
    SettingsError { name, problem }
}

/// `40` is minutes; `30s` is seconds (for tests and demonstrations).
fn ttl(raw: Option<String>) -> Result<Duration, SettingsError> {
    let Some(raw) = raw else {
        return Ok(Duration::from_secs(40 * 60));
    };
    let (digits, unit) = match raw.strip_suffix('s') {
        Some(seconds) => (seconds, 1),
        None => (raw.strip_suffix('m').unwrap_or(&raw), 60),
    };
    digits
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0 && n * unit <= 24 * 3600)
        .map(|n| Duration::from_secs(n * unit))
        .ok_or_else(|| {
            error(
                "PAAS_TTL",
                format!("`{raw}` is not a time: minutes (40) or seconds (30s), at most a day"),
            )
        })
}

/// Letters, digits, hyphens and dots, as DNS allows.
fn valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 200
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn read_password(path: PathBuf) -> Result<SecretString, SettingsError> {
    let text = std::fs::read_to_string(&path).map_err(|e| {
        error(
            "ADMIN_PASSWORD_FILE",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let password = text.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(error(
            "ADMIN_PASSWORD_FILE",
            format!("{} is empty", path.display()),
        ));
    }
    Ok(SecretString::from(password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<PaasSettings, SettingsError> {
        PaasSettings::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn no_configuration_is_needed() {
        let s = with(&[]).unwrap();
        assert_eq!(s.port, 8000);
        assert_eq!(s.domain, "localhost");
        assert_eq!(s.ttl, Duration::from_secs(2400));
        assert_eq!(s.max_instances, 20);
        assert_eq!(s.image, "pets");
        assert!(s.admin_password.is_none());
    }

    #[test]
    fn the_ttl_is_minutes_or_seconds() {
        assert_eq!(
            with(&[("PAAS_TTL", "5")]).unwrap().ttl,
            Duration::from_secs(300)
        );
        assert_eq!(
            with(&[("PAAS_TTL", "8s")]).unwrap().ttl,
            Duration::from_secs(8)
        );
        for bad in ["0", "-1", "soon", "99999"] {
            let e = with(&[("PAAS_TTL", bad)]).unwrap_err();
            assert_eq!(e.name, "PAAS_TTL", "{bad}");
        }
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("PAAS_PORT", "70000"),
            ("PAAS_MAX_INSTANCES", "0"),
            ("PAAS_DOMAIN", "evil.com/x"),
            ("PAAS_DOMAIN", "-a.b"),
            ("PAAS_BIND", "here"),
            ("PAAS_NAME", "Not Ok"),
            ("PAAS_SUBNETS", "10.0.0.0/30"),
            ("PAAS_SUBNETS", "fd00::/64"),
            ("ADMIN_PASSWORD_FILE", "/nonexistent/pw"),
        ] {
            let e = with(&[(name, value)]).unwrap_err();
            assert_eq!(e.name, name, "{value}");
            assert!(e.to_string().starts_with(name));
        }
    }

    #[test]
    fn the_domain_is_lowercased() {
        let s = with(&[("PAAS_DOMAIN", "Pets.Example.COM")]).unwrap();
        assert_eq!(s.domain, "pets.example.com");
    }
}
