//! What the Consul store is configured with, and `DB` parsed into the
//! addresses it names: the binary's configuration parses it once at start,
//! so a bad `DB` is a configuration error like any other.

use secrecy::SecretString;

/// What the Consul store needs to know; read from the environment by the
/// binary's configuration. `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct ConsulSettings {
    /// `DB`: where the servers are.
    pub targets: Targets,
    /// The ACL token (`CONSUL_HTTP_TOKEN` or the file `CONSUL_HTTP_TOKEN_FILE`).
    pub token: Option<SecretString>,
    /// A private CA for https (`CONSUL_CACERT`), as PEM.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// `PETS_KV_PREFIX`, ending in `/`.
    pub prefix: String,
    /// This process's name in keys: the host name and a random suffix.
    pub replica: String,
}

/// `DB` as parsed: one or more names, `host:port`s or URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets(pub(crate) Vec<Target>);

/// One address `DB` names, resolved again and again (a name may stand for
/// several servers, as Swarm's `tasks.db` does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub scheme: &'static str,
    pub host: String,
    pub port: u16,
}

/// Why `DB` could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("names no Consul address")]
    Empty,
    #[error("`{0}` is not a host, host:port or URL")]
    NotAnAddress(String),
    #[error("`{0}` has an invalid port")]
    BadPort(String),
    #[error("`{0}` names no host")]
    NoHost(String),
}

impl Targets {
    /// Parses comma-separated names, `host:port`s or `http(s)://` URLs;
    /// Consul's port 8500 when none is given.
    pub fn parse(db: &str) -> Result<Self, TargetError> {
        let targets: Vec<_> = db
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Target::parse)
            .collect::<Result<_, _>>()?;
        if targets.is_empty() {
            return Err(TargetError::Empty);
        }
        Ok(Self(targets))
    }

    /// The URLs before any name is resolved.
    pub fn urls(&self) -> Vec<String> {
        self.0.iter().map(Target::url).collect()
    }
}

impl Target {
    fn parse(raw: &str) -> Result<Self, TargetError> {
        let (scheme, rest) = if let Some(rest) = raw.strip_prefix("http://") {
            ("http", rest)
        } else if let Some(rest) = raw.strip_prefix("https://") {
            ("https", rest)
        } else {
            ("http", raw)
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') || rest.contains('@') {
            return Err(TargetError::NotAnAddress(raw.to_owned()));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| TargetError::BadPort(raw.to_owned()))?;
                (host.to_owned(), port)
            }
            _ => (rest.to_owned(), 8500),
        };
        if host.is_empty() {
            return Err(TargetError::NoHost(raw.to_owned()));
        }
        Ok(Self { scheme, host, port })
    }

    /// The URL with the name unresolved.
    pub fn url(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn db_accepts_names_ports_urls_and_lists() {
        assert_eq!(Targets::parse("db").unwrap().urls(), vec!["http://db:8500"]);
        assert_eq!(
            Targets::parse("127.0.0.11:8500, https://consul.example:8501/")
                .unwrap()
                .urls(),
            vec!["http://127.0.0.11:8500", "https://consul.example:8501"]
        );
        assert!(matches!(
            Targets::parse("db:notaport"),
            Err(TargetError::BadPort(_))
        ));
        assert!(Targets::parse("user@db").is_err());
        assert_eq!(Targets::parse(" , "), Err(TargetError::Empty));
        assert!(Targets::parse("http://db/v1").is_err());
        assert!(matches!(
            Targets::parse(":8500"),
            Err(TargetError::NoHost(_))
        ));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let settings = ConsulSettings {
            targets: Targets::parse("db").unwrap(),
            token: Some(SecretString::from("s3cret-token")),
            ca_cert_pem: None,
            prefix: "pets/".into(),
            replica: "r".into(),
        };
        assert!(!format!("{settings:?}").contains("s3cret-token"));
    }
}
