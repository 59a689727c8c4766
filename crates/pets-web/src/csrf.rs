//! Refuses form posts sent by another site.
//!
//! A browser says where a request came from: `Sec-Fetch-Site` in current
//! browsers, `Origin` in older ones. A state-changing request that either
//! header places on another origin is refused with 403. Clients that send
//! neither (curl, load generators, health checkers) are not browsers acting
//! for a visitor, and are served.

use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    if is_safe(request.method()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let sent_by_another_site = if let Some(site) = headers.get("sec-fetch-site") {
        !matches!(site.as_bytes(), b"same-origin" | b"none")
    } else if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).map(|h| h.as_bytes());
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, host)| host.as_bytes());
        origin_host.is_none() || origin_host != host
    } else {
        false
    };
    if sent_by_another_site {
        tracing::warn!(path = %request.uri().path(), "refused a cross-site form post");
        return AppError::Forbidden(
            "This form was sent from another site, so it was refused. Open the page here and send it again.".into(),
        )
        .into_response();
    }
    next.run(request).await
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}
