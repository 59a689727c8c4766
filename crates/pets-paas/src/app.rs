//! The one port `pets paas` serves, dispatched by `Host`: the service's own
//! pages on `<domain>`, instances on their subdomains through the proxy, a
//! 404 page for anything else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use http::{header, Request, StatusCode};
use pets_store::domain::VoterName;
use secrecy::ExposeSecret;
use serde::Deserialize;
use tera::Context;
use tower::ServiceExt;

use crate::engine::{Instance, Version};
use crate::host::{route, Route};
use crate::id::InstanceId;
use crate::limits::TooMany;
use crate::pages::{minutes, render, Message};
use crate::proxy::{NotAnswering, Proxy};
use crate::registry::{Refusal, Registry, Request as Wanted};

/// What every handler shares.
#[derive(Clone)]
pub struct Paas {
    pub registry: Arc<Registry>,
    pub proxy: Proxy,
    /// The port visitors use, for the links the service makes.
    pub public_port: u16,
    /// The operator console's login, when it has a password.
    pub operator: Option<Arc<crate::admin::Operator>>,
    /// `PAAS_TRUSTED_PROXIES`: whose forwarding headers name the visitor.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    probe: reqwest::Client,
}

impl Paas {
    pub fn new(
        registry: Arc<Registry>,
        public_port: u16,
        admin_password: Option<&secrecy::SecretString>,
        trusted_proxies: &[ipnet::IpNet],
    ) -> Self {
        Self {
            registry,
            proxy: Proxy::default(),
            public_port,
            operator: admin_password.map(|p| Arc::new(crate::admin::Operator::new(p))),
            trusted_proxies: trusted_proxies.into(),
            probe: reqwest::Client::builder()
                .timeout(Duration::from_secs(1))
                .build()
                .expect("a plain HTTP client builds"),
        }
    }

