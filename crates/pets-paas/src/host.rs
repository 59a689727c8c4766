//! Which part of the service a request's `Host` header asks for.
//!
//! `<domain>` (with any port) is the service itself; `<id>.<domain>` is an
//! instance's pet site and `<id>-admin.<domain>` its console. Anything else,
//! including a malformed id, is [`Route::Unknown`]: the proxy answers it with
//! a 404 page and connects to nothing.

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
    if name == domain {
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
            "10.0.0.1:5000",
            "abcdefghij012345.localhost/../x",
        ] {
            assert_eq!(route(Some(host), "localhost"), Route::Unknown, "{host}");
        }
        assert_eq!(route(None, "localhost"), Route::Unknown);
    }
}
