//! Refuses requests a browser sends on behalf of another site.
//!
//! A browser says where a request came from: `Sec-Fetch-Site` in current
//! browsers, `Origin` in older ones. A state-changing request that either
//! header places on another origin is refused with 403. The fault switches
//! (`/kill`, `PUT /health`) are guarded for every method, because `GET /kill`
//! changes state too, and more strictly: a request a page makes for a
//! picture, script or frame (`Sec-Fetch-Dest`), or a prefetch
//! (`Sec-Purpose`), is refused even from this site. Clients that send none of
//! these headers (curl, load generators, health checkers, the original's
//! clients) are not browsers acting for a visitor, and are served.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// For a whole site, run by the [`guard`](crate::guard::guard): the refusal
/// when an unsafe method comes from another site.
pub fn cross_site_refusal(request: &Request) -> Option<Response> {
    if is_safe(request.method()) || !sent_by_another_site(request.headers()) {
        return None;
    }
    tracing::warn!(path = %request.uri().path(), "refused a cross-site form post");
    Some(
        AppError::Forbidden(
            "This form was sent from another site, so it was refused. Open the page here and send it again.".into(),
        )
        .into_response(),
    )
}

/// Middleware for the fault switches: any method, and never as a page's
/// subresource or a prefetch.
pub async fn refuse_drive_by(request: Request, next: Next) -> Response {
    let headers = request.headers();
    if !sent_by_another_site(headers) && !subresource_or_prefetch(headers) {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "refused a fault switch a browser did not open directly");
    AppError::Forbidden(
        "This switch fails the container's health check, so a browser may only open it directly, not from another page. Use curl, or the address bar.".into(),
    )
    .into_response()
}

/// Whether the browser says the request comes from another origin.
fn sent_by_another_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let host = headers.get(header::HOST).map(|h| h.as_bytes());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, host)| host.as_bytes());
    origin_host.is_none() || origin_host != host
}

/// Whether a page asked for this as a picture, script, frame and the like,
/// or a browser is fetching it ahead of time.
fn subresource_or_prefetch(headers: &HeaderMap) -> bool {
    let dest = headers
        .get("sec-fetch-dest")
        .is_some_and(|d| !matches!(d.as_bytes(), b"document" | b"empty"));
    let mode = headers
        .get("sec-fetch-mode")
        .is_some_and(|m| m.as_bytes() == b"no-cors");
    let prefetch = ["sec-purpose", "purpose", "x-moz", "x-purpose"]
        .iter()
        .filter_map(|name| headers.get(*name))
        .any(|v| {
            v.to_str()
                .is_ok_and(|v| v.to_ascii_lowercase().contains("prefetch"))
        });
    dest || mode || prefetch
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn an_image_or_prefetch_is_never_a_switch_flip() {
        assert!(subresource_or_prefetch(&headers(&[(
            "sec-fetch-dest",
            "image"
        )])));
        assert!(subresource_or_prefetch(&headers(&[(
            "sec-fetch-mode",
            "no-cors"
        )])));
        assert!(subresource_or_prefetch(&headers(&[(
            "sec-purpose",
            "prefetch;prerender"
        )])));
        assert!(!subresource_or_prefetch(&headers(&[
            ("sec-fetch-dest", "document"),
            ("sec-fetch-mode", "navigate"),
        ])));
        assert!(!subresource_or_prefetch(&HeaderMap::new()), "curl");
    }

    #[test]
    fn origin_is_compared_with_host() {
        let same = headers(&[("origin", "http://pets:5000"), ("host", "pets:5000")]);
        assert!(!sent_by_another_site(&same));
        let other = headers(&[("origin", "http://evil.example"), ("host", "pets:5000")]);
        assert!(sent_by_another_site(&other));
        let site = headers(&[("sec-fetch-site", "cross-site"), ("host", "pets:5000")]);
        assert!(sent_by_another_site(&site));
    }
}
