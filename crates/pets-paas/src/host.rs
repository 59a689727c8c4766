//! Which part of the service a request's `Host` header asks for.
//!
//! `<domain>` (with any port) is the service itself, and so is a bare IP
//! address (`http://127.0.0.1:8000/`, or the machine's LAN address, as a new
//! user types it); `<id>.<domain>` is an instance's pet site and
//! `<id>-admin.<domain>` its console, reachable only by those names. Anything
//! else, including a malformed id, is [`Route::Unknown`]: the proxy answers
//! it with a 404 page and connects to nothing.

use crate::id::InstanceId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The landing page, the waiting pages, the operator console.
    Service,
    /// An instance's pet site (its port 5000).
    Site(InstanceId),
    /// An instance's console (its port 7000).
    Console(InstanceId),
    Unknown,
}

/// Routes a `Host` header's value for `domain` (already lowercase).
pub fn route(host: Option<&str>, domain: &str) -> Route {
    let Some(host) = host else {
        return Route::Unknown;
    };
    let name = strip_port(host).to_ascii_lowercase();
    if name == domain || is_address(&name) {
        return Route::Service;
    }
    let Some(label) = name
        .strip_suffix(domain)
        .and_then(|rest| rest.strip_suffix('.'))
    else {
        return Route::Unknown;
    };
    match label.strip_suffix("-admin") {
        Some(id) => InstanceId::parse(id).map_or(Route::Unknown, Route::Console),
        None => InstanceId::parse(label).map_or(Route::Unknown, Route::Site),
    }
}

/// Whether a `Host` (its port taken off) is an IP address rather than a
/// name: `127.0.0.1`, `[::1]`.
pub fn is_address(name: &str) -> bool {
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .is_some_and(|n| n.parse::<std::net::Ipv6Addr>().is_ok())
}

/// Whether a domain names this machine only (`localhost`, `*.localhost`):
/// its addresses work in this machine's browsers, not on a phone.
pub fn is_local(domain: &str) -> bool {
    domain == "localhost" || domain.ends_with(".localhost")
}

/// `name:port` to `name`; a name without a port, or a bad port, is left
/// whole (and then matches nothing).
fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "abcdefghij012345";

    fn id() -> InstanceId {
        InstanceId::parse(ID).unwrap()
    }

    #[test]
    fn the_service_and_its_instances() {
        assert_eq!(route(Some("localhost:8000"), "localhost"), Route::Service);
        assert_eq!(route(Some("LocalHost"), "localhost"), Route::Service);
        assert_eq!(
            route(Some(&format!("{ID}.localhost:8000")), "localhost"),
            Route::Site(id())
        );
        assert_eq!(
            route(
                Some(&format!("{ID}-admin.pets.example.com")),
                "pets.example.com"
            ),
            Route::Console(id())
        );
    }

    #[test]
    fn a_bare_address_is_the_service() {
        for host in ["127.0.0.1", "192.168.1.20:8000", "[::1]:8000", "[::1]"] {
            assert_eq!(route(Some(host), "localhost"), Route::Service, "{host}");
        }
        for host in ["::1", "127.0.0.1.localhost", "127.0.0.1:80x", "[::1"] {
            assert_ne!(route(Some(host), "localhost"), Route::Service, "{host}");
        }
    }

    #[test]
    fn hostile_hosts_reach_nothing() {
        for host in [
            "",
            "example.com",
            "localhost.evil.com",
            "evillocalhost",
            "abc.localhost",
            "abcdefghij01234.localhost",
            "x.abcdefghij012345.localhost",
            "abcdefghij012345-admin-admin.localhost",
            "ABCDEFGHIJ012345.localhost:8000:1",
            "abcdefghij012345.localhost:80x",
            "abcdefghij012345.localhost/../x",
        ] {
            assert_eq!(route(Some(host), "localhost"), Route::Unknown, "{host}");
        }
        assert_eq!(route(None, "localhost"), Route::Unknown);
    }
}
