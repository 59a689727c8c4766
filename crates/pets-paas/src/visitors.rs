//! The visitor's pages on the service's own host: the landing page (also
//! at a bare address), the creation form, the waiting page with the
//! one-time password for the browser that asked, and the status the
//! waiting page polls.

use std::net::SocketAddr;
use std::time::SystemTime;

use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use http::{header, StatusCode};
use pets_store::domain::VoterName;
use secrecy::ExposeSecret;
use serde::Deserialize;
use tera::Context;

use crate::engine::{Instance, Version};
use crate::id::InstanceId;
use crate::limits::TooMany;
use crate::pages::{minutes, no_such_pets, render, Message};
use crate::registry::{Refusal, Request as Wanted};
use crate::state::Paas;

pub async fn landing(State(paas): State<Paas>, headers: http::HeaderMap) -> Response {
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
    if crate::host::is_local(domain) {
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

pub async fn create(
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

pub async fn waiting(
    State(paas): State<Paas>,
    Path(id): Path<String>,
    headers: http::HeaderMap,
) -> Response {
    let Some(instance) = InstanceId::parse(&id).and_then(|id| paas.registry.get(&id)) else {
        return no_such_pets(&paas.url(None));
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
    context.insert("restarts", &instance.restarts);
    context.insert("seconds_left", &left.as_secs());
    context.insert("left", &minutes(left));
    let site = paas.site_url(&instance.id);
    context.insert(
        "qr",
        &pets_web::qr::svg(&site, "QR code of your pets' address"),
    );
    if crate::host::is_local(paas.domain()) {
        context.insert(
            "qr_note",
            "Only this machine reaches it: the service's domain is localhost.",
        );
    }
    let mut page = render(StatusCode::OK, "waiting.html", &context);
    page.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    page
}

pub async fn status(State(paas): State<Paas>, Path(id): Path<String>) -> Response {
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
        "restarts": instance.restarts,
    }))
    .into_response()
}
