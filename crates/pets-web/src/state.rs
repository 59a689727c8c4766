//! The state every handler shares, and the parts a handler takes alone.
//!
//! [`AppState`] holds everything both sites need; it imports nothing that
//! imports it (no handler, no router). A handler that needs one part takes
//! it as a sub-state, `State<Arc<dyn Store>>`, `State<Arc<Metrics>>`,
//! `State<Arc<Faults>>`, `State<Health>` or `State<Arc<WebSettings>>`,
//! through the [`FromRef`] implementations here; a page that renders
//! templates takes the whole.

use std::sync::Arc;

use axum::extract::FromRef;
use pets_store::{Presence, ReplicaState, Store};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::auth::throttle::LoginThrottle;
use crate::auth::AdminAuth;
use crate::error::AppError;
use crate::faults::enforcer::{Crash, Enforcer};
use crate::faults::Faults;
use crate::health::Health;
use crate::metrics::Metrics;
use crate::pet_pages::PetPages;
use crate::pictures::Pictures;
use crate::rate::PerClientRate;
use crate::settings::WebSettings;
use crate::templates::{TemplateError, Templates};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub settings: Arc<WebSettings>,
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
    /// Cancelled when the process starts shutting down, so long-lived
    /// responses (the console's event stream) end and let it finish.
    pub stopping: CancellationToken,
    /// The lab guide as this replica's keeper last saw it.
    pub lab: crate::lab::LabGuide,
    /// Where health and faults are pushed for this replica's fleet record.
    presence: Presence,
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
        stopping: CancellationToken,
    ) -> Result<Self, TemplateError> {
        let templates = Templates::load(&settings)?;
        let pictures = Pictures::find(&settings);
        let shared_votes = store.kind().shared();
        let pet_pages = PetPages::build(&templates, &pictures, &settings, shared_votes)?;
        let presence = Presence::default();
        let metrics = Arc::new(Metrics::new(store.as_ref(), settings.metrics_token.clone()));
        Ok(Self(Arc::new(Inner {
            shared_votes,
            store,
            templates,
            pictures,
            pet_pages,
            health: Health::new(presence.clone()),
            faults: Arc::new(Faults::new(presence.clone())),
            metrics,
            auth,
            throttle: LoginThrottle::default(),
            new_voters: PerClientRate::per_minute(settings.new_voters_per_minute),
            settings: Arc::new(settings),
            stopping,
            lab: crate::lab::LabGuide::default(),
            presence,
        })))
    }

    /// How this replica is, changing as health and faults do: what the
    /// store's fleet record follows.
    pub fn replica_state(&self) -> watch::Receiver<ReplicaState> {
        self.presence.subscribe()
    }

    /// The task that puts this replica's faults in force; run it once.
    pub fn fault_enforcer(&self, started_ms: u64, crash: Crash) -> Enforcer {
        Enforcer {
            store: self.store.clone(),
            faults: self.faults.clone(),
            health: self.health.clone(),
            at_start: self.settings.faults,
            started_ms,
            crash,
        }
    }

    /// The task that keeps the lab guide; run it once.
    pub fn lab_keeper(&self) -> crate::lab::keeper::Keeper {
        crate::lab::keeper::Keeper::new(self.store.clone(), self.lab.clone())
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

impl FromRef<AppState> for Arc<dyn Store> {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
    }
}

impl FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

impl FromRef<AppState> for Arc<Faults> {
    fn from_ref(state: &AppState) -> Self {
        state.faults.clone()
    }
}

impl FromRef<AppState> for Health {
    fn from_ref(state: &AppState) -> Self {
        state.health.clone()
    }
}

impl FromRef<AppState> for CancellationToken {
    fn from_ref(state: &AppState) -> Self {
        state.stopping.clone()
    }
}

impl FromRef<AppState> for Arc<WebSettings> {
    fn from_ref(state: &AppState) -> Self {
        state.settings.clone()
    }
}
