//! The narrow seam under the vote and counter protocols: a KV store with
//! transactions, consistent reads and prefix listing, as Consul offers them.
//!
//! [`ConsulClient`](crate::consul::client::ConsulClient) implements it over
//! HTTP; the unit tests implement it with a scripted fake that can answer
//! "committed", "rolled back" or "outcome unknown" on cue. Every failure says
//! what it means for a write: [`CallError::NotSent`] (nothing was applied,
//! safe to retry) or [`CallError::Unknown`] (it may have been applied; the
//! caller must settle it before telling anyone the outcome).

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// The most operations Consul takes in one transaction (`/v1/txn`); it
/// refuses more with 413. (Its limits on bytes, which the protocols stay far
/// below, are held to by the test fake.)
pub const MAX_OPS_PER_TXN: usize = 64;

#[async_trait]
pub trait Kv: Send + Sync + 'static {
    /// Runs a transaction that writes. It is sent once: after an
    /// [`CallError::Unknown`] its outcome is open.
    async fn write(&self, ops: &[TxnOp]) -> Result<TxnOutcome, CallError>;

    /// Runs a transaction that only reads; it may be retried freely.
    async fn read(&self, ops: &[TxnOp]) -> Result<TxnOutcome, CallError>;

    /// Reads one key, reflecting every write committed before the read began.
    async fn read_consistent(&self, key: &str) -> Result<Option<KvEntry>, CallError>;

    /// Reads every key under `prefix`. With `index`, waits until something
    /// under it changes past that index (or the wait ends). Returns the
    /// store's index with the entries.
    async fn list(
        &self,
        prefix: &str,
        index: Option<u64>,
    ) -> Result<(u64, Vec<KvEntry>), CallError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Nothing reached a Consul server, or Consul refused before applying.
    #[error("{0}")]
    NotSent(String),
    /// The request may or may not have been applied.
    #[error("{0}")]
    Unknown(String),
    /// Consul refused the request outright (a 4xx: too large, forbidden to
    /// this token): nothing was applied, and sending the same again, to any
    /// server, meets the same answer.
    #[error("{0}")]
    Refused(String),
}

impl CallError {
    pub fn message(&self) -> &str {
        match self {
            CallError::NotSent(m) | CallError::Unknown(m) | CallError::Refused(m) => m,
        }
    }
}

/// One key as Consul returns it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct KvEntry {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    pub modify_index: u64,
}

impl KvEntry {
    #[cfg(test)]
    pub fn new(key: String, value: &[u8], modify_index: u64) -> Self {
        Self {
            key,
            value: Some(BASE64.encode(value)),
            modify_index,
        }
    }

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
    pub(crate) kv: KvOp,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KvOp {
    pub verb: &'static str,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

impl TxnOp {
    /// Writes `value` only if the key's ModifyIndex is still `index`
    /// (0: only if the key does not exist yet).
    pub fn cas(key: String, value: &[u8], index: u64) -> Self {
        Self::op("cas", key, Some(BASE64.encode(value)), Some(index))
    }

    /// [`TxnOp::cas`] of a value serialized as JSON.
    pub fn cas_json(key: String, value: &impl Serialize, index: u64) -> Self {
        let bytes = serde_json::to_vec(value).expect("records serialize");
        Self::cas(key, &bytes, index)
    }

    /// Writes `value` as JSON, whatever the key holds: for keys with one
    /// writer whose last word is all that counts.
    pub fn set_json(key: String, value: &impl Serialize) -> Self {
        let bytes = serde_json::to_vec(value).expect("records serialize");
        Self::op("set", key, Some(BASE64.encode(bytes)), None)
    }

    /// Deletes the key only if its ModifyIndex is still `index`.
    pub fn delete_cas(key: String, index: u64) -> Self {
        Self::op("delete-cas", key, None, Some(index))
    }

    /// Fails the transaction if the key exists.
    pub fn check_not_exists(key: String) -> Self {
        Self::op("check-not-exists", key, None, None)
    }

    /// Fails the transaction unless the key exists with this ModifyIndex.
    pub fn check_index(key: String, index: u64) -> Self {
        Self::op("check-index", key, None, Some(index))
    }

    /// Reads every key under a prefix; finds nothing rather than failing.
    pub fn get_tree(key: String) -> Self {
        Self::op("get-tree", key, None, None)
    }

    /// Writes `value` as JSON and holds the key with `session`: the key is
    /// deleted when the session ends (it is created with behaviour delete).
    pub fn lock_json(key: String, value: &impl Serialize, session: &str) -> Self {
        let mut op = Self::set_json(key, value);
        op.kv.verb = "lock";
        op.kv.session = Some(session.to_owned());
        op
    }

    fn op(verb: &'static str, key: String, value: Option<String>, index: Option<u64>) -> Self {
        Self {
            kv: KvOp {
                verb,
                key,
                value,
                index,
                session: None,
            },
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TxnResult {
    #[serde(rename = "KV")]
    pub kv: KvEntry,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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

impl TxnOutcome {
    /// The index the transaction's last write left, when it committed.
    pub fn last_index(&self) -> Option<u64> {
        match self {
            Self::Committed(results) => results.last().map(|r| r.kv.modify_index),
            Self::RolledBack(_) => None,
        }
    }
}
