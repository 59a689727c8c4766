//! Host names: what a DNS name is, which hosts the sites answer to
//! (`PETS_ALLOWED_HOSTS`, checked by [`guard`](crate::guard)), and the
//! voter site's public address (`PETS_PUBLIC_URL`, shown by the join
//! panel). A leaf: it imports nothing of this crate.

/// The longest public address taken; a QR code of it stays easy to scan.
const MAX_URL: usize = 200;

/// `PETS_PUBLIC_URL`: the voter site's address as the room reaches it, such
/// as `https://pets.example.com/` behind a router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    url: String,
    host: String,
}

impl PublicUrl {
    /// An `http` or `https` address with a host name or IP address, an
    /// optional port and path, and nothing a QR code or a page could
    /// mistake: no credentials, spaces, quotes or angle brackets.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let rest = raw
            .strip_prefix("http://")
            .or_else(|| raw.strip_prefix("https://"))
            .ok_or("must start with http:// or https://")?;
        if raw.len() > MAX_URL {
            return Err(format!("longer than {MAX_URL} characters"));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !c.is_ascii_graphic() || "\"'<>\\`{}|^".contains(*c))
        {
            return Err(format!("has a character an address cannot: {bad:?}"));
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            return Err("must not carry a user name or password".into());
        }
        let host = host_name(authority).ok_or("has no valid host name or address")?;
        let url = if rest.contains('/') {
            raw.to_owned()
        } else {
            format!("{raw}/")
        };
        Ok(Self { url, host })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Its host: a lowercased name, an IPv4 address or `[IPv6]`.
    pub fn host(&self) -> &str {
        &self.host
    }
}

/// The host of `host[:port]`: a lowercased DNS name, an IPv4 address, or an
/// IPv6 address in brackets; `None` for anything else.
pub fn host_name(authority: &str) -> Option<String> {
    let authority = authority.trim().to_ascii_lowercase();
    if let Some(rest) = authority.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| p.parse::<u16>().is_ok());
        return (port_ok && ip.parse::<std::net::Ipv6Addr>().is_ok()).then(|| format!("[{ip}]"));
    }
    let name = match authority.rsplit_once(':') {
        Some((name, port)) => {
            port.parse::<u16>().ok()?;
            name
        }
        None => authority.as_str(),
    };
    let ok = name.parse::<std::net::Ipv4Addr>().is_ok() || valid_domain(name);
    ok.then(|| name.to_owned())
}

/// Letters, digits, hyphens and dots, as DNS allows.
pub fn valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
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

/// `localhost`, an IP address, or one of `allowed` (port ignored).
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let name = if let Some(rest) = host.strip_prefix('[') {
        return rest
            .split(']')
            .next()
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host.as_str(), |(name, _)| name)
    };
    !name.is_empty()
        && (name == "localhost"
            || name.parse::<std::net::Ipv4Addr>().is_ok()
            || allowed.iter().any(|a| a == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_names_localhost_and_addresses_pass() {
        let allowed = vec!["pets.example.com".to_owned()];
        for ok in [
            "pets.example.com",
            "PETS.example.com:443",
            "localhost:5000",
            "10.0.0.5:5000",
            "[::1]:5000",
        ] {
            assert!(host_allowed(ok, &allowed), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:5000",
            "",
            "pets.example.com.evil.example",
        ] {
            assert!(!host_allowed(refused, &allowed), "{refused}");
        }
    }

    #[test]
    fn a_public_url_is_parsed_once_and_strictly() {
        for ok in [
            "http://pets.example.com",
            "https://pets.example.com:8443/vote?x=1",
            "http://10.1.2.3:5000/",
        ] {
            assert!(PublicUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "pets.example.com",
            "ftp://pets.example.com/",
            "http://user:pw@pets.example.com/",
            "http://pets example.com/",
            "http://pets.example.com/\"><script>",
            "http:///path",
            "http://pets.example.com:99999/",
            &format!("http://pets.example.com/{}", "a".repeat(300)),
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
