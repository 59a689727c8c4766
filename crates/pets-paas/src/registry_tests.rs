//! The registry's rules over a scripted engine.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use secrecy::ExposeSecret;

use super::*;
use crate::engine::{Engine, EngineError, Instance, Node, Spec, Usage, Version};

/// Instances in a map; creation fails on cue.
#[derive(Default)]
struct FakeEngine {
    instances: Mutex<HashMap<InstanceId, Instance>>,
    passwords: Mutex<Vec<String>>,
    fail_creation: Mutex<bool>,
    fail_removal: Mutex<bool>,
    nodes: Mutex<Vec<Node>>,
}

#[async_trait]
impl Engine for FakeEngine {
    async fn create(&self, spec: &Spec) -> Result<Instance, EngineError> {
        if *self.fail_creation.lock().unwrap() {
            return Err(EngineError::Refused {
                action: "create a container",
                message: "no space".into(),
            });
        }
        self.passwords
            .lock()
            .unwrap()
            .push(spec.password.expose_secret().to_owned());
        let instance = Instance {
            id: spec.id.clone(),
            version: spec.version,
            client: spec.client,
            created_at: spec.created_at,
            expires_at: spec.expires_at,
            address: Some(IpAddr::from([172, 30, 0, 2])),
            running: true,
            // Where the registry chose, as a Swarm places it first.
            node: Some(spec.node.clone().unwrap_or_else(|| "fake".into())),
            restarts: 0,
        };
        self.instances
            .lock()
            .unwrap()
            .insert(spec.id.clone(), instance.clone());
        Ok(instance)
    }
    async fn list(&self) -> Result<Vec<Instance>, EngineError> {
        Ok(self.instances.lock().unwrap().values().cloned().collect())
    }
    async fn nodes(&self) -> Result<Vec<Node>, EngineError> {
        Ok(self.nodes.lock().unwrap().clone())
    }
    async fn remove(&self, id: &InstanceId) -> Result<(), EngineError> {
        if *self.fail_removal.lock().unwrap() {
            return Err(EngineError::Unreachable("down".into()));
        }
        self.instances.lock().unwrap().remove(id);
        Ok(())
    }
    async fn usage(&self, _: &InstanceId) -> Result<Usage, EngineError> {
        Ok(Usage::default())
    }
    async fn set_expiry(&self, id: &InstanceId, at: SystemTime) -> Result<(), EngineError> {
        match self.instances.lock().unwrap().get_mut(id) {
            Some(i) => {
                i.expires_at = at;
                Ok(())
            }
            None => Err(EngineError::Refused {
                action: "write the new expiry",
                message: "no such container".into(),
            }),
        }
    }
}

impl FakeEngine {
    /// Changes what the engine holds of `id` behind the registry's back
    /// (time passing, Swarm moving or restarting it).
    fn edit(&self, id: &InstanceId, change: impl FnOnce(&mut Instance)) {
        change(self.instances.lock().unwrap().get_mut(id).unwrap());
    }
}

fn rules(max: usize) -> Rules {
    Rules {
        domain: "localhost".into(),
        ttl: Duration::from_secs(60),
        max_instances: max,
        max_per_node: max,
        creations_per_client_per_hour: 100,
        creations_per_minute: 100,
    }
}

fn registry(max: usize) -> (Arc<FakeEngine>, Registry) {
    let engine = Arc::new(FakeEngine::default());
    (engine.clone(), Registry::new(engine, rules(max)))
}

fn want() -> Request {
    Request {
        options: [None, None, None],
        version: Version::V1,
    }
}

fn ip(n: u8) -> IpAddr {
    IpAddr::from([198, 51, 100, n])
}

#[tokio::test]
async fn a_creation_is_recorded_with_its_password_shown_once() {
    let (engine, registry) = registry(5);
    let made = registry.create(ip(1), want()).await.unwrap();
    assert_eq!(registry.get(&made.id), Some(made.clone()));
    assert_eq!(
        made.expires_at.duration_since(made.created_at).unwrap(),
        Duration::from_secs(60)
    );
    let claim = registry
        .take_claim(&made.id)
        .expect("the claim, for the 303");
    assert!(registry.take_claim(&made.id).is_none(), "handed out once");
    assert!(
        registry.take_password(&made.id, None).is_none(),
        "no claim, no password"
    );
    let wrong = "0".repeat(32);
    assert!(registry.take_password(&made.id, Some(&wrong)).is_none());
    let password = registry.take_password(&made.id, Some(&claim)).unwrap();
    assert_eq!(
        password.expose_secret(),
        engine.passwords.lock().unwrap()[0]
    );
    assert!(
        registry.take_password(&made.id, Some(&claim)).is_none(),
        "shown once"
    );
    assert_eq!(registry.capacity(), (1, 4));
}

