//! The operator console on the service's own host: every instance with its
//! age, time left, health, CPU and memory, buttons to extend (10 minutes
//! more) or stop it, and the totals of capacity; `GET /api/instances` gives the same as JSON.
//!
//! It is closed unless `ADMIN_PASSWORD_FILE` is set. The login is pets' own
//! (`pets_web::auth`): the password kept as a digest and compared in
//! constant time, failed attempts slowed then refused per client (read
//! through `PAAS_TRUSTED_PROXIES`), a signed session cookie
//! (`SameSite=Strict`, `HttpOnly`) that logging out ends on the server, not
//! only in the browser. Forms from other sites are refused by the same
//! guard as pets' ([`pets_web::hardened`]).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use futures::future::join_all;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use pets_web::auth::throttle::{ClientKey, FAILURE_DELAY};
use serde::{Deserialize, Serialize};
use tera::Context;

use crate::engine::Instance;
use crate::gate::COOKIE;
use crate::id::InstanceId;
use crate::pages::{minutes, render, Message};
use crate::state::Paas;

pub fn routes() -> Router<Paas> {
    Router::new()
        .route("/admin", get(console))
        .route("/admin/login", post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/instances/{id}/stop", post(stop))
        .route("/admin/instances/{id}/extend", post(extend))
        .route("/api/instances", get(api))
}

/// What the console shows for a usage the engine gave no sample of.
const NOT_READ: &str = "not read";

/// One instance as the console and the API show it.
#[derive(Serialize)]
pub struct InstanceView {
    id: String,
    version: &'static str,
    url: String,
    admin_url: String,
    created_at: String,
    expires_at: String,
    /// The machine it runs on, when the engine has said.
    node: Option<String>,
    healthy: bool,
    /// `None` when the engine gave no sample (on a Swarm, an instance on
    /// another node than the manager `pets paas` talks to).
    memory_bytes: Option<u64>,
    cpu_percent: Option<f64>,
    /// How many times it started afresh, without its votes.
    restarts: u32,
}

enum Access {
    Closed,
    LoggedOut,
    LoggedIn,
}

fn access(paas: &Paas, headers: &HeaderMap) -> Access {
    let Some(operator) = &paas.operator else {
        return Access::Closed;
    };
    if operator.session(headers).is_some() {
        Access::LoggedIn
    } else {
        Access::LoggedOut
    }
}

fn closed(paas: &Paas) -> Response {
    Message {
        status: StatusCode::NOT_FOUND,
        title: "The operator console is closed",
        message: "It opens when pets paas is started with ADMIN_PASSWORD_FILE.".into(),
        link: None,
        home: &paas.url(None),
    }
    .into_response()
}

async fn console(State(paas): State<Paas>, headers: HeaderMap) -> Response {
    match access(&paas, &headers) {
        Access::Closed => closed(&paas),
        Access::LoggedOut => login_page(None, StatusCode::OK),
        Access::LoggedIn => {
            let all = paas.registry.all();
            let views = views_of(&paas, &all).await;
            let nodes: Vec<NodeHead> = paas
                .registry
                .nodes()
                .into_iter()
                .map(|n| NodeHead {
                    room: paas.registry.room_on(&n),
                    ready: n.ready,
                    up: n.up,
                    name: n.name,
                })
                .collect();
            let now = SystemTime::now();
            let rows: Vec<_> = all
                .iter()
                .zip(&views)
                .map(|(i, v)| {
                    let row = serde_json::json!({
                        "id": v.id, "version": v.version, "url": v.url, "healthy": v.healthy,
                        "age": minutes(now.duration_since(i.created_at).unwrap_or_default()),
                        "left": minutes(i.time_left(now)),
                        "restarts": v.restarts,
                        "cpu": v.cpu_percent.map_or(NOT_READ.into(), |c| format!("{c:.1}%")),
                        "memory": v.memory_bytes.map_or(NOT_READ.into(), |m| {
                            format!("{:.1} MiB", m as f64 / 1048576.0)
                        }),
                    });
                    (i.node.clone(), row)
                })
                .collect();
            let (running, free) = paas.registry.capacity();
            let rules = paas.registry.rules();
            let mut context = Context::new();
            context.insert("nodes", &by_node(nodes, rows));
            context.insert("running", &running);
            context.insert("free", &free);
            context.insert("max", &rules.max_instances);
            context.insert("ttl", &minutes(rules.ttl));
            render(StatusCode::OK, "admin.html", &context)
        }
    }
}

fn login_page(error: Option<&str>, status: StatusCode) -> Response {
    let mut context = Context::new();
    context.insert("error", &error);
    render(status, "admin_login.html", &context)
}

#[derive(Deserialize)]
struct LoginForm {
    password: String,
}

async fn login(
    State(paas): State<Paas>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(operator) = &paas.operator else {
        return closed(&paas);
    };
    let Ok(Form(form)) = form else {
        return login_page(Some("Please enter the password."), StatusCode::BAD_REQUEST);
    };
    let address = paas.client(peer, &headers);
    let client = ClientKey::of(address);
    if let Err(wait) = operator.throttle.check(client) {
        let mut page = login_page(
            Some(&format!("Too many failed attempts: try again in {wait} s.")),
            StatusCode::TOO_MANY_REQUESTS,
        );
        page.headers_mut().insert(header::RETRY_AFTER, wait.into());
        return page;
    }
    if !operator.auth.password_matches(&form.password) {
        operator.throttle.failed(client);
        tracing::warn!(%address, "failed operator login");
        tokio::time::sleep(FAILURE_DELAY).await;
        return login_page(
            Some("That password is not right."),
            StatusCode::UNAUTHORIZED,
        );
    }
    operator.throttle.succeeded(client);
    tracing::info!(%address, "operator logged in");
    let (session, value) = operator.auth.new_session();
    let max_age = session.expires().saturating_sub(pets_store::unix_now());
    let cookie = format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}");
    let mut answer = Redirect::to("/admin").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        answer.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    answer
}

