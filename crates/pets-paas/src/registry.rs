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

use crate::engine::{Engine, EngineError, Instance, Node, Spec, Version};
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
    /// How many one node holds: the room is what the ready nodes have left.
    pub max_per_node: usize,
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
    /// Clients whose creation is under way, each with the node chosen for
    /// it; they count towards the cap and that node's room.
    creating: HashMap<IpAddr, Option<String>>,
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
    /// The engine's nodes, as of the last reading.
    nodes: Mutex<Vec<Node>>,
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
            nodes: Mutex::default(),
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
        match self.engine.nodes().await {
            Ok(nodes) => *self.nodes.lock().unwrap() = nodes,
            Err(e) => {
                tracing::warn!("cannot read the engine's nodes; their room is as last read: {e}")
            }
        }
        let now = SystemTime::now();
        let mut state = self.state.lock().unwrap();
        let listed: HashSet<InstanceId> = found.iter().map(|i| i.id.clone()).collect();
        state.instances.retain(|id, i| {
            listed.contains(id)
                || now.duration_since(i.created_at).unwrap_or_default() < Duration::from_secs(60)
        });
        for mut instance in found {
            // The engine's count can fall (a Swarm keeps a few ended tasks
            // a service): what was once said stays said.
            if let Some(known) = state.instances.get(&instance.id) {
                instance.restarts = instance.restarts.max(known.restarts);
            }
            state.instances.insert(instance.id.clone(), instance);
        }
        Ok(())
    }

    /// Creates an instance for `client`, or says why not.
    pub async fn create(&self, client: IpAddr, request: Request) -> Result<Instance, Refusal> {
        let now = SystemTime::now();
        let node = {
            let mut state = self.state.lock().unwrap();
            if let Some(mine) = state.instances.values().find(|i| i.client == client) {
                return Err(Refusal::AlreadyHasOne(mine.id.clone()));
            }
            if state.creating.contains_key(&client) {
                return Err(Refusal::TooMany(TooMany::FromYou(Duration::from_secs(5))));
            }
            if self.free(&state) == 0 {
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
            let node = self.roomiest(&state);
            state.creating.insert(client, node.clone());
            node
        };
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
            node,
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

    /// The machines instances run on, as last read from the engine.
    pub fn nodes(&self) -> Vec<Node> {
        self.nodes.lock().unwrap().clone()
    }

    /// One sample of what `id` uses, from the engine.
    pub async fn usage(&self, id: &InstanceId) -> Result<crate::engine::Usage, EngineError> {
        self.engine.usage(id).await
    }

    /// How often the copy is read back from the engine.
    pub fn resync_every(&self) -> Duration {
        self.engine.resync_every()
    }

    /// How many run and how many more may.
    pub fn capacity(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap();
        (
            state.instances.len() + state.creating.len(),
            self.free(&state),
        )
    }

    /// How many more may be made: under the cap, and in the room the ready
    /// nodes have left. An instance on no node that is up (starting, or
    /// moving) takes room on one of them. Before the engine has named its nodes,
    /// only the cap counts.
    fn free(&self, state: &State) -> usize {
        let used = state.instances.len() + state.creating.len();
        let under_cap = self.rules.max_instances.saturating_sub(used);
        let nodes = self.nodes.lock().unwrap();
        if nodes.is_empty() {
            return under_cap;
        }
        let (room, elsewhere) = self.rooms(state, &nodes);
        let room: usize = room.iter().map(|(_, r)| r).sum();
        under_cap.min(room.saturating_sub(elsewhere))
    }

    /// The room each ready node has left, and how many instances run on no
    /// node that is up (starting, or moving).
    fn rooms<'n>(&self, state: &State, nodes: &'n [Node]) -> (Vec<(&'n str, usize)>, usize) {
        let placed = state
            .instances
            .values()
            .map(|i| i.node.as_deref())
            .chain(state.creating.values().map(Option::as_deref));
        let mut load: HashMap<&str, usize> = HashMap::new();
        let mut elsewhere = 0;
        for node in placed {
            let on = node.and_then(|name| nodes.iter().find(|n| n.name == name));
            match on {
                Some(n) if n.ready => *load.entry(n.name.as_str()).or_default() += 1,
                // A paused or drained node's instances run there, in no
                // ready node's room.
                Some(n) if n.up => {}
                _ => elsewhere += 1,
            }
        }
        let room = nodes
            .iter()
            .filter(|n| n.ready)
            .map(|n| {
                let here = load.get(n.name.as_str()).copied().unwrap_or(0);
                (
                    n.name.as_str(),
                    self.rules.max_per_node.saturating_sub(here),
                )
            })
            .collect();
        (room, elsewhere)
    }

    /// The ready node with the most room left (the first by name of
    /// those level), for the next instance; none before the engine has
    /// named its nodes.
    fn roomiest(&self, state: &State) -> Option<String> {
        let nodes = self.nodes.lock().unwrap();
        let (room, _) = self.rooms(state, &nodes);
        room.into_iter()
            .filter(|(_, r)| *r > 0)
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
            .map(|(name, _)| name.to_owned())
    }

    /// The room each node has left.
    pub fn room_on(&self, node: &Node) -> usize {
        if !node.ready {
            return 0;
        }
        let state = self.state.lock().unwrap();
        let here = state
            .instances
            .values()
            .filter(|i| i.node.as_ref() == Some(&node.name))
            .count();
        self.rules.max_per_node.saturating_sub(here)
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
