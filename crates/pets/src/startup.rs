//! Builds the store and both servers, and runs them until told to stop.
//!
//! Shutdown is graceful: on the signal, if `PETS_SHUTDOWN_DELAY` asks for
//! it, both servers keep answering for that long but close each connection
//! after its answer (so clients that keep connections alive move to the
//! replicas still running while the orchestrator stops routing here); then
//! both stop accepting, requests in flight finish (event streams are told to
//! end), and the store writes out what it holds in memory. With no delay the
//! whole takes well under Swarm's default 10 s grace period; the stacks give
//! the delay on top.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use pets_store::{ConsulStore, MemoryStore, Registration, ReplicaIdentity, Store};
use pets_web::faults::enforcer::exit_process;
use pets_web::{console_router, voter_router, AdminAuth, AppState};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::configuration::{Settings, StoreSettings};
use crate::serve::{drain, serve, EventLoops, Limits, Phase};

pub struct Application {
    web: TcpListener,
    admin: TcpListener,
    limits: Limits,
    loops: Arc<EventLoops>,
    state: AppState,
    store: Arc<dyn Store>,
    /// Told to every background task of the web layer at shutdown.
    stopping: CancellationToken,
    shutdown_delay: Duration,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store: Arc<dyn Store> = match settings.store.clone() {
            StoreSettings::Memory => Arc::new(MemoryStore::new()),
            StoreSettings::Consul(consul) => {
                ConsulStore::start(consul).context("cannot set up the Consul client")?
            }
        };
        let session_key = settings.session_key.as_ref().map(|k| k.expose_secret());
        let auth = settings
            .admin_password
            .as_ref()
            .map(|password| AdminAuth::new(password.expose_secret(), session_key));
        let web = bind(
            SocketAddr::new(settings.bind, settings.web_port),
            "WEB_PORT",
        )?;
        let admin = bind(
            SocketAddr::new(settings.bind, settings.admin_port),
            "ADMIN_PORT",
        )?;
        // The join panel shows the port the voter site really has (WEB_PORT
        // 0 asks the system for one).
        let mut web_settings = settings.web.clone();
        web_settings.web_port = web.local_addr()?.port();
        let stopping = CancellationToken::new();
        let state = AppState::new(store.clone(), web_settings, auth, stopping.clone())
            .context("cannot load the page templates")?;
        store.register(Registration {
            identity: ReplicaIdentity {
                started_at: pets_store::now_rfc3339(),
                ..settings.identity.clone()
            },
            state: state.replica_state(),
        });
        state.metrics.describe(&settings.identity);
        let enforcer = state.fault_enforcer(pets_store::unix_millis(), exit_process());
        tokio::spawn(enforcer.run(stopping.clone()));
        tokio::spawn(state.lab_keeper().run(stopping.clone()));
        let limits = crate::serve::fit_to_open_files(settings.limits.clone());
        let loops =
            EventLoops::start().context("cannot start the threads that serve connections")?;
        tracing::info!(
            web = %web.local_addr()?,
            admin = %admin.local_addr()?,
            store = %store.describe(),
            version = %settings.web.version,
            admin_login = settings.admin_password.is_some(),
            max_connections = limits.max_connections,
            "pets started"
        );
        Ok(Self {
            web,
            admin,
            limits,
            loops: Arc::new(loops),
            state,
            store,
            stopping,
            shutdown_delay: settings.shutdown_delay,
        })
    }

    pub fn web_addr(&self) -> SocketAddr {
        self.web
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serves until `shutdown` completes, then drains and flushes.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let (phase, phase_rx) = watch::channel(Phase::Serving);
        let web = serve(
            self.web,
            logged(voter_router(self.state.clone())),
            self.limits.clone(),
            phase_rx.clone(),
            self.loops.clone(),
        );
        let admin = serve(
            self.admin,
            logged(console_router(self.state.clone())),
            self.limits.clone(),
            phase_rx,
            self.loops.clone(),
        );
        let servers = tokio::spawn(async move {
            tokio::join!(web, admin);
        });
        shutdown.await;
        self.stopping.cancel();
        if !self.shutdown_delay.is_zero() {
            tracing::info!(
                "shutting down: answering for {:?} more, one request per connection, while clients move to other replicas",
                self.shutdown_delay
            );
            let _ = phase.send(Phase::Closing);
            tokio::time::sleep(self.shutdown_delay).await;
        }
        tracing::info!("shutting down: finishing requests in flight");
        let _ = phase.send(Phase::Stopped);
        drain(servers).await;
        self.store.shutdown().await;
        // Only now: a connection to Consul opened by a request lives on the
        // loop that opened it, and the store may have used it to write out.
        drop(self.loops);
        tracing::info!("pets stopped");
        Ok(())
    }
}

fn bind(addr: SocketAddr, variable: &str) -> anyhow::Result<TcpListener> {
    crate::serve::listen(addr).with_context(|| format!("cannot listen on {addr} ({variable})"))
}

fn logged(router: Router) -> Router {
    pets_web::wrap(
        router,
        axum::middleware::from_fn(crate::telemetry::access_log),
    )
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when it is first awaited, so call it before anything slow: a
/// signal that arrives while the app is starting still stops it cleanly.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        let (Ok(mut interrupt), Ok(mut terminate)) = (interrupt, terminate) else {
            tracing::error!("cannot listen for signals; stop pets with SIGKILL");
            return std::future::pending().await;
        };
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("received Ctrl-C"),
            _ = terminate.recv() => tracing::info!("received SIGTERM"),
        }
    }
}
