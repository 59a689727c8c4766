//! The state every handler shares.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pets_store::Store;
use tokio::sync::watch;

use crate::auth::throttle::LoginThrottle;
use crate::auth::AdminAuth;
use crate::error::AppError;
use crate::faults::engine::{Crash, Engine};
use crate::faults::Faults;
use crate::metrics::Metrics;
use crate::pictures::Pictures;
use crate::rate::PerClientRate;
use crate::settings::WebSettings;
use crate::templates::{TemplateError, Templates};
use crate::voter::PetPages;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub settings: WebSettings,
    pub templates: Templates,
    pub pictures: Pictures,
    /// The pet page rendered once per picture, where it cannot change.
    pub pet_pages: Option<PetPages>,
    pub health: Health,
    /// The faults in force on this replica.
    pub faults: Arc<Faults>,
    /// What `/metrics` reports.
    pub metrics: Arc<Metrics>,
    pub auth: Option<AdminAuth>,
    pub throttle: LoginThrottle,
    /// New voters per client address (`PETS_NEW_VOTERS_PER_MINUTE`).
    pub new_voters: PerClientRate,
    /// True when replicas share votes through the store; fixed at start.
    pub shared_votes: bool,
    /// Flips to true when the process starts shutting down, so long-lived
    /// responses (the console's event stream) end and let it finish.
    pub stopping: watch::Receiver<bool>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        settings: WebSettings,
        auth: Option<AdminAuth>,
        stopping: watch::Receiver<bool>,
    ) -> Result<Self, TemplateError> {
        let templates = Templates::load(&settings)?;
        let pictures = Pictures::find(&settings);
        let shared_votes = store.kind().shared();
        let pet_pages = PetPages::build(&templates, &pictures, &settings, shared_votes)?;
        let health = Health::new();
        let metrics = Arc::new(Metrics::new(store.as_ref(), settings.metrics_token.clone()));
        Ok(Self(Arc::new(Inner {
            shared_votes,
            store,
            templates,
            pictures,
            pet_pages,
            health,
            faults: Arc::default(),
            metrics,
            auth,
            throttle: LoginThrottle::default(),
            new_voters: PerClientRate::per_minute(settings.new_voters_per_minute),
            settings,
            stopping,
        })))
    }

    /// The engine that puts this replica's faults in force; run it once.
    pub fn fault_engine(&self, started_ms: u64, crash: Crash) -> Engine {
        Engine {
            store: self.store.clone(),
            faults: self.faults.clone(),
            health: self.health.clone(),
            at_start: self.settings.faults,
            started_ms,
            crash,
        }
    }

    /// Renders a page (see [`Templates::page`]).
    pub fn render(
        &self,
        template: &str,
        context: tera::Context,
    ) -> Result<axum::response::Html<String>, AppError> {
        self.templates
            .page(template, context, &self.settings, self.shared_votes)
            .map_err(AppError::from)
    }
}

/// Whether this container says it is healthy. Two things can make it
/// unhealthy: the switch (`/kill`, `PUT /health`) and an "unhealthy after"
/// fault; it is healthy when neither does. The store reads the combined flag
/// for this replica's fleet record.
#[derive(Clone, Default)]
pub struct Health {
    /// (switched off, made unhealthy by a fault)
    causes: Arc<Mutex<(bool, bool)>>,
    healthy: Arc<AtomicBool>,
}

impl Health {
    pub fn new() -> Self {
        let health = Self::default();
        health.healthy.store(true, Ordering::Relaxed);
        health
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// The switch: `/kill` and `PUT /health`.
    pub fn set(&self, healthy: bool) {
        self.change(|causes| causes.0 = !healthy);
    }

    /// Whether a fault makes this replica unhealthy.
    pub fn set_faulty(&self, faulty: bool) {
        self.change(|causes| causes.1 = faulty);
    }

    pub fn is_faulty(&self) -> bool {
        self.causes.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    fn change(&self, change: impl FnOnce(&mut (bool, bool))) {
        let mut causes = self.causes.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut causes);
        self.healthy
            .store(!causes.0 && !causes.1, Ordering::Relaxed);
    }

    /// The combined flag, for the fleet record.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.healthy.clone()
    }
}