/// Ends the session here, not only in the browser: a copy of the cookie
/// is worth nothing after it.
async fn logout(State(paas): State<Paas>, headers: HeaderMap) -> Response {
    if let Some(operator) = &paas.operator {
        if let Some(session) = operator.session(&headers) {
            operator.revoked.revoke(&session.id, session.expires());
            tracing::info!("operator logged out");
        }
    }
    let mut answer = Redirect::to("/admin").into_response();
    answer.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("paas_admin=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    answer
}

async fn stop(State(paas): State<Paas>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = refuse_change(&paas, &headers) {
        return refusal;
    }
    let Some(id) = InstanceId::parse(&id) else {
        return (StatusCode::NOT_FOUND, "no such instance").into_response();
    };
    match paas.registry.stop(&id).await {
        Ok(true) => Redirect::to("/admin").into_response(),
        Ok(false) => (StatusCode::NOT_FOUND, "no such instance").into_response(),
        Err(e) => {
            tracing::error!(instance = %id, "cannot stop an instance: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the Docker engine refused; nothing was changed",
            )
                .into_response()
        }
    }
}

/// How much time one press of Extend gives.
pub const EXTENSION: Duration = Duration::from_secs(10 * 60);

async fn extend(State(paas): State<Paas>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = refuse_change(&paas, &headers) {
        return refusal;
    }
    let Some(id) = InstanceId::parse(&id) else {
        return (StatusCode::NOT_FOUND, "no such instance").into_response();
    };
    match paas.registry.extend(&id, EXTENSION).await {
        Ok(Some(_)) => Redirect::to("/admin").into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such instance").into_response(),
        Err(e) => {
            tracing::error!(instance = %id, "cannot extend an instance: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the Docker engine refused; nothing was changed",
            )
                .into_response()
        }
    }
}

/// The answer to a change without a session or from another site.
fn refuse_change(paas: &Paas, headers: &HeaderMap) -> Option<Response> {
    match access(paas, headers) {
        Access::Closed => Some(closed(paas)),
        Access::LoggedOut => Some(login_page(None, StatusCode::UNAUTHORIZED)),
        Access::LoggedIn => None,
    }
}

async fn api(State(paas): State<Paas>, headers: HeaderMap) -> Response {
    match access(&paas, &headers) {
        Access::Closed => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "the operator console is closed"})),
        )
            .into_response(),
        Access::LoggedOut => (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "log in at /admin first"})),
        )
            .into_response(),
        Access::LoggedIn => Json(views_of(&paas, &paas.registry.all()).await).into_response(),
    }
}

