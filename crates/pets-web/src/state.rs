//! The state every handler shares.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pets_store::Store;
use tokio::sync::watch;

use crate::assets::Pictures;
use crate::auth::{AdminAuth, LoginThrottle};
use crate::settings::WebSettings;
use crate::templates::Templates;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub settings: WebSettings,
    pub templates: Templates,
    pub pictures: Pictures,
    pub health: Health,
    pub auth: Option<AdminAuth>,
    pub throttle: LoginThrottle,
    /// True when votes live in this process only (no `DB`); fixed at start.
    pub memory_store: bool,
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
    ) -> Result<Self, String> {
        let templates = Templates::load(&settings)?;
        let pictures = Pictures::find(&settings);
        let health = Health::new(!settings.born_broken());
        let memory_store = store.status().kind == "memory";
        Ok(Self(Arc::new(Inner {
            memory_store,
            store,
            settings,
            templates,
            pictures,
            health,
            auth,
            throttle: LoginThrottle::default(),
            stopping,
        })))
    }
}

/// Whether this container says it is healthy; `/kill` and `PUT /health`
/// change it.
pub struct Health(AtomicBool);

impl Health {
    pub fn new(healthy: bool) -> Self {
        Self(AtomicBool::new(healthy))
    }

    pub fn is_healthy(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, healthy: bool) {
        self.0.store(healthy, Ordering::Relaxed);
    }
}

impl AppState {
    /// Renders a page with what every page shows (version, theme, host,
    /// whether votes are local to this process) added to `context`.
    pub fn render(
        &self,
        template: &str,
        mut context: tera::Context,
    ) -> Result<axum::response::Html<String>, crate::error::AppError> {
        context.insert("version", &self.settings.version);
        context.insert("theme", self.settings.theme());
        context.insert("hostname", &self.settings.hostname);
        context.insert("memory_store", &self.memory_store);
        self.templates
            .render(template, &context)
            .map(axum::response::Html)
            .map_err(crate::error::AppError::Internal)
    }
}
