//! A small client for the parts of Consul's HTTP API that pets uses: KV reads
//! (plain and blocking), transactions and the status endpoints.
//!
//! It spreads calls over every address `DB` names and fails over between
//! them. Each failure is classified by what it means for a write: either
//! nothing reached Consul ([`CallError::NotSent`], safe to retry anywhere) or
//! the request may have been applied ([`CallError::Unknown`]), which the
//! caller must settle before telling anyone the outcome.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::ConsulSettings;

/// How long a connection attempt may take before the next server is tried.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a write (a transaction) may take.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a plain read may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a blocking query waits in Consul before answering unchanged.
pub const BLOCKING_WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Nothing reached a Consul server, or Consul refused before applying.
    #[error("{0}")]
    NotSent(String),
    /// The request may or may not have been applied.
    #[error("{0}")]
    Unknown(String),
}

impl CallError {
    pub fn message(&self) -> &str {
        match self {
            CallError::NotSent(m) | CallError::Unknown(m) => m,
        }
    }
}

/// One key as Consul returns it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KvEntry {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    pub modify_index: u64,
}

impl KvEntry {
    /// The decoded value, or an empty vector for a key with no value.
    pub fn bytes(&self) -> Vec<u8> {
        self.value
            .as_deref()
            .and_then(|v| BASE64.decode(v).ok())
            .unwrap_or_default()
    }
}

/// One operation of a `/v1/txn` transaction.
#[derive(Debug, Clone, Serialize)]
pub struct TxnOp {
    #[serde(rename = "KV")]
    kv: KvOp,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct KvOp {
    verb: &'static str,
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
}

impl TxnOp {
    /// Writes `value` only if the key's ModifyIndex is still `index`
    /// (0: only if the key does not exist yet).
    pub fn cas(key: String, value: &[u8], index: u64) -> Self {
        Self::op("cas", key, Some(BASE64.encode(value)), Some(index))
    }

    /// Deletes the key only if its ModifyIndex is still `index`.
    pub fn delete_cas(key: String, index: u64) -> Self {
        Self::op("delete-cas", key, None, Some(index))
    }

    /// Reads every key under a prefix; finds nothing rather than failing.
    pub fn get_tree(key: String) -> Self {
        Self::op("get-tree", key, None, None)
    }

