//! What the Docker, lab and Pets as a Service tests share: running docker
//! (on this engine or a lab node's), building the images once, reaching a
//! Swarm task without the routing mesh, the stacks' deploy and update
//! lines, and the one label by which the suite marks what it makes on the
//! engine (so `scripts/reset-engine.sh` and the next run can find leftovers
//! of an interrupted one).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

pub use crate::eventually;

/// The label on every container and Swarm node the suite makes.
pub const TEST_LABEL: &str = "org.pets.test";

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `docker` and returns its standard output; a failure fails the test
/// with docker's own message. Not for use inside [`eventually`]: there a
/// failure is a "not yet", so use [`try_docker`].
pub fn docker(args: &[&str]) -> String {
    try_docker(args).unwrap_or_else(|e| panic!("docker {}: {e}", args.join(" ")))
}

pub fn try_docker(args: &[&str]) -> Result<String, String> {
    docker_with(&[], args)
}

/// A Docker engine the suite drives: this machine's own, or one reached at
/// `DOCKER_HOST` (a Swarm node of the multi-node lab).
#[derive(Clone, Debug)]
pub struct Engine {
    host: Option<String>,
}

impl Engine {
    pub fn local() -> Self {
        Self { host: None }
    }

    /// The engine listening at `host` (`tcp://10.200.0.11:2375`): a node
    /// of the lab (`tests/lab`).
    pub fn at(host: String) -> Self {
        Self { host: Some(host) }
    }

    /// `docker args` against this engine, as [`try_docker`].
    pub fn run(&self, args: &[&str]) -> Result<String, String> {
        self.run_with(&[], args)
    }

    /// `docker args` with extra environment variables.
    pub fn run_with(&self, env: &[(&str, &str)], args: &[&str]) -> Result<String, String> {
        match &self.host {
            None => docker_with(env, args),
            Some(host) => {
                let mut all = vec![("DOCKER_HOST", host.as_str())];
                all.extend_from_slice(env);
                docker_with(&all, args)
            }
        }
    }
}

/// A running task of a Swarm service: its container and the address this
/// machine reaches it at.
#[derive(Clone, Debug)]
pub struct Task {
    pub id: String,
    pub ip: String,
}

/// The running tasks of `service` (its full name) on one engine that have an
/// address on that engine's `docker_gwbridge`, where each task's sandbox
/// sits (so no VIP or routing mesh is needed to reach it), or that run on
/// the engine's own network (a lab node's address). An error (the
/// bridge not made yet, a container gone between two commands) means "not
/// yet".
pub fn tasks_on(engine: &Engine, service: &str) -> Result<Vec<Task>, String> {
    let label = format!("label=com.docker.swarm.service.name={service}");
    let ids = engine.run(&["ps", "-q", "--no-trunc", "--filter", &label])?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let bridge: serde_json::Value =
        serde_json::from_str(&engine.run(&["network", "inspect", "docker_gwbridge"])?)
            .map_err(|e| format!("docker_gwbridge: {e}"))?;
    let endpoints = bridge[0]["Containers"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut found = Vec::new();
    for id in ids.lines() {
        let format = "{{.HostConfig.NetworkMode}} {{.NetworkSettings.SandboxID}}";
        let inspected = engine.run(&["inspect", "-f", format, id])?;
        let (mode, sandbox) = inspected.split_once(' ').unwrap_or((&inspected, ""));
        if mode == "host" {
            // On its node's own network (the prod stack's Consul): at the
            // node's address in the Swarm.
            let ip = engine.run(&["info", "-f", "{{.Swarm.NodeAddr}}"])?;
            found.push(Task {
                id: id.to_owned(),
                ip,
            });
            continue;
        }
        // The bridge endpoint is named after the container's network sandbox.
        let endpoint = format!("gateway_{}", &sandbox[..sandbox.len().min(12)]);
        // A task just started may not be on the bridge yet: not listed.
        if let Some(ip) = endpoints
            .values()
            .find(|c| c["Name"] == endpoint.as_str())
            .and_then(|c| c["IPv4Address"].as_str())
        {
            found.push(Task {
                id: id.to_owned(),
                ip: ip.split('/').next().unwrap_or(ip).to_owned(),
            });
        }
    }
    Ok(found)
}

/// Runs `docker` with extra environment variables.
pub fn docker_with(env: &[(&str, &str)], args: &[&str]) -> Result<String, String> {
    let output = Command::new("docker")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace())
        .output()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Builds the images once per test run with `scripts/local-images.sh`.
pub fn local_images() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(workspace().join("scripts/local-images.sh"))
            .status()
            .expect("scripts/local-images.sh runs");
        assert!(status.success(), "scripts/local-images.sh failed");
    });
}

