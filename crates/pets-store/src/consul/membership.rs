//! This replica's record in the fleet, `replicas/<id>`, held by a Consul
//! session with a TTL.
//!
//! The record is written with the `lock` verb under a session created with
//! behaviour "delete": while the process runs it renews the session and
//! rewrites the record (its health, counts and the time) when it changed,
//! or every few seconds to say it is alive, and at shutdown it
//! destroys the session, which deletes the record, so a replica that exits
//! leaves the fleet at once. One that is killed, or cut off, stops renewing:
//! Consul ends the session within twice its TTL, and readers stop showing a
//! record [`GONE_AFTER`](crate::fleet::GONE_AFTER) older than the newest
//! before that. A replica whose session ended while it was paused finds its lock
//! refused, makes a new session and writes its record again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::consul::client::ConsulClient;
use crate::consul::keys::Keys;
use crate::consul::kv::{Kv, TxnOp, TxnOutcome};
use crate::consul::served::ServedCounter;
use crate::fleet::Registration;
use crate::sync::Locked;

/// Consul's shortest session TTL; a killed replica is gone within twice it.
pub const SESSION_TTL: Duration = Duration::from_secs(10);
/// How often the record is looked at: rewritten if its health or counts
/// changed, so the fleet's counts are this fresh.
const WRITE_EVERY: Duration = Duration::from_secs(2);
/// How often it is rewritten when nothing changed, only to say the replica
/// is alive: each write wakes every replica's watch on `replicas/`, so an
/// idle fleet of 16 would otherwise cost Consul 8 writes and 128 reads a
/// second. Well inside [`GONE_AFTER`](crate::fleet::GONE_AFTER).
const HEARTBEAT: Duration = Duration::from_secs(5);
/// How often the session is renewed: well inside its TTL.
const RENEW_EVERY: Duration = Duration::from_secs(3);

pub struct Membership {
    client: Arc<ConsulClient>,
    key: String,
    registration: Registration,
    served: Arc<ServedCounter>,
    recorded: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    session: Mutex<Option<String>>,
}

impl Membership {
    pub fn new(
        client: Arc<ConsulClient>,
        keys: &Keys,
        registration: Registration,
        served: Arc<ServedCounter>,
        [recorded, refused]: [Arc<AtomicU64>; 2],
    ) -> Arc<Self> {
        Arc::new(Self {
            client,
            key: keys.replica(),
            registration,
            served,
            recorded,
            refused,
            session: Mutex::default(),
        })
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.session.locked()
    }

    /// The session holding the record, when there is one.
    pub fn current_session(&self) -> Option<String> {
        self.session().clone()
    }

    /// The record as of now.
    pub fn record_now(&self) -> crate::fleet::ReplicaRecord {
        self.registration.record(
            self.served.flushed.load(Ordering::Relaxed)
                + self.served.pending.load(Ordering::Relaxed),
            self.recorded.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }

    /// Keeps the record until `stop`, then takes it out of the fleet. A
    /// change of the replica's state is written at once.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut state = self.registration.state.clone();
        let mut watching = true;
        let mut renewed = Instant::now();
        let mut written: Option<(crate::fleet::ReplicaRecord, Instant)> = None;
        loop {
            let mut record = self.record_now();
            let due = match &written {
                None => true,
                Some((last, at)) => {
                    record.last_seen.clone_from(&last.last_seen);
                    *last != record || at.elapsed() >= HEARTBEAT
                }
            };
            if due {
                written = self.write().await.map(|r| (r, Instant::now()));
            }
            if renewed.elapsed() >= RENEW_EVERY {
                self.renew().await;
                renewed = Instant::now();
            }
            tokio::select! {
                _ = tokio::time::sleep(WRITE_EVERY) => {}
                changed = state.changed(), if watching => match changed {
                    Ok(()) => written = None,
                    // The web layer is gone: nothing more will change.
                    Err(_) => watching = false,
                },
                _ = stop.cancelled() => break,
            }
        }
        let session = self.session().take();
        if let Some(session) = session {
            match self.client.destroy_session(&session).await {
                Ok(()) => tracing::info!("left the fleet"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not leave the fleet; Consul will drop this replica when its session lapses")
                }
            }
        }
    }

    /// Writes the record under the session, making one if there is none;
    /// the record written, if it was.
    async fn write(&self) -> Option<crate::fleet::ReplicaRecord> {
        let session = self.session().clone();
        let session = match session {
            Some(session) => session,
            None => {
                let name = format!("pets {}", self.registration.identity.id);
                match self.client.create_session(&name, SESSION_TTL).await {
                    Ok(session) => {
                        *self.session() = Some(session.clone());
                        session
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "no fleet session yet");
                        return None;
                    }
                }
            }
        };
        let record = self.record_now();
        match self
            .client
            .write(&[TxnOp::lock_json(self.key.clone(), &record, &session)])
            .await
        {
            Ok(TxnOutcome::Committed(_)) => return Some(record),
            Ok(TxnOutcome::RolledBack(_)) => {
                tracing::warn!(
                    "this replica's fleet session ended (was it paused?); joining again"
                );
                *self.session() = None;
            }
            Err(e) => tracing::debug!(error = %e, "fleet record not written"),
        }
        None
    }

    async fn renew(&self) {
        let session = self.session().clone();
        let Some(session) = session else { return };
        if let Ok(false) = self.client.renew_session(&session).await {
            tracing::warn!("this replica's fleet session lapsed; joining again");
            *self.session() = None;
        }
    }
}