    fn op(verb: &'static str, key: String, value: Option<String>, index: Option<u64>) -> Self {
        Self {
            kv: KvOp {
                verb,
                key,
                value,
                index,
            },
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TxnResponse {
    #[serde(default)]
    results: Option<Vec<TxnResult>>,
    #[serde(default)]
    errors: Option<Vec<TxnError>>,
}

#[derive(Debug, Deserialize)]
pub struct TxnResult {
    #[serde(rename = "KV")]
    pub kv: KvEntry,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TxnError {
    pub op_index: usize,
    pub what: String,
}

/// A transaction's definite outcome.
#[derive(Debug)]
pub enum TxnOutcome {
    Committed(Vec<TxnResult>),
    /// Rolled back as a whole; each error names the operation that failed.
    RolledBack(Vec<TxnError>),
}

/// Where `DB` points: parsed once, resolved to addresses again and again.
#[derive(Debug, Clone)]
struct Target {
    scheme: &'static str,
    host: String,
    port: u16,
}

impl Target {
    fn parse(raw: &str) -> Result<Self, String> {
        let (scheme, rest) = if let Some(rest) = raw.strip_prefix("http://") {
            ("http", rest)
        } else if let Some(rest) = raw.strip_prefix("https://") {
            ("https", rest)
        } else {
            ("http", raw)
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') || rest.contains('@') {
            return Err(format!("`{raw}` is not a host, host:port or URL"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("`{raw}` has an invalid port"))?;
                (host.to_owned(), port)
            }
            _ => (rest.to_owned(), 8500),
        };
        if host.is_empty() {
            return Err(format!("`{raw}` names no host"));
        }
        Ok(Self { scheme, host, port })
    }
}

/// Parses `DB`: comma-separated names, `host:port`s or URLs.
fn parse_targets(db: &str) -> Result<Vec<Target>, String> {
    let targets: Vec<_> = db
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Target::parse)
        .collect::<Result<_, _>>()?;
    if targets.is_empty() {
        return Err("DB names no Consul address".into());
    }
    Ok(targets)
}

pub struct ConsulClient {
    http: reqwest::Client,
    targets: Vec<Target>,
    endpoints: RwLock<Vec<String>>,
    current: AtomicUsize,
    token: Option<String>,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    reachable: bool,
    last_error: Option<(Instant, String)>,
}

impl ConsulClient {
    pub fn new(settings: &ConsulSettings) -> Result<Self, String> {
        let targets = parse_targets(&settings.db)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .user_agent(concat!("pets/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &settings.ca_cert_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| format!("CONSUL_CACERT is not a PEM certificate: {e}"))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| e.to_string())?;
        let endpoints = targets.iter().map(Self::unresolved_url).collect();
        Ok(Self {
            http,
            targets,
            endpoints: RwLock::new(endpoints),
            current: AtomicUsize::new(0),
            token: settings.token.clone(),
            health: Mutex::default(),
        })
    }

    fn unresolved_url(target: &Target) -> String {
        format!("{}://{}:{}", target.scheme, target.host, target.port)
    }

    /// Looks the names up again, so a name behind several addresses (Swarm's
    /// `tasks.db`) yields one endpoint per server. https keeps the name, which
    /// its certificate is checked against.
    pub async fn refresh_endpoints(&self) {
        let mut endpoints = Vec::new();
        for target in &self.targets {
            let resolved = if target.scheme == "http" {
                tokio::net::lookup_host((target.host.as_str(), target.port))
                    .await
                    .map(|addrs| addrs.map(|a| format!("http://{a}")).collect::<Vec<_>>())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            if resolved.is_empty() {
                endpoints.push(Self::unresolved_url(target));
            } else {
                endpoints.extend(resolved);
            }
        }
        endpoints.sort();
        endpoints.dedup();
        let mut current = self.endpoints.write().unwrap_or_else(|e| e.into_inner());
        if *current != endpoints {
            tracing::info!(endpoints = ?endpoints, "consul endpoints updated");
            *current = endpoints;
        }
    }

    /// Sends calls to the endpoint on `host` (the leader's address) when
    /// there is one: a follower would only forward them, costing a hop.
    pub fn prefer_host(&self, host: &str) {
        let endpoints = self.endpoints.read().unwrap_or_else(|e| e.into_inner());
        let needle = format!("//{host}:");
        if let Some(slot) = endpoints.iter().position(|e| e.contains(&needle)) {
            self.current.store(slot, Ordering::Relaxed);
        }
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.endpoints
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn reachable(&self) -> bool {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reachable
    }

    pub fn last_error(&self) -> Option<String> {
        let health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        health
            .last_error
            .as_ref()
            .map(|(at, msg)| format!("{msg} ({}s ago)", at.elapsed().as_secs()))
    }

    fn record_ok(&self) {
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        if !health.reachable {
            tracing::info!("consul answers again");
        }
        health.reachable = true;
    }

    fn record_error(&self, message: &str) {
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        if health.reachable {
            tracing::warn!(error = message, "consul call failed");
        }
        health.reachable = false;
        health.last_error = Some((Instant::now(), message.to_owned()));
    }

    /// Sends one request, failing over to the next endpoint while nothing was
    /// sent, and (for reads only) after any failure.
    async fn call(
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
                request = request.header("X-Consul-Token", token);
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
                Ok((status, headers, bytes)) if status.is_server_error() => {
                    classify_server_error(&endpoints[slot], status, &bytes)
                        .map_or(Ok((status, headers, bytes)), Err)
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
                    self.record_error(e.message());
                    let retry = idempotent || matches!(e, CallError::NotSent(_));
                    last = e;
                    if !retry {
                        // Move on for the next call, but this one's fate is open.
                        self.current
                            .store((slot + 1) % endpoints.len(), Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
        Err(last)
    }

    /// Reads every key under `prefix`. With `index`, blocks until something
    /// under it changes past that index (or the wait ends).
    pub async fn list(
        &self,
        prefix: &str,
        index: Option<u64>,
    ) -> Result<(u64, Vec<KvEntry>), CallError> {
        let (query, timeout) = match index {
            Some(index) => (
                format!("?recurse&index={index}&wait={}s", BLOCKING_WAIT.as_secs()),
                BLOCKING_WAIT + BLOCKING_WAIT / 4 + Duration::from_secs(1),
            ),
            None => ("?recurse".to_owned(), READ_TIMEOUT),
        };
        let path = format!("/v1/kv/{prefix}{query}");
        let (status, headers, body) = self.call(Method::GET, &path, None, timeout, true).await?;
        let consul_index = headers
            .get("X-Consul-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        match status {
            StatusCode::NOT_FOUND => Ok((consul_index, Vec::new())),
            s if s.is_success() => {
                let entries = serde_json::from_slice(&body)
                    .map_err(|e| CallError::Unknown(format!("unreadable KV answer: {e}")))?;
                Ok((consul_index, entries))
            }
            s => Err(unexpected(s, &body)),
        }
    }

    /// Reads one key with `?consistent`: the answer reflects every write
    /// committed before the read began.
    pub async fn read_consistent(&self, key: &str) -> Result<Option<KvEntry>, CallError> {
        let path = format!("/v1/kv/{key}?consistent");
        let (status, _, body) = self
            .call(Method::GET, &path, None, READ_TIMEOUT, true)
            .await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let mut entries: Vec<KvEntry> = serde_json::from_slice(&body)
                    .map_err(|e| CallError::Unknown(format!("unreadable KV answer: {e}")))?;
                Ok(entries.pop())
            }
            s => Err(unexpected(s, &body)),
        }
    }

    /// Runs a transaction. Read-only transactions are retried freely;
    /// one that writes is sent once.
    pub async fn txn(&self, ops: &[TxnOp], read_only: bool) -> Result<TxnOutcome, CallError> {
        let body = serde_json::to_vec(ops).expect("transaction operations serialize");
        let (status, _, body) = self
            .call(Method::PUT, "/v1/txn", Some(body), WRITE_TIMEOUT, read_only)
            .await?;
        match status {
            StatusCode::OK | StatusCode::CONFLICT => {
                let answer: TxnResponse = serde_json::from_slice(&body).map_err(|e| {
                    CallError::Unknown(format!("unreadable transaction answer: {e}"))
                })?;
                if status == StatusCode::OK {
                    Ok(TxnOutcome::Committed(answer.results.unwrap_or_default()))
                } else {
                    Ok(TxnOutcome::RolledBack(answer.errors.unwrap_or_default()))
                }
            }
            s => Err(unexpected(s, &body)),
        }
    }

    /// The cluster's leader and servers, as `ip:port` of their RPC ports.
    pub async fn cluster(&self) -> Result<(Option<String>, Vec<String>), CallError> {
        let (_, _, leader) = self
            .call(Method::GET, "/v1/status/leader", None, READ_TIMEOUT, true)
            .await?;
        let (_, _, peers) = self
            .call(Method::GET, "/v1/status/peers", None, READ_TIMEOUT, true)
            .await?;
        let leader: String = serde_json::from_slice(&leader).unwrap_or_default();
        let peers: Vec<String> = serde_json::from_slice(&peers).unwrap_or_default();
        Ok(((!leader.is_empty()).then_some(leader), peers))
    }
}

/// A 5xx from Consul. Some say outright that nothing was applied (no leader
/// to apply it); any other may hide a write that commits later.
fn classify_server_error(endpoint: &str, status: StatusCode, body: &[u8]) -> Option<CallError> {
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
        Some(CallError::NotSent(message))
    } else {
        Some(CallError::Unknown(message))
    }
}

fn unexpected(status: StatusCode, body: &[u8]) -> CallError {
    let text = String::from_utf8_lossy(body);
    // 4xx other than 404/409 means Consul refused the request outright.
    let message = format!("consul answered {status}: {}", text.trim());
    if status.is_client_error() {
        CallError::NotSent(message)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(db: &str) -> Result<Vec<String>, String> {
        Ok(parse_targets(db)?
            .iter()
            .map(ConsulClient::unresolved_url)
            .collect())
    }

    #[test]
    fn db_accepts_names_ports_urls_and_lists() {
        assert_eq!(urls("db").unwrap(), vec!["http://db:8500"]);
        assert_eq!(
            urls("127.0.0.11:8500, https://consul.example:8501/").unwrap(),
            vec!["http://127.0.0.11:8500", "https://consul.example:8501"]
        );
        assert!(parse_targets("db:notaport").is_err());
        assert!(parse_targets("user@db").is_err());
        assert!(parse_targets(" , ").is_err());
        assert!(parse_targets("http://db/v1").is_err());
    }
}
