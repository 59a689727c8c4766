//! Running docker, and waiting for things to become true.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `docker` and returns its standard output; a failure fails the test
/// with docker's own message.
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
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
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

/// Polls `probe` every half second until it gives a value; fails the test
/// with `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// `GET url` answered with JSON, decoded; anything else fails the test.
pub async fn get_json(url: &str) -> serde_json::Value {
    let response = http()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    response
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}
