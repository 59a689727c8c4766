//! The service's rules over the engine: who may create an instance and
//! when, which instances exist, and which are due to go.
//!
//! The engine holds the truth (containers and their labels); the registry
//! keeps a copy for routing and counting, made from [`Engine::list`] at
//! start ([`Registry::adopt`]) and kept by every creation and removal. A
//! creation is reserved under the lock (the cap, one live instance per
//! client, the rate limits), made without it, and recorded after, so a flood
//! of requests can never make more than the cap.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use pets_store::domain::VoterName;
use secrecy::SecretString;

use crate::engine::{Engine, EngineError, Instance, Spec, Version};
use crate::id::InstanceId;
use crate::limits::{CreationLimits, TooMany};

/// What a visitor asked for, parsed from the form.
#[derive(Debug)]
pub struct Request {
    pub options: [Option<VoterName>; 3],
    pub version: Version,
}

/// The rules, from the settings.
#[derive(Debug, Clone)]
pub struct Rules {
    pub domain: String,
    pub ttl: Duration,
    pub max_instances: usize,
    pub creations_per_client_per_hour: u32,
    pub creations_per_minute: u32,
}

/// Why a creation was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("all {max} instances are in use")]
    Full { max: usize, next_free_in: Duration },
    #[error("this address already has an instance")]
    AlreadyHasOne(InstanceId),
    #[error("too many creations")]
    TooMany(TooMany),
    #[error("the instance could not be made: {0}")]
    Engine(#[from] EngineError),
}

#[derive(Default)]
struct State {
    instances: HashMap<InstanceId, Instance>,
    /// Clients whose creation is under way; they count towards the cap.
    creating: HashSet<IpAddr>,
    /// Passwords not yet shown to their visitor, each with the claim the
    /// visitor's browser holds; taken on first view by that browser.
    passwords: HashMap<InstanceId, Pending>,
}

/// A password waiting for the browser that asked for its instance.
struct Pending {
    password: SecretString,
    /// Random, 128 bits in hex: set as a cookie with the answer to the
    /// creation, and handed out once for that.
    claim: String,
    claim_given: bool,
}

pub struct Registry {
    engine: Arc<dyn Engine>,
    rules: Rules,
    state: Mutex<State>,
    limits: Mutex<CreationLimits>,
}

impl Registry {
    pub fn new(engine: Arc<dyn Engine>, rules: Rules) -> Self {
        let limits = CreationLimits::new(
            rules.creations_per_client_per_hour,
            rules.creations_per_minute,
        );
        Self {
            engine,
            rules,
            state: Mutex::default(),
            limits: Mutex::new(limits),
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Takes over the instances the engine has (a restarted service), and
    /// removes those already overdue. Returns how many were adopted.
    pub async fn adopt(&self) -> Result<usize, EngineError> {
        self.resync().await?;
        self.reap(SystemTime::now()).await;
        Ok(self.state.lock().unwrap().instances.len())
    }

    /// Brings the copy in line with the engine: instances it has that the
    /// copy lacks are added, and those it no longer has (removed by hand)
    /// are dropped, except one created in the last minute, whose creation
    /// may have finished after the engine was read.
    pub async fn resync(&self) -> Result<(), EngineError> {
        let found = self.engine.list().await?;
        let now = SystemTime::now();
        let mut state = self.state.lock().unwrap();
        let listed: HashSet<InstanceId> = found.iter().map(|i| i.id.clone()).collect();
        state.instances.retain(|id, i| {
            listed.contains(id)
                || now.duration_since(i.created_at).unwrap_or_default() < Duration::from_secs(60)
        });
        for instance in found {
            state.instances.insert(instance.id.clone(), instance);
        }
        Ok(())
    }

    /// Creates an instance for `client`, or says why not.
    pub async fn create(&self, client: IpAddr, request: Request) -> Result<Instance, Refusal> {
        let now = SystemTime::now();
        {
            let mut state = self.state.lock().unwrap();
            if let Some(mine) = state.instances.values().find(|i| i.client == client) {
                return Err(Refusal::AlreadyHasOne(mine.id.clone()));
            }
            if state.creating.contains(&client) {
                return Err(Refusal::TooMany(TooMany::FromYou(Duration::from_secs(5))));
            }
            if state.instances.len() + state.creating.len() >= self.rules.max_instances {
                let next_free_in = state
                    .instances
                    .values()
                    .map(|i| i.time_left(now))
                    .min()
                    .unwrap_or(Duration::from_secs(60));
                return Err(Refusal::Full {
                    max: self.rules.max_instances,
                    next_free_in,
                });
            }
            self.limits
                .lock()
                .unwrap()
                .admit(client, tokio::time::Instant::now())
                .map_err(Refusal::TooMany)?;
            state.creating.insert(client);
        }
        let id = InstanceId::random();
        let password = crate::password::generate();
        let spec = Spec {
            domain: self.rules.domain.clone(),
            id,
            version: request.version,
            options: request.options,
            password: password.clone(),
            client,
            created_at: now,
            expires_at: now + self.rules.ttl,
        };
        let made = self.engine.create(&spec).await;
        let mut state = self.state.lock().unwrap();
        state.creating.remove(&client);
        let instance = made?;
        tracing::info!(instance = %instance.id, version = instance.version.tag(), "instance created");
        state.passwords.insert(
            instance.id.clone(),
            Pending {
                password,
                claim: hex::encode(rand::random::<[u8; 16]>()),
                claim_given: false,
            },
        );
        state
            .instances
            .insert(instance.id.clone(), instance.clone());
        Ok(instance)
    }

    /// The instance `id`, if it exists.
    pub fn get(&self, id: &InstanceId) -> Option<Instance> {
        self.state.lock().unwrap().instances.get(id).cloned()
    }

    /// Every instance, oldest first.
    pub fn all(&self) -> Vec<Instance> {
        let mut all: Vec<Instance> = self
            .state
            .lock()
            .unwrap()
            .instances
            .values()
            .cloned()
            .collect();
        all.sort_by_key(|i| i.created_at);
        all
    }

    /// The claim on a new instance's password, once: for the browser that
    /// asked for the instance, in a cookie.
    pub fn take_claim(&self, id: &InstanceId) -> Option<String> {
        let mut state = self.state.lock().unwrap();
        let pending = state.passwords.get_mut(id)?;
        (!std::mem::replace(&mut pending.claim_given, true)).then(|| pending.claim.clone())
    }

    /// The instance's console password, the first time the browser holding
    /// its claim asks; to anyone else, nothing (compared in constant time).
    pub fn take_password(&self, id: &InstanceId, claim: Option<&str>) -> Option<SecretString> {
        let mut state = self.state.lock().unwrap();
        let pending = state.passwords.get(id)?;
        let held = claim?.as_bytes();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            held,
            pending.claim.as_bytes(),
        )) {
            return None;
        }
        state.passwords.remove(id).map(|p| p.password)
    }