#[tokio::test]
async fn one_live_instance_per_client() {
    let (_, registry) = registry(5);
    let first = registry.create(ip(1), want()).await.unwrap();
    match registry.create(ip(1), want()).await {
        Err(Refusal::AlreadyHasOne(id)) => assert_eq!(id, first.id),
        other => panic!("{other:?}"),
    }
    assert!(registry.create(ip(2), want()).await.is_ok());
}

#[tokio::test]
async fn the_cap_says_when_the_next_is_free() {
    let (_, registry) = registry(2);
    registry.create(ip(1), want()).await.unwrap();
    registry.create(ip(2), want()).await.unwrap();
    match registry.create(ip(3), want()).await {
        Err(Refusal::Full {
            max: 2,
            next_free_in,
        }) => {
            assert!(
                next_free_in <= Duration::from_secs(60) && next_free_in > Duration::from_secs(50)
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(registry.capacity(), (2, 0));
}

#[tokio::test]
async fn a_flood_of_creations_never_passes_the_cap() {
    let (engine, registry) = registry(3);
    let registry = Arc::new(registry);
    let attempts: Vec<_> = (0..50)
        .map(|n| {
            let registry = registry.clone();
            tokio::spawn(async move { registry.create(ip(n), want()).await.is_ok() })
        })
        .collect();
    let mut made = 0;
    for attempt in attempts {
        made += attempt.await.unwrap() as usize;
    }
    assert_eq!(made, 3);
    assert_eq!(engine.instances.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_failed_creation_leaves_nothing_and_frees_its_place() {
    let (engine, registry) = registry(1);
    *engine.fail_creation.lock().unwrap() = true;
    assert!(matches!(
        registry.create(ip(1), want()).await,
        Err(Refusal::Engine(_))
    ));
    assert_eq!(registry.capacity(), (0, 1));
    *engine.fail_creation.lock().unwrap() = false;
    assert!(
        registry.create(ip(1), want()).await.is_ok(),
        "the client may try again"
    );
}

#[tokio::test]
async fn creations_are_rate_limited_per_client() {
    let engine = Arc::new(FakeEngine::default());
    let mut rules = rules(10);
    rules.creations_per_client_per_hour = 1;
    let registry = Registry::new(engine, rules);
    let first = registry.create(ip(1), want()).await.unwrap();
    registry.stop(&first.id).await.unwrap();
    assert!(matches!(
        registry.create(ip(1), want()).await,
        Err(Refusal::TooMany(TooMany::FromYou(_)))
    ));
}

#[tokio::test]
async fn expired_instances_are_removed_and_a_failed_removal_is_retried() {
    let (engine, registry) = registry(5);
    let made = registry.create(ip(1), want()).await.unwrap();
    let later = SystemTime::now() + Duration::from_secs(61);
    assert!(registry.reap(SystemTime::now()).await.is_empty(), "not yet");
    *engine.fail_removal.lock().unwrap() = true;
    assert!(registry.reap(later).await.is_empty());
    assert!(registry.get(&made.id).is_some(), "kept for the next try");
    *engine.fail_removal.lock().unwrap() = false;
    assert_eq!(registry.reap(later).await, vec![made.id.clone()]);
    assert!(registry.get(&made.id).is_none());
    assert!(engine.instances.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_restarted_service_adopts_live_instances_and_removes_overdue_ones() {
    let (engine, registry) = registry(5);
    let live = registry.create(ip(1), want()).await.unwrap();
    let overdue = registry.create(ip(2), want()).await.unwrap();
    engine.edit(&overdue.id, |i| {
        i.expires_at = SystemTime::now() - Duration::from_secs(1)
    });
    let restarted = Registry::new(engine.clone(), rules(5));
    assert_eq!(restarted.adopt().await.unwrap(), 1);
    assert_eq!(restarted.get(&live.id), Some(live));
    assert!(restarted.get(&overdue.id).is_none());
    assert_eq!(
        engine.instances.lock().unwrap().len(),
        1,
        "the overdue one removed"
    );
    assert!(
        restarted.take_claim(&overdue.id).is_none(),
        "nothing to show after a restart"
    );
}

#[tokio::test]
async fn resync_drops_what_was_removed_by_hand_but_not_a_new_one() {
    let (engine, registry) = registry(5);
    let made = registry.create(ip(1), want()).await.unwrap();
    engine.instances.lock().unwrap().clear();
    registry.resync().await.unwrap();
    assert!(
        registry.get(&made.id).is_some(),
        "created under a minute ago"
    );
}

#[tokio::test]
async fn an_extension_is_kept_by_the_engine_and_adopted() {
    let (engine, registry) = registry(5);
    let made = registry.create(ip(1), want()).await.unwrap();
    let at = registry
        .extend(&made.id, Duration::from_secs(600))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at, made.expires_at + Duration::from_secs(600));
    assert_eq!(registry.get(&made.id).unwrap().expires_at, at);
    let restarted = Registry::new(engine, rules(5));
    restarted.adopt().await.unwrap();
    assert_eq!(
        restarted.get(&made.id).unwrap().expires_at,
        at,
        "read back after a restart"
    );
    assert!(registry
        .extend(&InstanceId::random(), Duration::from_secs(60))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_restart_once_counted_stays_counted() {
    let (engine, registry) = registry(5);
    let made = registry.create(ip(1), want()).await.unwrap();
    let set = |n: u32| engine.edit(&made.id, |i| i.restarts = n);
    set(2);
    registry.resync().await.unwrap();
    assert_eq!(registry.get(&made.id).unwrap().restarts, 2);
    // The Swarm let go of the ended tasks: the count read falls, the one
    // shown does not.
    set(0);
    registry.resync().await.unwrap();
    assert_eq!(registry.get(&made.id).unwrap().restarts, 2);
    set(3);
    registry.resync().await.unwrap();
    assert_eq!(registry.get(&made.id).unwrap().restarts, 3);
}

fn node(name: &str, ready: bool) -> Node {
    Node {
        name: name.into(),
        ready,
        up: ready,
    }
}

#[tokio::test]
async fn the_room_is_what_the_ready_nodes_have_left() {
    let engine = Arc::new(FakeEngine::default());
    *engine.nodes.lock().unwrap() = vec![node("n1", true), node("n2", true), node("n3", false)];
    let registry = Registry::new(
        engine.clone(),
        Rules {
            max_per_node: 2,
            ..rules(10)
        },
    );
    assert_eq!(
        registry.capacity(),
        (0, 10),
        "before the nodes are read, the cap"
    );
    registry.resync().await.unwrap();
    assert_eq!(registry.capacity(), (0, 4), "two ready nodes of two each");
    let first = registry.create(ip(1), want()).await.unwrap();
    assert_eq!(
        first.node.as_deref(),
        Some("n1"),
        "the first of the roomiest"
    );
    assert_eq!(registry.capacity(), (1, 3));
    let second = registry.create(ip(2), want()).await.unwrap();
    assert_eq!(
        second.node.as_deref(),
        Some("n2"),
        "then the node with more room"
    );
    engine.edit(&second.id, |i| i.node = None);
    registry.resync().await.unwrap();
    assert_eq!(
        registry.capacity(),
        (2, 2),
        "one moving takes room somewhere"
    );
    assert_eq!(registry.room_on(&node("n1", true)), 1);
    assert_eq!(
        registry.room_on(&node("n3", false)),
        0,
        "a node that is down has none"
    );
    for n in 3..=4 {
        registry.create(ip(n), want()).await.unwrap();
    }
    assert!(
        matches!(
            registry.create(ip(5), want()).await,
            Err(Refusal::Full { .. })
        ),
        "full when the ready nodes are, under the cap"
    );
    *engine.nodes.lock().unwrap() = vec![node("n1", true), node("n2", true), node("n3", true)];
    registry.resync().await.unwrap();
    assert_eq!(
        registry.capacity(),
        (4, 2),
        "a node that returns brings its room"
    );
    let fifth = registry.create(ip(5), want()).await.unwrap();
    assert_eq!(
        fifth.node.as_deref(),
        Some("n3"),
        "on the node that returned"
    );
    // The moving one lands on n2, and n2 is paused: its instances run on
    // there, in no other node's room.
    engine.edit(&second.id, |i| i.node = Some("n2".into()));
    let mut paused = node("n2", false);
    paused.up = true;
    *engine.nodes.lock().unwrap() = vec![node("n1", true), paused, node("n3", true)];
    registry.resync().await.unwrap();
    assert_eq!(
        registry.capacity(),
        (5, 1),
        "one left on n3; n2's two take none of it"
    );
}
