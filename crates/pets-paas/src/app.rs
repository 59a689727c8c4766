//! The one port `pets paas` serves, dispatched by `Host`: the service's own
//! pages on `<domain>`, instances on their subdomains through the proxy, a
//! 404 page for anything else.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http::{header, Request, StatusCode};
use tower::ServiceExt;

use crate::host::{route, Route};
use crate::id::InstanceId;
use crate::pages::{no_such_pets, Message};
use crate::proxy::NotAnswering;
use crate::state::Paas;
use crate::visitors::{create, landing, status, waiting};

const STYLE: &str = include_str!("../templates/paas.css");
const SCRIPT: &str = include_str!("../templates/paas.js");

/// The whole service: dispatch by `Host`, then the service's routes.
pub fn router(paas: Paas) -> Router {
    let service = Router::new()
        .route("/", get(landing))
        .route("/health", get(|| async { "ok" }))
        .route("/instances", post(create))
        .route("/instances/{id}", get(waiting))
        .route("/instances/{id}/status", get(status))
        .route(
            "/static/paas.css",
            get(|| crate::pages::asset("text/css", STYLE)),
        )
        // pets' own stylesheet and paw, from the same compiled-in files.
        .route("/static/css/pets.css", get(pets_asset))
        .route("/static/favicon.svg", get(pets_asset))
        .route(
            "/static/paas.js",
            get(|| crate::pages::asset("text/javascript", SCRIPT)),
        )
        .merge(crate::operator::routes())
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024))
        .fallback(not_found)
        .with_state(paas.clone());
    // The service's own pages get what pets' have, from the same code.
    let service = pets_web::hardened(service);
    Router::new().fallback(
        move |ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request<Body>| {
            let paas = paas.clone();
            let service = service.clone();
            async move {
                let host = request
                    .headers()
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned);
                match route(host.as_deref(), paas.domain()) {
                    Route::Service => service.oneshot(request).await.into_response(),
                    Route::Site(id) => proxied(&paas, id, 5000, request, peer).await,
                    Route::Console(id) => proxied(&paas, id, 7000, request, peer).await,
                    Route::Unknown => no_such_pets(&paas.url(None)),
                }
            }
        },
    )
}

async fn proxied(
    paas: &Paas,
    id: InstanceId,
    port: u16,
    request: Request<Body>,
    peer: SocketAddr,
) -> Response {
    let Some(instance) = paas.registry.get(&id) else {
        return no_such_pets(&paas.url(None));
    };
    // No address: on a Swarm, it runs nowhere now (starting, or moving);
    // a stopped container keeps its address and gets the page below.
    let Some(address) = instance.address else {
        return on_its_way(paas, &id);
    };
    let client = paas.client(peer, request.headers());
    let https = pets_web::auth::client::came_over_https(
        peer.ip(),
        request.headers(),
        &paas.trusted_proxies,
    );
    match paas
        .proxy
        .forward(request, address, port, client, https)
        .await
    {
        Ok(answer) => answer,
        Err(NotAnswering) => Message {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "Your pets is not answering",
            message: "It may still be starting, or it was stopped. Try again in a few seconds."
                .into(),
            link: Some((paas.url(None) + &format!("instances/{id}"), "Its page")),
            home: &paas.url(None),
        }
        .into_response(),
    }
}

/// An instance that exists but runs nowhere now: starting, or being
/// started again on another machine after its own was lost. A page that
/// says so and reloads itself, never a bare 502.
fn on_its_way(paas: &Paas, id: &InstanceId) -> Response {
    let mut page = Message {
        status: StatusCode::SERVICE_UNAVAILABLE,
        title: "Your pets is on its way",
        message: "It is starting, or moving to another machine because the one it ran on \
                  stopped answering. A pets that moves starts afresh: the votes it held are gone. \
                  This page reloads itself."
            .into(),
        link: Some((paas.url(None) + &format!("instances/{id}"), "Its page")),
        home: &paas.url(None),
    }
    .into_response();
    let headers = page.headers_mut();
    headers.insert(header::RETRY_AFTER, http::HeaderValue::from_static("3"));
    headers.insert("refresh", http::HeaderValue::from_static("3"));
    page
}

/// A file of pets' own `web/static`, by the path asked for.
async fn pets_asset(uri: http::Uri, headers: http::HeaderMap) -> Response {
    let path = uri.path().trim_start_matches("/static/");
    pets_web::assets::embedded(path, &headers)
        .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

async fn not_found(State(paas): State<Paas>) -> Response {
    Message {
        status: StatusCode::NOT_FOUND,
        title: "Not found",
        message: "There is no such page.".into(),
        link: None,
        home: &paas.url(None),
    }
    .into_response()
}