    /// Whether the instance answers its health check now.
    pub async fn healthy(&self, instance: &Instance) -> bool {
        match instance.address {
            Some(address) => self
                .probe
                .get(format!("http://{address}:5000/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
            None => false,
        }
    }

    /// The visitor behind `peer`, read through the trusted proxies as pets
    /// reads it: one instance per visitor, and the login throttle, count
    /// this address.
    pub fn client(&self, peer: SocketAddr, headers: &http::HeaderMap) -> std::net::IpAddr {
        pets_web::auth::client::client_address(peer.ip(), headers, &self.trusted_proxies)
    }

    fn domain(&self) -> &str {
        &self.registry.rules().domain
    }

    /// `http://<name>.<domain>:<port>/`, or the service's own address.
    pub fn url(&self, name: Option<String>) -> String {
        let host = match name {
            Some(name) => format!("{name}.{}", self.domain()),
            None => self.domain().to_owned(),
        };
        match self.public_port {
            80 => format!("http://{host}/"),
            port => format!("http://{host}:{port}/"),
        }
    }

    pub fn site_url(&self, id: &InstanceId) -> String {
        self.url(Some(id.to_string()))
    }

    pub fn admin_url(&self, id: &InstanceId) -> String {
        self.url(Some(format!("{id}-admin")))
    }
}

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
        .route(
            "/static/paas.js",
            get(|| crate::pages::asset("text/javascript", SCRIPT)),
        )
        .merge(crate::admin::routes())
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
                    Route::Unknown => no_such_pets(&paas),
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
    let Some(address) = paas.registry.get(&id).and_then(|i| i.address) else {
        return no_such_pets(paas);
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

fn no_such_pets(paas: &Paas) -> Response {
    Message {
        status: StatusCode::NOT_FOUND,
        title: "No such pets",
        message: "There is no pets at this address: it never existed, or its time is up.".into(),
        link: None,
        home: &paas.url(None),
    }
    .into_response()
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

async fn landing(State(paas): State<Paas>, headers: http::HeaderMap) -> Response {
    let notice = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|opened_at| bare_address_notice(&paas, opened_at));
    landing_page(&paas, None, notice, StatusCode::OK)
}

/// Opened at a bare address rather than the service's domain: where the
/// instances will be all the same, and, with a `localhost` domain, that
/// only this machine's browsers find them.
fn bare_address_notice(paas: &Paas, opened_at: &str) -> Option<String> {
    let name = opened_at
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty())
        .map_or(opened_at, |(name, _)| name);
    if !crate::host::is_address(name) {
        return None;
    }
    let domain = paas.domain();
    let example = paas.url(Some("<id>".into()));
    let mut notice = format!(
        "You opened this page at {name}. Each pets made here lives at its own name, such as {example}, not at this address."
    );
    if domain == "localhost" || domain.ends_with(".localhost") {
        notice.push_str(
            " Only a browser on the machine running pets paas finds *.localhost names:              to reach pets from other machines, set PAAS_DOMAIN to a name whose              subdomains all lead to this machine.",
        );
    }
    Some(notice)
}

fn landing_with(paas: &Paas, error: Option<String>, status: StatusCode) -> Response {
    landing_page(paas, error, None, status)
}

fn landing_page(
    paas: &Paas,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let (running, free) = paas.registry.capacity();
    let mut context = Context::new();
    context.insert("notice", &notice);
    context.insert(
        "ttl_minutes",
        &paas.registry.rules().ttl.as_secs().div_ceil(60),
    );
    context.insert("running", &running);
    context.insert("free", &free);
    context.insert("error", &error);
    render(status, "landing.html", &context)
}

/// The creation form; every field optional.
#[derive(Deserialize)]
pub struct CreateForm {
    option_a: Option<String>,
    option_b: Option<String>,
    option_c: Option<String>,
    version: Option<String>,
}

impl CreateForm {
    fn parse(self) -> Result<Wanted, String> {
        let option = |raw: Option<String>| match raw.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(name) => VoterName::parse(name).map(Some),
        };
        Ok(Wanted {
            options: [
                option(self.option_a)?,
                option(self.option_b)?,
                option(self.option_c)?,
            ],
            version: Version::parse(self.version.as_deref().unwrap_or(""))
                .ok_or_else(|| "The version is 1.0 or 2.0.".to_owned())?,
        })
    }
}

async fn create(
    State(paas): State<Paas>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: http::HeaderMap,
    form: Result<Form<CreateForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let wanted = match form
        .map_err(|e| e.body_text())
        .and_then(|Form(f)| f.parse())
    {
        Ok(wanted) => wanted,
        Err(problem) => return landing_with(&paas, Some(problem), StatusCode::BAD_REQUEST),
    };
    let home = paas.url(None);
    match paas
        .registry
        .create(paas.client(peer, &headers), wanted)
        .await
    {
        Ok(instance) => claimed(&paas, &instance.id),
        Err(Refusal::AlreadyHasOne(id)) => Message {
            status: StatusCode::CONFLICT,
            title: "You already have a pets",
            message: "One pets at a time for each address; yours is still running.".into(),
            link: Some((format!("/instances/{id}"), "Your pets")),
            home: &home,
        }
        .into_response(),
        Err(Refusal::Full { max, next_free_in }) => Message {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "Full",
            message: format!(
                "All {max} pets are in use. The next one is free in {}.",
                minutes(next_free_in)
            ),
            link: None,
            home: &home,
        }
        .into_response(),
        Err(Refusal::TooMany(why)) => {
            let (whose, wait) = match why {
                TooMany::FromYou(wait) => ("from your address", wait),
                TooMany::FromEveryone(wait) => ("from everyone together", wait),
            };
            let mut page = Message {
                status: StatusCode::TOO_MANY_REQUESTS,
                title: "Too many new pets",
                message: format!(
                    "Too many pets were made {whose} lately. Try again in {}.",
                    minutes(wait)
                ),
                link: None,
                home: &home,
            }
            .into_response();
            page.headers_mut()
                .insert(header::RETRY_AFTER, wait.as_secs().max(1).into());
            page
        }
        Err(Refusal::Engine(e)) => {
            tracing::error!("cannot create an instance: {e}");
            Message {
                status: StatusCode::SERVICE_UNAVAILABLE,
                title: "Cannot make a pets now",
                message: "The container engine refused. Nothing was made; try again later.".into(),
                link: None,
                home: &home,
            }
            .into_response()
        }
    }
}

/// The cookie that ties a new instance's password to the browser that
/// asked for it: only that browser is shown it, whoever else gets the link.
const CLAIM_COOKIE: &str = "paas_claim";

/// The answer to a creation: its waiting page, with the claim on its
/// password in a cookie only that page's path is sent.
fn claimed(paas: &Paas, id: &InstanceId) -> Response {
    let mut answer = Redirect::to(&format!("/instances/{id}")).into_response();
    if let Some(claim) = paas.registry.take_claim(id) {
        let cookie = format!(
            "{CLAIM_COOKIE}={claim}; Path=/instances/{id}; HttpOnly; SameSite=Lax; Max-Age=3600"
        );
        if let Ok(cookie) = http::HeaderValue::from_str(&cookie) {
            answer.headers_mut().insert(header::SET_COOKIE, cookie);
        }
    }
    answer
}

async fn waiting(
    State(paas): State<Paas>,
    Path(id): Path<String>,
    headers: http::HeaderMap,
) -> Response {
    let Some(instance) = InstanceId::parse(&id).and_then(|id| paas.registry.get(&id)) else {
        return no_such_pets(&paas);
    };
    let claim = pets_web::auth::cookie(&headers, CLAIM_COOKIE);
    let password = paas.registry.take_password(&instance.id, claim.as_deref());
    let left = instance.time_left(SystemTime::now());
    let mut context = Context::new();
    context.insert("id", instance.id.as_str());
    context.insert("site_url", &paas.site_url(&instance.id));
    context.insert("admin_url", &paas.admin_url(&instance.id));
    context.insert(
        "password",
        &password.as_ref().map(|p| p.expose_secret().to_owned()),
    );
    context.insert("password_shown", &password.is_some());
    context.insert("seconds_left", &left.as_secs());
    context.insert("left", &minutes(left));
    let mut page = render(StatusCode::OK, "waiting.html", &context);
    page.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    page
}

async fn status(State(paas): State<Paas>, Path(id): Path<String>) -> Response {
    let instance: Option<Instance> = InstanceId::parse(&id).and_then(|id| paas.registry.get(&id));
    let Some(instance) = instance else {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"ready": false, "gone": true})),
        )
            .into_response();
    };
    let ready = paas.healthy(&instance).await;
    Json(serde_json::json!({
        "ready": ready,
        "gone": false,
        "url": paas.site_url(&instance.id),
        "admin_url": paas.admin_url(&instance.id),
        "seconds_left": instance.time_left(SystemTime::now()).as_secs(),
    }))
    .into_response()
}
