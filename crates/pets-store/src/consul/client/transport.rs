//! Sending one HTTP call to Consul: spread over every address `DB` names,
//! failing over between them, with each failure classified by what it means
//! for a write: either nothing reached Consul ([`CallError::NotSent`], safe
//! to retry anywhere) or the request may have been applied
//! ([`CallError::Unknown`]), which the caller must settle before telling
//! anyone the outcome. Also keeps the endpoint list fresh and remembers
//! whether Consul answered last time.

use crate::consul::metrics::ConsulMetrics;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};

use super::access::Access;
use super::refusals::RefusalLog;
use crate::consul::kv::CallError;
use crate::consul::settings::{ConsulSettings, Target, Targets};
use crate::sync::{Locked, ReadWrite};

/// How long a connection attempt may take before the next server is tried.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a write (a transaction) may take.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a plain read may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a blocking query waits in Consul before answering unchanged.
pub const BLOCKING_WAIT: Duration = Duration::from_secs(20);

/// Why the client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("CONSUL_CACERT is not a PEM certificate")]
    CaCert(#[source] reqwest::Error),
    #[error("cannot set up the HTTP client")]
    Http(#[source] reqwest::Error),
}

pub struct Transport {
    http: reqwest::Client,
    targets: Targets,
    endpoints: RwLock<Vec<String>>,
    current: AtomicUsize,
    token: Option<SecretString>,
    /// What Consul last said of the token (`access`'s job to ask).
    pub access: RwLock<Access>,
    health: Mutex<Health>,
    pub metrics: ConsulMetrics,
    /// Notified on every failed call: the cluster may have lost its leader,
    /// so whoever watches it should look now rather than at its next turn.
    pub failed: tokio::sync::Notify,
}

#[derive(Default)]
struct Health {
    reachable: bool,
    last_error: Option<(Instant, String)>,
    /// The refusals logged, so each kind is logged once, not per call.
    refusals: RefusalLog,
    /// Since when calls have succeeded after the last failure.
    answered_since: Option<Instant>,
}

/// How long Consul must have answered after a failure before the console
/// stops showing it.
pub const ERROR_CLEARED_AFTER: Duration = Duration::from_secs(60);

impl Transport {
    pub fn new(settings: &ConsulSettings) -> Result<Self, ClientError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .user_agent(concat!("pets/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &settings.ca_cert_pem {
            let cert = reqwest::Certificate::from_pem(pem).map_err(ClientError::CaCert)?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(ClientError::Http)?;
        Ok(Self {
            http,
            endpoints: RwLock::new(settings.targets.urls()),
            targets: settings.targets.clone(),
            current: AtomicUsize::new(0),
            token: settings.token.clone(),
            access: RwLock::default(),
            health: Mutex::default(),
            metrics: ConsulMetrics::default(),
            failed: tokio::sync::Notify::new(),
        })
    }

    /// Looks the names up again, so a name behind several addresses (Swarm's
    /// `tasks.db`) yields one endpoint per server. https keeps the name, which
    /// its certificate is checked against.
    pub async fn refresh_endpoints(&self) {
        let mut endpoints = Vec::new();
        for target in &self.targets.0 {
            let resolved = if target.scheme == "http" {
                tokio::net::lookup_host((target.host.as_str(), target.port))
                    .await
                    .map(|addrs| addrs.map(|a| format!("http://{a}")).collect::<Vec<_>>())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            if resolved.is_empty() {
                endpoints.push(Target::url(target));
            } else {
                endpoints.extend(resolved);
            }
        }
        endpoints.sort();
        endpoints.dedup();
        let mut current = self.endpoints.write_now();
        if *current != endpoints {
            tracing::info!(endpoints = ?endpoints, "consul endpoints updated");
            *current = endpoints;
        }
    }

    /// Sends calls to the endpoint on `host` (the leader's address) when
    /// there is one: a follower would only forward them, costing a hop.
    pub fn prefer_host(&self, host: &str) {
        let endpoints = self.endpoints.read_now();
        let needle = format!("//{host}:");
        if let Some(slot) = endpoints.iter().position(|e| e.contains(&needle)) {
            self.current.store(slot, Ordering::Relaxed);
        }
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.endpoints.read_now().clone()
    }

    /// The endpoints, the one calls go to now (the leader's, when known)
    /// first: for a question any server answers, a dead one is asked last.
    pub fn endpoints_current_first(&self) -> Vec<String> {
        let mut endpoints = self.endpoints();
        if !endpoints.is_empty() {
            let current = self.current.load(Ordering::Relaxed) % endpoints.len();
            endpoints.rotate_left(current);
        }
        endpoints
    }

    pub fn reachable(&self) -> bool {
        self.health.locked().reachable
    }

    /// The last failure, saying how long ago it was and whether Consul has
    /// answered since; once it has answered for [`ERROR_CLEARED_AFTER`], the
    /// failure is history and no longer shown.
    pub fn last_error(&self) -> Option<String> {
        let health = self.health.locked();
        let (at, message) = health.last_error.as_ref()?;
        let ago = at.elapsed().as_secs();
        match health.answered_since {
            Some(since) if since.elapsed() >= ERROR_CLEARED_AFTER => None,
            Some(_) => Some(format!(
                "{message} ({ago} s ago; Consul has answered since)"
            )),
            None => Some(format!("{message} ({ago} s ago)")),
        }
    }

    fn record_ok(&self) {
        let mut health = self.health.locked();
        if !health.reachable {
            tracing::info!("consul answers again");
        }
        health.reachable = true;
        if health.last_error.is_some() && health.answered_since.is_none() {
            health.answered_since = Some(Instant::now());
        }
    }

    fn record_error(&self, message: &str) {
        let mut health = self.health.locked();
        if health.reachable {
            tracing::warn!(error = message, "consul call failed");
        }
        health.reachable = false;
        health.last_error = Some((Instant::now(), message.to_owned()));
        health.answered_since = None;
        self.failed.notify_waiters();
    }

    /// One request to one endpoint, with no failover and without touching
    /// the health the console shows (one server down among answering ones
    /// is no outage): for asking every server the same question. Measured.
    pub async fn ask(
        &self,
        endpoint: &str,
        path: &str,
        timeout: Duration,
    ) -> Result<(StatusCode, Vec<u8>), CallError> {
        let started = std::time::Instant::now();
        let mut request = self.http.get(format!("{endpoint}{path}")).timeout(timeout);
        if let Some(token) = &self.token {
            request = request.header("X-Consul-Token", token.expose_secret());
        }
        let result = async {
            let response = request.send().await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.bytes().await?.to_vec()))
        }
        .await
        .map_err(|e| CallError::NotSent(format!("{endpoint} did not answer: {}", root_cause(&e))));
        self.metrics.observe(
            path,
            started.elapsed(),
            result.as_ref().err().map(|_| "not_sent"),
        );
        result
    }

    /// Some server answered a question asked of all ([`Transport::ask`]).
    pub fn answered(&self) {
        self.record_ok();
    }

    /// No server answered a question asked of all.
    pub fn none_answered(&self, message: &str) {
        self.record_error(message);
    }

    /// Whether calls carry a token.
    pub fn sends_token(&self) -> bool {
        self.token.is_some()
    }

    /// Consul refused `what` to pets' token (a 403, or a transaction's
    /// "Permission denied"): the refusal, naming the token's role, as an
    /// error, recorded and logged like any refusal.
    pub fn acl_refused(&self, what: &str, why: &str) -> CallError {
        let who = self.access.read_now().who(self.sends_token());
        let message = format!("Consul refused {who} for {what}: {why}");
        self.record_refused(&message, coarse(what));
        CallError::Refused(message)
    }

    /// Consul answered, and refused: it is reachable, and the refusal is the
    /// last error the console shows; a refusal is logged once for each
    /// `kind` (a key's last parts left out) while it goes on, not once per
    /// call (see [`RefusalLog`]).
    fn record_refused(&self, message: &str, kind: &str) {
        let mut health = self.health.locked();
        let now = Instant::now();
        health.reachable = true;
        health.last_error = Some((now, message.to_owned()));
        health.answered_since = None;
        if health.refusals.should_log(kind, now) {
            tracing::error!(
                error = message,
                "consul refused a request; nothing was applied"
            );
        }
    }

    /// Sends one request, failing over to the next endpoint while nothing was
    /// sent, and (for reads only) after any failure; measured for `/metrics`.
    pub async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
        idempotent: bool,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), CallError> {
        let started = std::time::Instant::now();
        let result = self
            .send(method, path_and_query, body, timeout, idempotent)
            .await;
        let failure = match &result {
            Ok(_) => None,
            Err(CallError::NotSent(_)) => Some("not_sent"),
            Err(CallError::Unknown(_)) => Some("unknown"),
            Err(CallError::Refused(_)) => Some("refused"),
        };
        self.metrics
            .observe(path_and_query, started.elapsed(), failure);
        result
    }

    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
        idempotent: bool,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), CallError> {
        let endpoints = self.endpoints();
        let start = self.current.load(Ordering::Relaxed);
        let mut last = CallError::NotSent("no Consul endpoint".into());
        for attempt in 0..endpoints.len() {
            let slot = (start + attempt) % endpoints.len();
            let url = format!("{}{}", endpoints[slot], path_and_query);
            let mut request = self.http.request(method.clone(), &url).timeout(timeout);
            if let Some(token) = &self.token {
                request = request.header("X-Consul-Token", token.expose_secret());
            }
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            let result = async {
                let response = request.send().await?;
                let status = response.status();
                let headers = response.headers().clone();
                let bytes = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, headers, bytes.to_vec()))
            }
            .await;
            let error = match result {
                Ok((status, _, bytes)) if status.is_server_error() => {
                    Err(classify_server_error(&endpoints[slot], status, &bytes))
                }
                Ok((status, _, bytes)) if refused(status) => {
                    // The same request meets the same answer anywhere.
                    let text = String::from_utf8_lossy(&bytes);
                    let path = path_and_query.split('?').next().unwrap_or_default();
                    let what = format!("{method} {path}");
                    if status == StatusCode::FORBIDDEN {
                        return Err(self.acl_refused(&what, text.trim()));
                    }
                    let message = format!(
                        "{} refused {what}: {status}: {}",
                        endpoints[slot],
                        text.trim()
                    );
                    self.record_refused(&message, coarse(&what));
                    return Err(CallError::Refused(message));
                }
                Ok(answer) => Ok(answer),
                Err(e) if e.is_connect() => Err(CallError::NotSent(format!(
                    "cannot connect to {}: {}",
                    endpoints[slot],
                    root_cause(&e)
                ))),
                Err(e) => Err(CallError::Unknown(format!(
                    "{} did not answer: {}",
                    endpoints[slot],
                    root_cause(&e)
                ))),
            };
            match error {
                Ok(answer) => {
                    self.current.store(slot, Ordering::Relaxed);
                    self.record_ok();
                    return Ok(answer);
                }
                Err(e) => {
                    let retry = idempotent || matches!(e, CallError::NotSent(_));
                    last = e;
                    if !retry {
                        // Move on for the next call, but this one's fate is open.
                        self.current
                            .store((slot + 1) % endpoints.len(), Ordering::Relaxed);
                        break;
                    }
                    // Another server may answer: only a call that fails
                    // everywhere is an error of the store.
                    tracing::debug!(error = last.message(), "trying the next Consul server");
                }
            }
        }
        self.record_error(last.message());
        Err(last)
    }
}

