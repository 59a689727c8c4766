//! A small client for the parts of Consul's HTTP API that pets uses: KV
//! listing (plain and blocking), consistent reads, transactions and the
//! status endpoints. It implements the [`Kv`] seam the protocols run on;
//! sending, failover and classifying failures are [`transport`]'s job.

mod access;
mod refusals;
mod transport;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use self::transport::{unexpected, Transport};
use crate::consul::kv::{CallError, Kv, KvEntry, TxnError, TxnOp, TxnOutcome, TxnResult};
use crate::consul::settings::ConsulSettings;
use crate::fleet::ServerInfo;
use crate::sync::ReadWrite;

pub use self::access::Access;
pub use self::transport::{
    ClientError, BLOCKING_WAIT, CONNECT_TIMEOUT, READ_TIMEOUT, WRITE_TIMEOUT,
};

/// Consul's HTTP API, as pets uses it.
pub struct ConsulClient {
    transport: Transport,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TxnResponse {
    #[serde(default)]
    results: Option<Vec<TxnResult>>,
    #[serde(default)]
    errors: Option<Vec<TxnError>>,
}

/// Whether a transaction may be sent again after a failure.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// It only reads: retry on any failure.
    Freely,
    /// It writes: send it once; a failure after sending leaves it open.
    Never,
}

impl ConsulClient {
    pub fn new(settings: &ConsulSettings) -> Result<Self, ClientError> {
        Ok(Self {
            transport: Transport::new(settings)?,
        })
    }

    /// What the calls measured, for `/metrics`.
    pub fn metrics(&self) -> &crate::consul::metrics::ConsulMetrics {
        &self.transport.metrics
    }

    /// The addresses calls go to, names resolved.
    pub fn endpoints(&self) -> Vec<String> {
        self.transport.endpoints()
    }

    /// Whether the last call was answered.
    pub fn reachable(&self) -> bool {
        self.transport.reachable()
    }

    /// The last failure, with how long ago it was.
    pub fn last_error(&self) -> Option<String> {
        self.transport.last_error()
    }

    /// Looks the names in `DB` up again.
    pub async fn refresh_endpoints(&self) {
        self.transport.refresh_endpoints().await
    }

    /// Completes at the next failed call.
    pub async fn failed(&self) {
        self.transport.failed.notified().await
    }

    /// Sends calls to the endpoint on `host` (the leader) when there is one.
    pub fn prefer_host(&self, host: &str) {
        self.transport.prefer_host(host)
    }

