//! `GET /metrics` on the admin port, in Prometheus's text format (written by
//! the `prometheus` crate): requests by site, route and status with latency
//! histograms, votes recorded and refused by reason, pets served by this
//! replica, the store's state, the Consul client's calls (see the store),
//! who this replica is (`pets_info`), and the process's memory, CPU and open
//! files.
//!
//! Scrapers carry no cookie, so `/metrics` is outside the console's login;
//! with `METRICS_TOKEN_FILE` set it asks for `Authorization: Bearer <token>`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pets_store::{ReplicaIdentity, Store};
use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};
use secrecy::{ExposeSecret, SecretString};

use crate::error::AppError;

/// Every metric this replica keeps.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    votes: IntCounter,
    refused: IntCounterVec,
    pets_served: IntCounter,
    store_reachable: IntGauge,
    store_leader: IntGauge,
    token: Option<SecretString>,
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).expect("valid metric")
}

fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).expect("valid metric")
}

fn counters(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

impl Metrics {
    pub fn new(store: &dyn Store, token: Option<SecretString>) -> Self {
        // 0.1 ms to about 6.5 s.
        let buckets = exponential_buckets(0.0001, 2.0, 17).expect("valid buckets");
        let metrics = Self {
            registry: Registry::new(),
            requests: counters(
                "pets_http_requests_total",
                "HTTP requests answered, by site (voter, admin), route, method and status",
                &["site", "route", "method", "status"],
            ),
            durations: HistogramVec::new(
                HistogramOpts::new(
                    "pets_http_request_duration_seconds",
                    "Time to answer HTTP requests, by site and route",
                )
                .buckets(buckets),
                &["site", "route"],
            )
            .expect("valid metric"),
            votes: counter(
                "pets_votes_total",
                "Votes this replica recorded (each one committed to the store)",
            ),
            refused: counters(
                "pets_votes_refused_total",
                "Votes this replica refused, by reason: invalid (a 400), store (a 503: not recorded) or unconfirmed (a 504: sent to the store, not confirmed in time)",
                &["reason"],
            ),
            pets_served: counter("pets_pets_served_total", "Pet pages this replica served"),
            store_reachable: gauge(
                "pets_store_reachable",
                "1 while the last exchange with the store succeeded",
            ),
            store_leader: gauge(
                "pets_store_leader_known",
                "1 while the store knows a leader (for Consul: 0 during an election as well as without a quorum)",
            ),
            token,
        };
        let r = &metrics.registry;
        let _ = r.register(Box::new(metrics.requests.clone()));
        let _ = r.register(Box::new(metrics.durations.clone()));
        let _ = r.register(Box::new(metrics.votes.clone()));
        let _ = r.register(Box::new(metrics.refused.clone()));
        let _ = r.register(Box::new(metrics.pets_served.clone()));
        let _ = r.register(Box::new(metrics.store_reachable.clone()));
        let _ = r.register(Box::new(metrics.store_leader.clone()));
        let _ = r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));
        store.register_metrics(r);
        metrics
    }

    /// `pets_info`: who this replica is, as labels on a gauge that is
    /// always 1 (Prometheus's convention for information).
    pub fn describe(&self, identity: &ReplicaIdentity) {
        let info = IntGauge::with_opts(
            Opts::new(
                "pets_info",
                "This replica: version, id, host, Swarm node and slot (always 1)",
            )
            .const_label("version", &identity.version)
            .const_label("replica", &identity.id)
            .const_label("host", &identity.host)
            .const_label("node", identity.node.as_deref().unwrap_or(""))
            .const_label("slot", identity.slot.as_deref().unwrap_or("")),
        )
        .expect("valid metric");
        info.set(1);
        let _ = self.registry.register(Box::new(info));
    }

    pub fn vote_recorded(&self) {
        self.votes.inc();
    }

    pub fn vote_refused(&self, reason: &'static str) {
        self.refused.with_label_values(&[reason]).inc();
    }

    pub fn pet_served(&self) {
        self.pets_served.inc();
    }

    /// Everything, in Prometheus's text format, with the store's state as
    /// it is now.
    pub fn encode(&self, store: &dyn Store) -> Result<String, prometheus::Error> {
        let status = store.snapshot().status;
        self.store_reachable.set(i64::from(status.reachable));
        self.store_leader
            .set(i64::from(status.leader.is_some() || !store.kind().shared()));
        let mut text = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut text)?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    fn allowed(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        constant_time_eq(given.as_bytes(), token.expose_secret().as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /metrics`.
pub async fn scrape(
    State(metrics): State<Arc<Metrics>>,
    State(store): State<Arc<dyn Store>>,
    headers: HeaderMap,
) -> Response {
    if !metrics.allowed(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "/metrics needs the token from METRICS_TOKEN_FILE: send Authorization: Bearer <token>.\n",
        )
            .into_response();
    }
    match metrics.encode(store.as_ref()) {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(e) => AppError::Internal(format!("metrics could not be written: {e}")).into_response(),
    }
}

/// Middleware: counts and times every request by its route (the pattern it
/// matched, so a path's variable parts do not make a series each).
pub async fn measure(
    State((metrics, site)): State<(Arc<Metrics>, &'static str)>,
    request: Request,
    next: Next,
) -> Response {
    // The matched pattern is shared (no copy); the method is one of a fixed
    // set, so no client can make series at will.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = match *request.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    metrics
        .durations
        .with_label_values(&[site, route])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .with_label_values(&[site, route, method, response.status().as_str()])
        .inc();
    response
}
