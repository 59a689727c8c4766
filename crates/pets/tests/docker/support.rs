//! Running docker, building the images once, and the one label by which the
//! suite marks what it makes on the engine (so `scripts/reset-engine.sh`
//! and the next run can find leftovers of an interrupted one).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

pub use pets_testkit::eventually;

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
    let response = http()
        .get(url)
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
