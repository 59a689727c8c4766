//! `pets paas`: Pets as a Service (the `pets-paas` crate) on this binary's
//! hardened server: one port for the landing page and every instance, an
//! expiry task, and one shutdown for both.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use pets_paas::engine::Engine;
use pets_paas::settings::Mode;
use pets_paas::{DockerEngine, Paas, PaasSettings, Registry, Rules};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::serve::{drain, serve, EventLoops, Limits, Phase};

/// The service, bound and with its instances adopted, ready to run.
pub struct PaasApp {
    listener: TcpListener,
    loops: Arc<EventLoops>,
    registry: Arc<Registry>,
    settings: PaasSettings,
}

impl PaasApp {
    /// Connects to the Docker engine, adopts the instances it already
    /// runs (removing overdue ones), and binds the port.
    pub async fn build(settings: PaasSettings) -> anyhow::Result<Self> {
        let engine = DockerEngine::connect(&settings.image, &settings.name, settings.subnets)?;
        let missing = engine
            .missing_images()
            .await
            .context("cannot reach the Docker engine (DOCKER_HOST, or /var/run/docker.sock)")?;
        if !missing.is_empty() {
            tracing::warn!(
                "PAAS_IMAGE: this engine has no {}; visitors asking for {} will wait for a pull, \
                 or be refused where the engine cannot pull (scripts/local-images.sh builds them)",
                missing.join(" or "),
                if missing.len() == 2 {
                    "either version"
                } else {
                    "that version"
                },
            );
        }
        let engine = choose(engine, &settings).await?;
        let registry = Arc::new(Registry::new(engine, Rules::from(&settings)));
        let adopted = registry
            .adopt()
            .await
            .context("cannot read the running instances from the Docker engine")?;
        let addr = SocketAddr::new(settings.bind, settings.port);
        let listener = crate::serve::listen(addr)
            .with_context(|| format!("cannot listen on {addr} (PAAS_PORT)"))?;
        let loops =
            EventLoops::start().context("cannot start the threads that serve connections")?;
        tracing::info!(
            addr = %listener.local_addr()?,
            domain = %settings.domain,
            ttl_seconds = settings.ttl.as_secs(),
            max_instances = settings.max_instances,
            adopted,
            "pets paas started"
        );
        Ok(Self {
            listener,
            loops: Arc::new(loops),
            registry,
            settings,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// Serves until `shutdown` completes, then lets requests in flight
    /// finish (for at most [`crate::serve::DRAIN_TIMEOUT`]). Instances keep
    /// running: a restarted service adopts them.
    pub async fn run_until_stopped(self, shutdown: impl std::future::Future<Output = ()>) {
        let public_port = self
            .settings
            .public_port
            .unwrap_or_else(|| self.addr().port());
        let (phase, phase_rx) = watch::channel(Phase::Serving);
        let stop = CancellationToken::new();
        let expiry = tokio::spawn(pets_paas::expire(self.registry.clone(), stop.clone()));
        let paas = Paas::new(
            self.registry,
            public_port,
            self.settings.admin_password.as_ref(),
            &self.settings.trusted_proxies,
        );
        let server = tokio::spawn(serve(
            self.listener,
            pets_paas::router(paas),
            crate::serve::fit_to_open_files(Limits::default()),
            phase_rx,
            self.loops.clone(),
        ));
        shutdown.await;
        let _ = phase.send(Phase::Stopped);
        drain(server).await;
        stop.cancel();
        let _ = expiry.await;
        tracing::info!("pets paas stopped; its instances keep running until their time is up");
    }
}

/// Containers on this engine, or services on its Swarm (`PAAS_MODE`).
/// On a Swarm, pets paas must itself run in a container of this engine,
/// which joins every instance's network: `auto` takes the Swarm only then
/// (a laptop whose engine was made a Swarm for the dev stack keeps
/// containers), and `swarm` without that container stops start-up.
async fn choose(engine: DockerEngine, settings: &PaasSettings) -> anyhow::Result<Arc<dyn Engine>> {
    let manager = engine
        .is_swarm_manager()
        .await
        .context("cannot ask the Docker engine whether it manages a Swarm")?;
    if settings.mode == Mode::Swarm && !manager {
        anyhow::bail!(
            "PAAS_MODE=swarm: this Docker engine is not a manager of an active Swarm \
             (`docker swarm init`, or DOCKER_HOST pointing at a manager)"
        );
    }
    let container = match &settings.container {
        Some(container) => Some(container.clone()),
        None => hostname(),
    };
    let in_container = match &container {
        Some(name) if manager && settings.mode != Mode::Standalone => {
            engine.has_container(name).await?
        }
        _ => false,
    };
    match settings.mode {
        Mode::Swarm if !in_container => anyhow::bail!(
            "PAAS_MODE=swarm: pets paas must run in a container of this engine, which joins \
             every instance's network; {} (PAAS_CONTAINER names it)",
            match &container {
                Some(name) => format!("this engine has no container `{name}`"),
                None => "this host's name could not be read".to_owned(),
            }
        ),
        Mode::Auto if manager && !in_container => tracing::info!(
            "the Docker engine manages a Swarm, but pets paas is not in one of its containers \
             (PAAS_CONTAINER): instances are containers on this engine, as PAAS_MODE=standalone"
        ),
        _ => {}
    }
    match container.filter(|_| in_container) {
        Some(container) => {
            tracing::info!(container = %container, "instances are services on this Docker engine's Swarm");
            Ok(Arc::new(engine.into_swarm(&container)))
        }
        None => {
            tracing::info!("instances are containers on this Docker engine");
            Ok(Arc::new(engine))
        }
    }
}

/// This machine's host name: in a container, Docker's default is the
/// container's short id.
fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}