/// The console's instances grouped by the node they run on: every node the
/// engine names, in its order and with none if it has none, then any node
/// an instance names that the engine did not (`not placed` when the engine
/// has not said).
fn by_node<T: Serialize>(nodes: Vec<NodeHead>, rows: Vec<(Option<String>, T)>) -> Vec<NodeView<T>> {
    let mut groups: Vec<NodeView<T>> = nodes
        .into_iter()
        .map(|head| NodeView {
            head,
            instances: Vec::new(),
        })
        .collect();
    for (node, row) in rows {
        let name = node.unwrap_or_else(|| "not placed".into());
        match groups.iter_mut().find(|g| g.head.name == name) {
            Some(group) => group.instances.push(row),
            None => groups.push(NodeView {
                head: NodeHead {
                    name,
                    ready: false,
                    up: false,
                    room: 0,
                },
                instances: vec![row],
            }),
        }
    }
    groups
}

/// A node as the console heads its part: whether it is up, and its room.
#[derive(Serialize)]
struct NodeHead {
    name: String,
    /// Takes new instances.
    ready: bool,
    /// Its instances run (a paused or drained node is up, not ready).
    up: bool,
    room: usize,
}

/// One node's part of the console.
#[derive(Serialize)]
struct NodeView<T> {
    #[serde(flatten)]
    head: NodeHead,
    instances: Vec<T>,
}

/// The instances with their health and usage, sampled side by side.
async fn views_of(paas: &Paas, all: &[Instance]) -> Vec<InstanceView> {
    join_all(all.iter().map(|i| view(paas, i))).await
}

async fn view(paas: &Paas, i: &Instance) -> InstanceView {
    let (healthy, usage) = tokio::join!(paas.healthy(i), async {
        tokio::time::timeout(Duration::from_secs(5), paas.registry.usage(&i.id)).await
    });
    let usage = usage.ok().and_then(Result::ok);
    InstanceView {
        id: i.id.to_string(),
        version: i.version.tag(),
        url: paas.site_url(&i.id),
        admin_url: paas.admin_url(&i.id),
        created_at: pets_store::clock::rfc3339(i.created_at),
        expires_at: pets_store::clock::rfc3339(i.expires_at),
        node: i.node.clone(),
        healthy,
        memory_bytes: usage.map(|u| u.memory_bytes),
        cpu_percent: usage.map(|u| (u.cpu_percent * 10.0).round() / 10.0),
        restarts: i.restarts,
    }
}

#[cfg(test)]
mod tests {
    use super::{by_node, NodeHead};

    #[test]
    fn instances_are_grouped_under_the_nodes_the_engine_names() {
        let nodes = ["node1", "node2", "node3"]
            .map(|name| NodeHead {
                name: name.into(),
                ready: true,
                up: true,
                room: 1,
            })
            .into();
        let rows = vec![
            (Some("node2".to_owned()), 1),
            (None, 2),
            (Some("node2".to_owned()), 3),
            (Some("gone".to_owned()), 4),
        ];
        let groups: Vec<_> = by_node(nodes, rows)
            .into_iter()
            .map(|g| (g.head.name, g.instances))
            .collect();
        assert_eq!(
            groups,
            [
                ("node1".to_owned(), vec![]),
                ("node2".to_owned(), vec![1, 3]),
                ("node3".to_owned(), vec![]),
                ("not placed".to_owned(), vec![2]),
                ("gone".to_owned(), vec![4]),
            ]
        );
    }
}