/// Removes containers an interrupted earlier run left behind with
/// `TEST_LABEL=<value>`.
pub fn remove_leftover_containers(value: &str) {
    let filter = format!("label={TEST_LABEL}={value}");
    let left = try_docker(&["ps", "-aq", "--filter", &filter]).unwrap_or_default();
    for id in left.lines() {
        eprintln!("removing container {id} left by an interrupted run");
        let _ = try_docker(&["rm", "-f", id]);
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// `GET url` answered with JSON, decoded; anything else is an error saying
/// what came back.
pub async fn try_get_json(url: &str) -> Result<serde_json::Value, String> {
    try_get_json_with(url, &[]).await
}

/// [`try_get_json`] with these headers (a token, say).
pub async fn try_get_json_with(
    url: &str,
    headers: &[(&str, &str)],
) -> Result<serde_json::Value, String> {
    let mut request = http().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("GET {url}: {}", response.status()));
    }
    response
        .json()
        .await
        .map_err(|e| format!("GET {url}: not JSON: {e}"))
}

/// `GET url` answered with JSON, decoded; anything else fails the test.
pub async fn get_json(url: &str) -> serde_json::Value {
    try_get_json(url).await.unwrap_or_else(|e| panic!("{e}"))
}

/// The number of voters `pets load` names in its report (`... (200 voters)`).
pub fn report_voters(report: &str) -> u64 {
    report
        .lines()
        .find_map(|l| {
            l.split_once(" voters)")?
                .0
                .rsplit_once('(')?
                .1
                .trim()
                .parse()
                .ok()
        })
        .expect("the report counts voters")
}

/// The end of a rolling update under `pets load`: the driver's last figures
/// on the console (`meter`) and its report agree, the traffic went on
/// throughout, and no request failed. Says what was measured, under `what`.
pub fn no_request_failed(what: &str, meter: &serde_json::Value, report: &str) {
    let driver = &meter["drivers"][0];
    let (requests, failed) = (
        driver["requests"].as_u64().unwrap_or(0),
        driver["failed"].as_u64().unwrap_or(u64::MAX),
    );
    eprintln!(
        "{what}: {failed} of {requests} requests failed; the console says {}; the driver's report:\n{report}",
        meter["summary"]
    );
    assert!(requests > 500, "traffic throughout: {meter}");
    assert!(
        report.contains(&format!("{failed} of {requests} requests failed")),
        "the console and the driver agree"
    );
    assert_eq!(failed, 0, "no request failed during the update: {report}");
}

/// The text of a page on a web task.
pub async fn page(task: &Task, path: &str) -> String {
    text_of(http().get(format!("http://{}:5000{path}", task.ip))).await
}

/// The body of the answer to a request that must be answered.
pub async fn text_of(request: reqwest::RequestBuilder) -> String {
    request.send().await.unwrap().text().await.unwrap()
}

/// `docker stack deploy` of the shared stack file with one override, with
/// the local images (nothing is pulled).
pub fn stack_deploy_args<'a>(override_file: &'a str, stack: &'a str) -> [&'a str; 9] {
    [
        "stack",
        "deploy",
        "--resolve-image",
        "never",
        "-c",
        "compose/pets-stack.yml",
        "-c",
        override_file,
        stack,
    ]
}

/// `docker service update` of `service` to a local `image`, waiting for it
/// to converge or not.
pub fn image_update_args(image: &str, service: &str, wait: bool) -> Vec<String> {
    let detach = if wait {
        "--detach=false"
    } else {
        "--detach=true"
    };
    [
        "service",
        "update",
        "--quiet",
        detach,
        "--no-resolve-image",
        "--image",
        image,
        service,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Votes at a pet site's base URL as `name`; the status, or 0 if nothing
/// answered.
pub async fn vote_at(base: &str, name: &str, choice: &str) -> u16 {
    let response = http()
        .post(format!("{base}/vote"))
        .form(&[("name", name), ("vote", choice)])
        .send()
        .await;
    response.map(|r| r.status().as_u16()).unwrap_or(0)
}

/// The first cookie an answer sets, as `name=value`.
pub fn first_cookie(answer: &reqwest::Response) -> Option<String> {
    answer
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// The one-time console password a PaaS waiting page shows, if it does.
pub fn password_on(page: &str) -> Option<String> {
    let start = page.find("id=\"password\">")? + "id=\"password\">".len();
    Some(page[start..].split('<').next()?.to_owned())
}

/// The `pets_admin` session cookie a login's answer sets, as `name=value`
/// (for the lab's and Pets as a Service's consoles).
pub fn session_cookie(answer: &reqwest::Response) -> Option<String> {
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("pets_admin="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}
