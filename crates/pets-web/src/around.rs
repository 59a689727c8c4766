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
use axum::middleware;
use axum::response::IntoResponse;
use axum::Router;
use tower::{Layer, Service, ServiceBuilder};

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
}
