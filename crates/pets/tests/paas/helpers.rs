//! One helper spawns `pets paas` in this process (its real server, the
//! real engine) with a method per route; dropping it removes every instance
//! it made.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pets::paas::PaasApp;
use pets_paas::{PaasSettings, Registry};
use tokio::sync::oneshot;

use crate::support::{eventually, local_images};

pub struct TestPaas {
    pub addr: SocketAddr,
    pub registry: Arc<Registry>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    /// Whether dropping this removes its instances (not after [`stop`]).
    remove_on_drop: bool,
    /// Each instance's claim cookie, as the browser that made it keeps it.
    claims: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// Settings for a test: loopback, any port, `*.localhost`.
pub fn settings(ttl: Duration, max_instances: usize) -> PaasSettings {
    let mut settings =
        pets::configuration::cli::from_vars::<pets::configuration::paas::PaasServiceArgs>(|_| None)
            .expect("the defaults are valid")
            .settings();
    settings.bind = [127, 0, 0, 1].into();
    settings.port = 0;
    settings.ttl = ttl;
    settings.max_instances = max_instances;
    // Tests run side by side on one engine: each service adopts only its own.
    settings.name = format!("test-{}", pets_paas::id::InstanceId::random());
    settings
}

impl TestPaas {
    pub async fn spawn(settings: PaasSettings) -> Self {
        local_images();
        let app = PaasApp::build(settings).await.expect("pets paas starts");
        let addr = app.addr();
        let registry = app.registry();
        let (stop, stopped) = oneshot::channel();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            registry,
            stop: Some(stop),
            server: Some(server),
            remove_on_drop: true,
            claims: Default::default(),
        }
    }

    /// Stops the service, leaving its instances running (as a restart does).
    pub async fn stop(mut self) {
        self.remove_on_drop = false;
        let _ = self.stop.take().unwrap().send(());
        self.server.take().unwrap().await.unwrap();
    }

    /// A client that finds `localhost` and `*.localhost` here, as a browser
    /// does, and follows no redirect.
    pub fn client(&self, names: &[String]) -> reqwest::Client {
        self.client_from([127, 0, 0, 1].into(), names)
    }

    /// The same, from another loopback address (another visitor).
    pub fn client_from(&self, from: std::net::IpAddr, names: &[String]) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .local_address(from)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .resolve("localhost", self.addr);
        for name in names {
            builder = builder.resolve(name, self.addr);
        }
        builder.build().unwrap()
    }

    pub fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.addr.port())
    }

    /// `POST /instances`; the answer as it comes.
    pub async fn create(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.create_from([127, 0, 0, 1], form).await
    }

    /// `POST /instances` from another visitor's address. The claim cookie
    /// of a made instance is kept, as that visitor's browser would keep it.
    pub async fn create_from(&self, from: [u8; 4], form: &[(&str, &str)]) -> reqwest::Response {
        let answer = self
            .client_from(from.into(), &[])
            .post(self.url("localhost", "/instances"))
            .form(form)
            .send()
            .await
            .unwrap();
        if answer.status() == 303 {
            let claim = answer
                .headers()
                .get("set-cookie")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .filter(|c| c.starts_with("paas_claim="))
                .map(str::to_owned);
            if let Some(claim) = claim {
                self.claims.lock().unwrap().insert(id_in(&answer), claim);
            }
        }
        answer
    }

    /// Creates an instance from `from`, and returns its id and password.
    pub async fn create_with_password(&self, from: [u8; 4]) -> (String, String) {
        let answer = self.create_from(from, &[]).await;
        assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
        let id = id_in(&answer);
        let (_, page) = self.waiting_page(&id).await;
        (id, password_on(&page).unwrap())
    }

    /// Creates an instance and returns its id (from the 303's location).
    pub async fn create_ok(&self, form: &[(&str, &str)]) -> String {
        let answer = self.create(form).await;
        assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
        id_in(&answer)
    }

    /// The waiting page's text, as the browser that made the instance sees
    /// it (with its claim cookie).
    pub async fn waiting_page(&self, id: &str) -> (u16, String) {
        let claim = self.claims.lock().unwrap().get(id).cloned();
        self.waiting_page_with(id, claim.as_deref()).await
    }

    /// The waiting page's text for a browser holding `cookie`, or none.
    pub async fn waiting_page_with(&self, id: &str, cookie: Option<&str>) -> (u16, String) {
        let mut request = self
            .client(&[])
            .get(self.url("localhost", &format!("/instances/{id}")));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let answer = request.send().await.unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    }

    /// Waits until the instance answers its health check, through the
    /// service's status route.
    pub async fn wait_ready(&self, id: &str) -> serde_json::Value {
        eventually(Duration::from_secs(60), "the instance ready", || async {
            let status: serde_json::Value = self
                .client(&[])
                .get(self.url("localhost", &format!("/instances/{id}/status")))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            if status["ready"] == true {
                Ok(status)
            } else {
                Err(status.to_string())
            }
        })
        .await
    }

    /// A request to `<name>.localhost` through the proxy.
    pub fn at(&self, name: &str) -> Host {
        let host = format!("{name}.localhost");
        Host {
            client: self.client(std::slice::from_ref(&host)),
            base: self.url(&host, ""),
        }
    }
}

/// A client bound to one host name through the service.
pub struct Host {
    pub client: reqwest::Client,
    pub base: String,
}

impl Host {
    pub async fn get(&self, path: &str) -> (u16, String) {
        let answer = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    }
}

pub use crate::support::password_on;

impl Drop for TestPaas {
    fn drop(&mut self) {
        if !self.remove_on_drop {
            return;
        }
        for instance in self.registry.all() {
            remove_instance(instance.id.as_str());
        }
    }
}

/// Removes an instance's container, network and volume, whatever is left.
pub fn remove_instance(id: &str) {
    let name = format!("pets-paas-{id}");
    let _ = crate::support::try_docker(&["rm", "-f", "-v", &name]);
    let _ = crate::support::try_docker(&["network", "rm", &name]);
    let _ = crate::support::try_docker(&["volume", "rm", "-f", &name]);
}

/// What the engine still has of instance `id`: its container, network,
/// volume.
pub fn engine_has(id: &str) -> Vec<&'static str> {
    let name = format!("pets-paas-{id}");
    ["container", "network", "volume"]
        .into_iter()
        .filter(|kind| crate::support::try_docker(&[kind, "inspect", &name]).is_ok())
        .collect()
}

/// The instance id in a creation's 303.
pub fn id_in(answer: &reqwest::Response) -> String {
    let location = answer.headers()["location"].to_str().unwrap();
    location.strip_prefix("/instances/").unwrap().to_owned()
}
