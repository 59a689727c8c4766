//! Middleware applied once around a whole router rather than to each of its
//! routes.
//!
//! `Router::layer` wraps every route in the layer and boxes the result, so a
//! request passes one more boxed service per layer, and each of those clones
//! everything inside it on every call (what that cost is in
//! `docs/PERFORMANCE.md`). [`wrap`] wraps the finished router instead, as the one fallback of an
//! otherwise empty router: one box, whose clone is the router's reference
//! count. Use it for middleware that does not need the matched route (the
//! route-level metrics stay a `route_layer`).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware;
use axum::response::IntoResponse;
use axum::Router;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::extract::MAX_BODY_BYTES;
use crate::settings::WebSettings;

/// `router` with `layer` wrapped around all of it, fallback included.
pub fn wrap<L>(router: Router, layer: L) -> Router
where
    L: Layer<Router>,
    L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Response: IntoResponse + 'static,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
    Router::new().fallback_service(layer.layer(router))
}

/// A site's finished routes with what every request to either port goes
/// through: the body's size limit and the [guard](crate::guard).
pub(crate) fn site(routes: Router, settings: &Arc<WebSettings>) -> Router {
    wrap(
        routes,
        ServiceBuilder::new()
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(middleware::from_fn_with_state(
                settings.clone(),
                crate::guard::guard,
            )),
    )
}

/// The header naming the version that answered (`PETS_VERSION`).
pub const VERSION_HEADER: &str = "x-pets-version";
/// The header naming the replica that answered, by its id in the fleet.
pub const REPLICA_HEADER: &str = "x-pets-replica";

/// The voter site: a [`site`] whose every answer, refusals and errors
/// included, also says which version and which replica gave it
/// ([`VERSION_HEADER`], [`REPLICA_HEADER`]), so a client (`pets load`) can
/// watch a rolling update move traffic from one version to the next. In
/// the same box as the rest: one constant header each, cloned per answer.
pub(crate) fn voter_site(routes: Router, settings: &Arc<WebSettings>) -> Router {
    // A value that is no valid header text (a strange `PETS_VERSION`) is
    // not sent rather than sent wrong.
    let named = |name: &'static str, value: &str| {
        SetResponseHeaderLayer::overriding(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).ok(),
        )
    };
    wrap(
        routes,
        ServiceBuilder::new()
            .layer(named(VERSION_HEADER, &settings.version))
            .layer(named(REPLICA_HEADER, &settings.replica))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(middleware::from_fn_with_state(
                settings.clone(),
                crate::guard::guard,
            )),
    )
}

/// A site that is not pets' own (`pets paas`' pages) with what pets' sites
/// have: cross-site posts refused and the security headers, from the same
/// code. (Its host check is the service's own routing.)
pub fn hardened(routes: Router) -> Router {
    wrap(routes, middleware::from_fn(crate::guard::hardened))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{HeaderValue, StatusCode};
    use axum::middleware::{self, Next};
    use axum::response::Response;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn mark(request: Request, next: Next) -> Response {
        let mut response = next.run(request).await;
        response
            .headers_mut()
            .insert("x-around", HeaderValue::from_static("yes"));
        response
    }

    async fn call(router: &Router, path: &str) -> Response {
        let request = Request::builder().uri(path).body(Body::empty()).unwrap();
        router.clone().oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn wraps_routes_and_the_fallback_alike() {
        let inner = Router::new()
            .route("/here", get(|| async { "here" }))
            .fallback(|| async { (StatusCode::NOT_FOUND, "nowhere") });
        let router = wrap(inner, middleware::from_fn(mark));
        let found = call(&router, "/here").await;
        assert_eq!(found.status(), StatusCode::OK);
        assert_eq!(found.headers()["x-around"], "yes");
        let missing = call(&router, "/elsewhere").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.headers()["x-around"], "yes");
    }

    #[tokio::test]
    async fn the_voter_site_names_its_version_and_replica_on_every_answer() {
        let settings = WebSettings {
            version: "2.0".into(),
            replica: "c0ffee-1a2b3c".into(),
            ..WebSettings::example()
        };
        let inner = Router::new().route("/here", get(|| async { "here" }));
        let router = voter_site(inner.clone(), &Arc::new(settings.clone()));
        for (path, status) in [("/here", StatusCode::OK), ("/gone", StatusCode::NOT_FOUND)] {
            let answer = call(&router, path).await;
            assert_eq!(answer.status(), status);
            assert_eq!(answer.headers()[VERSION_HEADER], "2.0");
            assert_eq!(answer.headers()[REPLICA_HEADER], "c0ffee-1a2b3c");
        }
        // Refused by the guard (the request names no allowed host): named too.
        let guarded = Arc::new(WebSettings {
            allowed_hosts: vec!["pets.example".into()],
            ..settings
        });
        let refused = call(&voter_site(inner, &guarded), "/here").await;
        assert_eq!(refused.status(), StatusCode::MISDIRECTED_REQUEST);
        assert_eq!(refused.headers()[VERSION_HEADER], "2.0");
        let odd = Arc::new(WebSettings {
            version: "bad\nvalue".into(),
            ..WebSettings::example()
        });
        let unnamed = call(&voter_site(Router::new(), &odd), "/").await;
        assert!(unnamed.headers().get(VERSION_HEADER).is_none());
        assert_eq!(unnamed.headers()[REPLICA_HEADER], "example-000000");
    }
}