    /// Reads every key under `prefix`. With `index`, blocks until something
    /// under it changes past that index (or the wait ends).
    async fn list_prefix(
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
        let (status, headers, body) = self
            .transport
            .call(Method::GET, &path, None, timeout, true)
            .await?;
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
    async fn read_one(&self, key: &str) -> Result<Option<KvEntry>, CallError> {
        let path = format!("/v1/kv/{key}?consistent");
        let (status, _, body) = self
            .transport
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

    /// Runs a transaction.
    async fn txn(&self, ops: &[TxnOp], retry: Retry) -> Result<TxnOutcome, CallError> {
        let body = serde_json::to_vec(ops).expect("transaction operations serialize");
        let idempotent = retry == Retry::Freely;
        let (status, _, body) = self
            .transport
            .call(
                Method::PUT,
                "/v1/txn",
                Some(body),
                WRITE_TIMEOUT,
                idempotent,
            )
            .await?;
        match status {
            StatusCode::OK | StatusCode::CONFLICT => {
                let answer: TxnResponse = serde_json::from_slice(&body).map_err(|e| {
                    CallError::Unknown(format!("unreadable transaction answer: {e}"))
                })?;
                if status == StatusCode::OK {
                    return Ok(TxnOutcome::Committed(answer.results.unwrap_or_default()));
                }
                let errors = answer.errors.unwrap_or_default();
                // Consul answers an operation the token may not run as a
                // rolled-back transaction; it is a refusal, not a conflict.
                if let Some(denied) = errors.iter().find(|e| access::is_acl_refusal(&e.what)) {
                    let what = ops.get(denied.op_index).map_or_else(
                        || "a transaction".to_owned(),
                        |op| format!("{} on {}", op.kv.verb, op.kv.key),
                    );
                    return Err(self.transport.acl_refused(&what, &denied.what));
                }
                Ok(TxnOutcome::RolledBack(errors))
            }
            s => Err(unexpected(s, &body)),
        }
    }

    /// Asks Consul what pets' token may do (`/v1/acl/token/self`) and keeps
    /// the answer for refusals and the console; an answer that says nothing
    /// (no server answered) keeps the last.
    pub async fn look_up_access(&self) {
        for endpoint in self.transport.endpoints_current_first() {
            let Ok((status, body)) = self
                .transport
                .ask(&endpoint, "/v1/acl/token/self", READ_TIMEOUT)
                .await
            else {
                continue;
            };
            if let Some(access) = Access::from_answer(status, &body, self.transport.sends_token()) {
                let mut known = self.transport.access.write_now();
                if *known != access {
                    if let Some(words) = access.describe() {
                        tracing::info!(access = %words, "consul access");
                    }
                    *known = access;
                }
                return;
            }
        }
    }

    /// What pets' token may do, in words, for the console.
    pub fn access(&self) -> Option<String> {
        self.transport.access.read_now().describe()
    }

    /// The cluster's leader (`ip:port` of its RPC port) and servers, from
    /// the Raft configuration (or the peer list, where that is not allowed).
    pub async fn cluster(&self) -> Result<(Option<String>, Vec<ServerInfo>), CallError> {
        let leader = self.leader().await?;
        // `stale`: any server answers from its own copy of the
        // configuration. Without it the call waits for a leader, so without
        // a quorum every look would hang for Consul's RPC hold time (7 s).
        let raft = self
            .transport
            .call(
                Method::GET,
                "/v1/operator/raft/configuration?stale",
                None,
                READ_TIMEOUT,
                true,
            )
            .await
            .ok()
            .filter(|(status, _, _)| status.is_success())
            .and_then(|(_, _, body)| serde_json::from_slice::<RaftConfiguration>(&body).ok());
        let servers = match raft {
            Some(raft) => raft
                .servers
                .into_iter()
                .map(|s| ServerInfo {
                    name: s.node,
                    address: s.address,
                    voter: s.voter,
                    leader: s.leader,
                })
                .collect(),
            None => {
                let (_, _, peers) = self
                    .transport
                    .call(Method::GET, "/v1/status/peers", None, READ_TIMEOUT, true)
                    .await?;
                let peers: Vec<String> = serde_json::from_slice(&peers).unwrap_or_default();
                peers
                    .into_iter()
                    .map(|address| ServerInfo {
                        name: address.clone(),
                        leader: leader.as_deref() == Some(address.as_str()),
                        address,
                        voter: true,
                    })
                    .collect()
            }
        };
        Ok((leader, servers))
    }

    /// The leader, as any server pets can reach names it. Every endpoint is
    /// asked at once and the first to name a leader answers, so a server
    /// down, restarting or still catching up (which answers that it knows
    /// of none) never hides the leader the others follow. `Ok(None)` only
    /// when every server that answered names none: no quorum. An error when
    /// none answered at all, which says nothing either way.
    async fn leader(&self) -> Result<Option<String>, CallError> {
        use futures::stream::{FuturesUnordered, StreamExt};
        let endpoints = self.transport.endpoints();
        let mut asks: FuturesUnordered<_> = endpoints
            .iter()
            .map(|e| self.transport.ask(e, "/v1/status/leader", READ_TIMEOUT))
            .collect();
        let (mut answered, mut last) = (false, None);
        while let Some(asked) = asks.next().await {
            match asked {
                Ok((status, body)) if status.is_success() => {
                    answered = true;
                    let leader: String = serde_json::from_slice(&body).unwrap_or_default();
                    if !leader.is_empty() {
                        self.transport.answered();
                        return Ok(Some(leader));
                    }
                }
                Ok((status, body)) => last = Some(unexpected(status, &body)),
                Err(e) => last = Some(e),
            }
        }
        if answered {
            self.transport.answered();
            return Ok(None);
        }
        let error = last.unwrap_or_else(|| CallError::NotSent("no Consul endpoint".into()));
        self.transport.none_answered(error.message());
        Err(error)
    }

    /// A session that ends after `ttl` without renewal, deleting the keys
    /// it holds.
    pub async fn create_session(&self, name: &str, ttl: Duration) -> Result<String, CallError> {
        let body = serde_json::json!({
            "Name": name,
            "TTL": format!("{}s", ttl.as_secs()),
            "Behavior": "delete",
            "LockDelay": "0s",
        });
        let (status, _, body) = self
            .transport
            .call(
                Method::PUT,
                "/v1/session/create",
                Some(body.to_string().into_bytes()),
                WRITE_TIMEOUT,
                false,
            )
            .await?;
        if !status.is_success() {
            return Err(unexpected(status, &body));
        }
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "ID")]
            id: String,
        }
        serde_json::from_slice::<Created>(&body)
            .map(|c| c.id)
            .map_err(|e| CallError::Unknown(format!("unreadable session answer: {e}")))
    }

    /// Renews a session; `false` when it no longer exists.
    pub async fn renew_session(&self, id: &str) -> Result<bool, CallError> {
        let path = format!("/v1/session/renew/{id}");
        let (status, _, body) = self
            .transport
            .call(Method::PUT, &path, None, WRITE_TIMEOUT, true)
            .await?;
        match status {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            s => Err(unexpected(s, &body)),
        }
    }

    /// Ends a session at once, deleting the keys it holds.
    pub async fn destroy_session(&self, id: &str) -> Result<(), CallError> {
        let path = format!("/v1/session/destroy/{id}");
        let (status, _, body) = self
            .transport
            .call(Method::PUT, &path, None, WRITE_TIMEOUT, true)
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(unexpected(status, &body))
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RaftConfiguration {
    servers: Vec<RaftServer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RaftServer {
    node: String,
    address: String,
    leader: bool,
    voter: bool,
}

#[async_trait]
impl Kv for ConsulClient {
    async fn write(&self, ops: &[TxnOp]) -> Result<TxnOutcome, CallError> {
        self.txn(ops, Retry::Never).await
    }

    async fn read(&self, ops: &[TxnOp]) -> Result<TxnOutcome, CallError> {
        self.txn(ops, Retry::Freely).await
    }

    async fn read_consistent(&self, key: &str) -> Result<Option<KvEntry>, CallError> {
        self.read_one(key).await
    }

    async fn list(
        &self,
        prefix: &str,
        index: Option<u64>,
    ) -> Result<(u64, Vec<KvEntry>), CallError> {
        self.list_prefix(prefix, index).await
    }
}
