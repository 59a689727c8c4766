//! `pets paas`: its section of the command line, read into
//! [`PaasSettings`]. Every setting has a default, so `pets paas` runs with
//! no configuration on a laptop: port 8000, instances on `*.localhost`, 40
//! minutes each, at most 20 at once.

use std::net::IpAddr;
use std::time::Duration;

use clap::Args;
use pets_paas::PaasSettings;

use super::parse::{self, SecretFile};
use super::telemetry::TelemetryArgs;

/// Everything `pets paas` reads.
#[derive(Debug, Clone, Args)]
pub struct PaasArgs {
    #[command(flatten)]
    pub service: PaasServiceArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// The service's own settings.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Pets as a Service")]
pub struct PaasServiceArgs {
    /// The port of the landing page and every instance.
    #[arg(long, env = "PAAS_PORT", value_name = "PAAS_PORT", default_value = "8000",
          value_parser = parse::port)]
    pub port: u16,
    /// The port in the links the service makes, when a router in front
    /// listens on another (default: the port listened on).
    #[arg(long, env = "PAAS_PUBLIC_PORT", value_name = "PAAS_PUBLIC_PORT",
          value_parser = parse::bounded(1, u16::MAX as u64))]
    pub public_port: Option<u64>,
    /// The address to listen on.
    #[arg(long = "bind", env = "PAAS_BIND", value_name = "PAAS_BIND", default_value = "0.0.0.0",
          value_parser = parse::address)]
    pub bind: IpAddr,
    /// Instances are <id>.<domain> and <id>-admin.<domain>; the service's
    /// own pages answer on <domain> and on any bare IP address.
    #[arg(long, env = "PAAS_DOMAIN", value_name = "PAAS_DOMAIN", default_value = "localhost",
          value_parser = domain)]
    pub domain: String,
    /// How long an instance lives: minutes (40), or seconds (30s), at most a
    /// day.
    #[arg(long, env = "PAAS_TTL", value_name = "PAAS_TTL", default_value = "40",
          value_parser = ttl)]
    pub ttl: Duration,
    /// Instances at once.
    #[arg(long, env = "PAAS_MAX_INSTANCES", value_name = "PAAS_MAX_INSTANCES",
          default_value = "20", value_parser = parse::bounded(1, 1000))]
    pub max_instances: u64,
    /// Instances one node holds (on a Swarm, every ready node has this
    /// room); by default PAAS_MAX_INSTANCES.
    #[arg(long, env = "PAAS_MAX_PER_NODE", value_name = "PAAS_MAX_PER_NODE",
          value_parser = parse::bounded(1, 1000))]
    pub max_per_node: Option<u64>,
    /// The label that marks this service's instances (two services on one
    /// engine adopt only their own).
    #[arg(long, env = "PAAS_NAME", value_name = "PAAS_NAME", default_value = "pets-paas",
          value_parser = name)]
    pub name: String,
    /// Where each instance's network takes a /28.
    #[arg(long, env = "PAAS_SUBNETS", value_name = "PAAS_SUBNETS",
          default_value = "10.213.0.0/16", value_parser = subnets)]
    pub subnets: ipnet::Ipv4Net,
    /// The pets image's repository, without a tag: the version a visitor
    /// picks is the tag (1.0 or 2.0).
    #[arg(long, env = "PAAS_IMAGE", value_name = "PAAS_IMAGE", default_value = "pets",
          value_parser = image)]
    pub image: String,
    /// Creations one client may make per hour.
    #[arg(long, env = "PAAS_CREATIONS_PER_CLIENT", value_name = "PAAS_CREATIONS_PER_CLIENT",
          default_value = "6", value_parser = parse::bounded(1, 1000))]
    pub creations_per_client: u64,
    /// Creations everyone together may make per minute.
    #[arg(long, env = "PAAS_CREATIONS_PER_MINUTE", value_name = "PAAS_CREATIONS_PER_MINUTE",
          default_value = "10", value_parser = parse::bounded(1, 10_000))]
    pub creations_per_minute: u64,
    /// A file whose first line is the operator console's password. Unset:
    /// the console is closed.
    #[arg(long, env = "ADMIN_PASSWORD_FILE", value_name = "ADMIN_PASSWORD_FILE",
          value_parser = parse::secret_file)]
    pub admin_password_file: Option<SecretFile>,
    /// Addresses or CIDR blocks of the proxies in front (a router, a
    /// workshop's front door) whose X-Forwarded-For, Forwarded and
    /// X-Forwarded-Proto are believed, so each visitor counts as themself.
    /// Unset: none.
    #[arg(long, env = "PAAS_TRUSTED_PROXIES", value_name = "PAAS_TRUSTED_PROXIES",
          value_parser = parse::networks)]
    pub trusted_proxies: Option<parse::Networks>,
    /// Where instances run: `swarm` (each a Swarm service, spread over the
    /// nodes; the engine must be a manager, and pets paas in one of its
    /// containers), `standalone` (each a container on this engine), or
    /// `auto` (swarm when both hold).
    #[arg(long, env = "PAAS_MODE", value_name = "PAAS_MODE", default_value = "auto",
          value_parser = mode)]
    pub mode: pets_paas::settings::Mode,
    /// On a Swarm: the container `pets paas` runs in, which joins every
    /// instance's network to reach it (default: this host's name, which
    /// Docker sets to the container's id).
    #[arg(long, env = "PAAS_CONTAINER", value_name = "PAAS_CONTAINER")]
    pub container: Option<String>,
}

