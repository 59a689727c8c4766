//! The state every handler shares.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pets_store::Store;
use tokio::sync::watch;

use crate::auth::throttle::LoginThrottle;
use crate::auth::AdminAuth;
use crate::error::AppError;
use crate::pictures::Pictures;
use crate::settings::WebSettings;
use crate::templates::{TemplateError, Templates};

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
        let health = Health::new(!settings.born_broken());
        Ok(Self(Arc::new(Inner {
            shared_votes: store.kind().shared(),
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

/// Whether this container says it is healthy; `/kill` and `PUT /health`
/// change it. The store reads the same flag for this replica's fleet record.
pub struct Health(Arc<AtomicBool>);

impl Health {
    pub fn new(healthy: bool) -> Self {
        Self(Arc::new(AtomicBool::new(healthy)))
    }

    pub fn is_healthy(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, healthy: bool) {
        self.0.store(healthy, Ordering::Relaxed);
    }

    /// The flag itself, for the fleet record.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}