    /// Removes `id` now (an operator's stop); `false` if there was none.
    pub async fn stop(&self, id: &InstanceId) -> Result<bool, EngineError> {
        if self.get(id).is_none() {
            return Ok(false);
        }
        self.engine.remove(id).await?;
        self.forget(id);
        tracing::info!(instance = %id, "instance stopped by the operator");
        Ok(true)
    }

    /// Gives `id` `by` more time, counted from its current end; `None` if
    /// there is no such instance.
    pub async fn extend(
        &self,
        id: &InstanceId,
        by: Duration,
    ) -> Result<Option<SystemTime>, EngineError> {
        let Some(instance) = self.get(id) else {
            return Ok(None);
        };
        let at = instance.expires_at.max(SystemTime::now()) + by;
        self.engine.set_expiry(id, at).await?;
        if let Some(kept) = self.state.lock().unwrap().instances.get_mut(id) {
            kept.expires_at = at;
        }
        tracing::info!(instance = %id, minutes = by.as_secs() / 60, "instance extended by the operator");
        Ok(Some(at))
    }

    /// Removes every instance whose time is up at `now`; returns their ids.
    /// One that cannot be removed now stays listed and is tried again.
    pub async fn reap(&self, now: SystemTime) -> Vec<InstanceId> {
        let due: Vec<InstanceId> = self
            .state
            .lock()
            .unwrap()
            .instances
            .values()
            .filter(|i| i.expires_at <= now)
            .map(|i| i.id.clone())
            .collect();
        let mut removed = Vec::new();
        for id in due {
            match self.engine.remove(&id).await {
                Ok(()) => {
                    self.forget(&id);
                    tracing::info!(instance = %id, "instance expired and removed");
                    removed.push(id);
                }
                Err(e) => {
                    tracing::warn!(instance = %id, "cannot remove an expired instance, will retry: {e}")
                }
            }
        }
        removed
    }

    fn forget(&self, id: &InstanceId) {
        let mut state = self.state.lock().unwrap();
        state.instances.remove(id);
        state.passwords.remove(id);
    }

    /// The machines instances run on, by name.
    pub async fn nodes(&self) -> Result<Vec<String>, EngineError> {
        self.engine.nodes().await
    }

    /// One sample of what `id` uses, from the engine.
    pub async fn usage(&self, id: &InstanceId) -> Result<crate::engine::Usage, EngineError> {
        self.engine.usage(id).await
    }

    /// How many run and how many more may.
    pub fn capacity(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap();
        let used = state.instances.len() + state.creating.len();
        (used, self.rules.max_instances.saturating_sub(used))
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