impl PaasServiceArgs {
    pub fn settings(&self) -> PaasSettings {
        PaasSettings {
            port: self.port,
            public_port: self.public_port.map(|p| p as u16),
            bind: self.bind,
            domain: self.domain.clone(),
            ttl: self.ttl,
            max_instances: self.max_instances as usize,
            max_per_node: self.max_per_node.map(|n| n as usize),
            name: self.name.clone(),
            subnets: self.subnets,
            image: self.image.clone(),
            creations_per_client_per_hour: self.creations_per_client as u32,
            creations_per_minute: self.creations_per_minute as u32,
            admin_password: self.admin_password_file.as_ref().map(|f| f.secret.clone()),
            trusted_proxies: self
                .trusted_proxies
                .clone()
                .map(|n| n.0)
                .unwrap_or_default(),
            mode: self.mode,
            container: self.container.clone(),
        }
    }
}

fn mode(raw: &str) -> Result<pets_paas::settings::Mode, String> {
    use pets_paas::settings::Mode;
    match raw.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(Mode::Auto),
        "swarm" => Ok(Mode::Swarm),
        "standalone" => Ok(Mode::Standalone),
        other => Err(format!("`{other}` is not auto, swarm or standalone")),
    }
}

fn domain(raw: &str) -> Result<String, String> {
    let domain = raw.trim().to_ascii_lowercase();
    if !parse::valid_domain(&domain) || domain.len() > 200 {
        return Err(format!("`{domain}` is not a domain name"));
    }
    Ok(domain)
}

/// `40` is minutes; `30s` is seconds (for tests and demonstrations).
fn ttl(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (digits, unit) = match raw.strip_suffix('s') {
        Some(seconds) => (seconds, 1),
        None => (raw.strip_suffix('m').unwrap_or(raw), 60),
    };
    digits
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0 && n * unit <= 24 * 3600)
        .map(|n| Duration::from_secs(n * unit))
        .ok_or_else(|| {
            format!("`{raw}` is not a time: minutes (40) or seconds (30s), at most a day")
        })
}

fn name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "`{name}` is not 1 to 32 lowercase letters, digits and hyphens"
        ))
    }
}

fn subnets(raw: &str) -> Result<ipnet::Ipv4Net, String> {
    let raw = raw.trim();
    raw.parse::<ipnet::Ipv4Net>()
        .ok()
        .filter(|n| n.prefix_len() <= pets_paas::engine::subnets::PREFIX)
        .map(|n| n.trunc())
        .ok_or_else(|| format!("`{raw}` is not an IPv4 network of /28 or more"))
}

/// An image repository as Docker names it (`pets`, `registry:5000/team/pets`),
/// with no tag or digest: the service adds the version as the tag.
fn image(raw: &str) -> Result<String, String> {
    let image = raw.trim();
    let (domain, path) = match image.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, image),
    };
    if path.contains(':') || path.contains('@') {
        let repository = path.split([':', '@']).next().unwrap_or_default();
        let repository = match domain {
            Some(domain) => format!("{domain}/{repository}"),
            None => repository.to_owned(),
        };
        return Err(format!(
            "`{image}` names a tag or digest; give the repository alone (`{repository}`): \
             the version a visitor picks (1.0 or 2.0) is the tag"
        ));
    }
    let component = |c: &str| {
        !c.is_empty()
            && c.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && c.as_bytes()[0].is_ascii_alphanumeric()
            && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
    };
    let domain_ok = domain.is_none_or(|d| {
        let (host, port) = d.split_once(':').unwrap_or((d, "1"));
        parse::valid_domain(&host.to_ascii_lowercase()) && port.parse::<u16>().is_ok()
    });
    if !domain_ok || image.len() > 255 || !path.split('/').all(component) {
        return Err(format!(
            "`{image}` is not an image repository (lowercase letters, digits, `._-`, \
             components separated by `/`)"
        ));
    }
    Ok(image.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::cli::from_vars;
    use crate::configuration::ConfigError;

    fn with(pairs: &[(&str, &str)]) -> Result<PaasSettings, ConfigError> {
        let args: PaasServiceArgs = from_vars(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })?;
        Ok(args.settings())
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
        for bad in ["0", "-1", "soon", "forever", "99999"] {
            let e = with(&[("PAAS_TTL", bad)]).unwrap_err();
            assert_eq!(e.variable, "PAAS_TTL", "{bad}");
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
            ("PAAS_IMAGE", "pets:1.0"),
            ("PAAS_IMAGE", "Pets"),
            ("PAAS_IMAGE", "pets@sha256:abc"),
            ("ADMIN_PASSWORD_FILE", "/nonexistent/pw"),
        ] {
            let e = with(&[(name, value)]).unwrap_err();
            assert_eq!(e.variable, name, "{value}");
            assert!(e.to_string().starts_with(name), "{e}");
        }
        let e = with(&[("PAAS_IMAGE", "pets:1.0")]).unwrap_err();
        assert!(e.problem.contains("(`pets`)"), "{e}");
    }

    #[test]
    fn image_repositories_are_read() {
        for good in [
            "pets",
            "team/pets",
            "registry.example.com:5000/team/pets",
            "localhost/pets",
        ] {
            assert_eq!(image(good).as_deref(), Ok(good));
        }
        let e = image("registry:5000/pets:2.0").unwrap_err();
        assert!(e.contains("(`registry:5000/pets`)"), "{e}");
    }

    #[test]
    fn the_domain_is_lowercased() {
        let s = with(&[("PAAS_DOMAIN", "Pets.Example.COM")]).unwrap();
        assert_eq!(s.domain, "pets.example.com");
    }
}
