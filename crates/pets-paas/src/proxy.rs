//! The reverse proxy to instances: a request for `<id>.<domain>` goes to the
//! instance's port 5000, one for `<id>-admin.<domain>` to its port 7000.
//!
//! Bodies stream both ways, so the console's live updates (server-sent
//! events) pass through as they are written. The instance's address comes
//! from the registry, never from the request; an id the registry does not
//! know connects to nothing.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::HeaderName;
use http::{HeaderValue, Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How long an instance has to start answering a request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers that belong to one connection, not to the request.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

#[derive(Clone)]
pub struct Proxy {
    client: Client<HttpConnector, Body>,
}

impl Default for Proxy {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(3)));
        connector.set_nodelay(true);
        Self {
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(8)
                .build(connector),
        }
    }
}

/// The instance did not answer: a page, never a bare 502.
pub struct NotAnswering;

impl Proxy {
    /// Forwards `request` to `address:port`, from `client` (as the service
    /// reads it, through its trusted proxies), which came over https or not.
    pub async fn forward(
        &self,
        mut request: Request<Body>,
        address: IpAddr,
        port: u16,
        client: IpAddr,
        https: bool,
    ) -> Result<Response, NotAnswering> {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let target = SocketAddr::new(address, port);
        *request.uri_mut() = Uri::builder()
            .scheme("http")
            .authority(target.to_string())
            .path_and_query(path)
            .build()
            .map_err(|_| NotAnswering)?;
        let headers = request.headers_mut();
        strip_hop_by_hop(headers);
        // The Host header stays the visitor's (`<id>.<domain>`), which the
        // instance checks against its allowed names. The instance believes
        // this proxy's forwarding headers (its only trusted proxy), so they
        // are this proxy's own: whatever the visitor sent is replaced.
        headers.remove(http::header::FORWARDED);
        headers.insert(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_str(&client.to_string()).map_err(|_| NotAnswering)?,
        );
        headers.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static(if https { "https" } else { "http" }),
        );
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| NotAnswering)?
            .map_err(|e| {
                tracing::debug!("instance at {target} did not answer: {e}");
                NotAnswering
            })?;
        let (mut parts, body) = answer.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, Body::new(body)).into_response())
    }
}

fn strip_hop_by_hop(headers: &mut http::HeaderMap) {
    // Headers named in Connection are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_do_not_pass() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("close, x-secret-hop"),
        );
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        headers.insert("cookie", HeaderValue::from_static("a=b"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("cookie"));
    }
}
