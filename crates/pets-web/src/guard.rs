//! What every request and response on both ports goes through: the Host
//! check that stops DNS rebinding, the refusal of cross-site posts
//! ([`csrf`](crate::csrf)), and the security headers. One middleware does
//! all three, since each layer costs every request (the profile in
//! `docs/PERFORMANCE.md`).
//!
//! *Host.* With `PETS_ALLOWED_HOSTS` set, a request must name one of those
//! hosts, `localhost` or an IP address: a hostile page whose own name was
//! made to resolve to this server (DNS rebinding) sends its own name, and is
//! refused. Unset (the one-container demo), any host is served.
//!
//! *Headers.* Everything pets serves is its own, so the pages get a strict
//! Content-Security-Policy with no inline script, cannot be framed, are not
//! sniffed, and send no full referrer. A picture (`.svg` especially, since
//! a mounted one could carry a script) opened directly gets a policy that
//! runs nothing.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::hosts::host_allowed;
use crate::settings::WebSettings;

const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";
const PICTURE_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'none'";

/// Middleware: refuses hosts not allowed and cross-site posts, then adds
/// the security headers.
pub async fn guard(
    State(settings): State<Arc<WebSettings>>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = &settings.allowed_hosts;
    if !allowed.is_empty() {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !host_allowed(host, allowed) {
            tracing::warn!(host, path = %request.uri().path(), "refused a request for a host not in PETS_ALLOWED_HOSTS");
            return with_headers(
                AppError::Misdirected(
                    "This server does not answer to that name. Use the address you were given."
                        .into(),
                )
                .into_response(),
                false,
            );
        }
    }
    hardened(request, next).await
}

/// Middleware for any site of ours, pets' or `pets paas`' own pages: refuses
/// cross-site posts ([`csrf`](crate::csrf)), then adds the security headers.
pub async fn hardened(request: Request, next: Next) -> Response {
    let picture = is_picture(request.uri().path());
    if let Some(refusal) = crate::csrf::cross_site_refusal(&request) {
        return with_headers(refusal, picture);
    }
    with_headers(next.run(request).await, picture)
}

fn with_headers(mut response: Response, picture: bool) -> Response {
    let headers = response.headers_mut();
    let policy = if picture { PICTURE_POLICY } else { PAGE_POLICY };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn is_picture(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    (lower.starts_with("/pictures/") || lower.starts_with("/static/"))
        && [".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp"]
            .iter()
            .any(|ext| lower.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_get_the_strict_policy() {
        assert!(is_picture("/pictures/option_a/x.SVG"));
        assert!(is_picture("/static/option_b/dog-happy.svg"));
        assert!(!is_picture("/static/css/pets.css"));
        assert!(!is_picture("/vote"));
    }
}