/// What a refusal was for, without its last part (a voter's record, a
/// replica's own key), so one refused kind of request is one log line.
fn coarse(what: &str) -> &str {
    what.rsplit_once('/').map_or(what, |(head, _)| head)
}

/// A 4xx that means "no": not 404 (nothing there, an answer of its own) or
/// 409 (a transaction rolled back, likewise).
fn refused(status: StatusCode) -> bool {
    status.is_client_error() && status != StatusCode::NOT_FOUND && status != StatusCode::CONFLICT
}

/// A 5xx from Consul. Some say outright that nothing was applied (no leader
/// to apply it); any other may hide a write that commits later.
fn classify_server_error(endpoint: &str, status: StatusCode, body: &[u8]) -> CallError {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let message = format!("{endpoint} answered {status}: {text}");
    // These say the request never reached a leader that could apply it.
    let not_applied = [
        "No cluster leader",
        "No path to datacenter",
        "rpc error getting client",
    ];
    if not_applied.iter().any(|m| text.contains(m)) {
        CallError::NotSent(message)
    } else {
        CallError::Unknown(message)
    }
}

/// A status the caller did not expect (refusals never get here).
pub fn unexpected(status: StatusCode, body: &[u8]) -> CallError {
    let text = String::from_utf8_lossy(body);
    let message = format!("consul answered {status}: {}", text.trim());
    if status.is_client_error() {
        CallError::Refused(message)
    } else {
        CallError::Unknown(message)
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if error.to_string() == cause.to_string() {
        cause.to_string()
    } else {
        format!("{error}: {cause}")
    }
}
