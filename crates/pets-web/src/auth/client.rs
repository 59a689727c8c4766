//! Who is asking, and over what: the client's address and whether the
//! request came over https, read through the proxies the operator declared
//! trusted (`PETS_TRUSTED_PROXIES`). `X-Forwarded-For`, `Forwarded` and
//! `X-Forwarded-Proto` are believed only from those; from anyone else they
//! are ignored, or any client could name itself.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client behind `peer`: the nearest address in the forwarding chain
/// that is not a trusted proxy.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let chain = forwarded_for(headers);
    chain
        .iter()
        .rev()
        .copied()
        .find(|addr| !is_trusted(*addr, trusted))
        .or_else(|| chain.first().copied())
        .unwrap_or(peer)
}

/// Whether the request reached the first proxy over https (only a trusted
/// proxy is believed; pets itself serves plain http).
pub fn came_over_https(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> bool {
    if !is_trusted(canonical(peer), trusted) {
        return false;
    }
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = forwarded_params(headers, "proto")
        .next()
        .map(|v| v.eq_ignore_ascii_case("https"));
    forwarded_proto.or(forwarded).unwrap_or(false)
}

fn is_trusted(addr: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&addr))
}

/// IPv4 addresses written as IPv6 (`::ffff:1.2.3.4`) are IPv4.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses a request passed, nearest last.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let xff: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .map(canonical)
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    forwarded_params(headers, "for")
        .filter_map(parse_node)
        .map(canonical)
        .collect()
}

/// The values of one parameter in the `Forwarded` headers (RFC 7239), in
/// order, unquoted.
fn forwarded_params<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([';', ',']))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim_matches('"'))
}

/// A `Forwarded` node: `1.2.3.4`, `1.2.3.4:80`, `[2001:db8::1]:80`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.parse()
        .ok()
        .or_else(|| node.rsplit_once(':')?.0.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let xff = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4")]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &xff, &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_address(ip("9.9.9.9"), &xff, &trusted),
            ip("9.9.9.9"),
            "an untrusted peer cannot name itself"
        );
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 10.0.0.7")]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &chain, &trusted),
            ip("1.2.3.4")
        );
        let forwarded = headers(&[("forwarded", "for=\"[2001:db8::9]:4711\";proto=https")]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &forwarded, &trusted),
            ip("2001:db8::9")
        );
        assert!(came_over_https(ip("10.0.0.2"), &forwarded, &trusted));
        let proto = headers(&[("x-forwarded-proto", "https")]);
        assert!(came_over_https(ip("::ffff:10.0.0.2"), &proto, &trusted));
        assert!(!came_over_https(ip("9.9.9.9"), &proto, &trusted));
    }
}
