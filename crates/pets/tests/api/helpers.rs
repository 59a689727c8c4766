//! Starting the app for a test, and the HTTP chores tests share.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pets::{Application, Settings};
use reqwest::redirect::Policy;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub web: String,
    pub admin: String,
    stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Environment for one app, on top of what every test app gets.
#[derive(Default, Clone)]
pub struct Env(pub Vec<(String, String)>);

impl Env {
    /// A replica on the Consul cluster at `db`, under its own key `prefix`
    /// (so tests sharing the cluster do not see each other's data).
    pub fn on_consul(db: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self::default()
            .with("DB", db)
            .with("PETS_KV_PREFIX", prefix)
    }

    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.push((name.into(), value.into()));
        self
    }

    /// Writes `password` to a fresh file and points `ADMIN_PASSWORD_FILE` at it.
    pub fn password(self, password: &str) -> Self {
        let file = temp_file("admin_password", &format!("{password}\n"));
        self.with("ADMIN_PASSWORD_FILE", file.to_str().unwrap())
    }
}

pub fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pets-test-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A KV prefix of this test's own on the shared cluster.
pub fn prefix(test: &str) -> String {
    format!("test-{}-{test}/", std::process::id())
}

/// A replica on `cluster`, keeping its keys under `prefix`.
pub async fn replica(cluster: &pets_testkit::Cluster, prefix: &str) -> TestApp {
    spawn_app_with(Env::on_consul(cluster.db(), prefix)).await
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Env::default()).await
}

pub async fn spawn_app_with(env: Env) -> TestApp {
    // `TEST_LOG=1 cargo test ...` shows the apps' logs.
    if std::env::var_os("TEST_LOG").is_some() {
        // Kept for the whole test process: its lines are written as they come.
        std::mem::forget(pets::telemetry::init(&Default::default()));
    }
    let mut vars: HashMap<String, String> = [
        ("WEB_PORT", "0"),
        ("ADMIN_PORT", "0"),
        ("PETS_BIND", "127.0.0.1"),
        ("HOSTNAME", "test-host"),
        ("PICTURES_DIR", "/nonexistent"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.extend(env.0);
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).expect("valid test settings");
    let app = Application::build(settings).await.expect("app starts");
    let web = format!("http://{}", app.web_addr());
    let admin = format!("http://{}", app.admin_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestApp {
        web,
        admin,
        stop: Some(stop),
        running: Some(running),
    }
}

impl TestApp {
    /// Stops the app as a signal would; returns how long it took.
    pub async fn stop(&mut self) -> Duration {
        let started = Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            running.await.expect("app task").expect("app ran");
        }
        started.elapsed()
    }

    /// The voter site's routes.
    pub fn vote_url(&self) -> String {
        format!("{}/vote", self.web)
    }

    pub fn health_url(&self) -> String {
        format!("{}/health", self.web)
    }

    pub fn kill_url(&self) -> String {
        format!("{}/kill", self.web)
    }

    /// The console's routes.
    pub fn login_url(&self) -> String {
        format!("{}/login", self.admin)
    }

    pub fn logout_url(&self) -> String {
        format!("{}/logout", self.admin)
    }

    pub fn results_url(&self) -> String {
        format!("{}/api/results", self.admin)
    }

    pub fn events_url(&self) -> String {
        format!("{}/api/events", self.admin)
    }

    pub fn present_url(&self) -> String {
        format!("{}/present", self.admin)
    }

    /// The voter site's port.
    pub fn web_port(&self) -> u16 {
        self.web.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The same address with the host `name` in place of 127.0.0.1 (the
    /// browser's `*.test` names reach 127.0.0.1).
    pub fn named(url: &str, name: &str) -> String {
        url.replace("127.0.0.1", name)
    }

    pub fn rounds_url(&self) -> String {
        format!("{}/api/rounds", self.admin)
    }

    /// `GET /api/rounds` as a visitor with no session: every round.
    pub async fn rounds(&self) -> Vec<Value> {
        let response = Visitor::new().get(&self.rounds_url()).await;
        assert_eq!(response.status(), 200, "the rounds answer");
        let rounds: Value = response.json().await.unwrap();
        rounds.as_array().expect("a list").clone()
    }

    /// `POST /api/rounds` with `body`, as a visitor with no session; the
    /// status and the answer.
    pub async fn close_round(&self, body: &str) -> (u16, Value) {
        let response = Visitor::new()
            .http
            .post(self.rounds_url())
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("POST answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET /api/results` as a visitor with no session.
    pub async fn results(&self) -> Value {
        let response = Visitor::new().get(&self.results_url()).await;
        assert_eq!(response.status(), 200, "results answer");
        response.json().await.unwrap()
    }

    /// `GET /api/meter`: the availability meter, as a visitor with no session.
    pub async fn meter(&self) -> Value {
        let response = Visitor::new()
            .get(&format!("{}/api/meter", self.admin))
            .await;
        assert_eq!(response.status(), 200, "the meter answers");
        response.json().await.unwrap()
    }

    /// `GET /api/lab`: the lab guide, as a visitor with no session.
    pub async fn lab(&self) -> Value {
        let response = Visitor::new().get(&format!("{}/api/lab", self.admin)).await;
        assert_eq!(response.status(), 200, "the lab answers");
        response.json().await.unwrap()
    }

    /// `POST /api/lab/reset`, as a visitor with no session: the status.
    pub async fn reset_lab(&self) -> u16 {
        let response = Visitor::new()
            .http
            .post(format!("{}/api/lab/reset", self.admin))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("POST answers");
        response.status().as_u16()
    }

    /// The vote counts per option, in order a, b, c.
    pub async fn votes(&self) -> [u64; 3] {
        let results = self.results().await;
        votes_of(&results)
    }

    /// Waits up to 5 s for this replica's tally to be `expected` (another
    /// replica's commits arrive with its next blocking query).
    pub async fn wait_for_votes(&self, expected: [u64; 3]) {
        pets_testkit::eventually(Duration::from_secs(5), "the tally", || async {
            pets_testkit::holds(self.votes().await, |v| *v == expected)
        })
        .await;
    }
}

pub fn votes_of(results: &Value) -> [u64; 3] {
    let options = results["options"].as_array().expect("options");
    [0, 1, 2].map(|i| options[i]["votes"].as_u64().expect("votes"))
}

/// A browser-like client: its own cookies, redirects not followed.
#[derive(Clone)]
pub struct Visitor {
    pub http: reqwest::Client,
}

impl Default for Visitor {
    fn default() -> Self {
        Self::new()
    }
}

impl Visitor {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.expect("GET answers")
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(url)
            .form(form)
            .send()
            .await
            .expect("POST answers")
    }

    /// `POST /login` as a client a trusted proxy names in `X-Forwarded-For`;
    /// the status.
    pub async fn log_in_from(&self, app: &TestApp, client: &str, password: &str) -> u16 {
        self.http
            .post(app.login_url())
            .header("x-forwarded-for", client)
            .form(&[("password", password)])
            .send()
            .await
            .expect("POST answers")
            .status()
            .as_u16()
    }

    pub async fn vote(&self, app: &TestApp, name: &str, choice: &str) -> reqwest::Response {
        self.post_form(&app.vote_url(), &[("name", name), ("vote", choice)])
            .await
    }
}

pub fn location(response: &reqwest::Response) -> &str {
    response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or("")
}
