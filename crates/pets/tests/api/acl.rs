//! pets against Consul with ACLs on and a default-deny policy, with the roles
//! `pets consul-acl` makes (the binary, run as the prod stack's job runs it):
//! each role (web, load, and the servers' agent) does its job and no more; no token opens nothing; a token
//! Consul does not know reads as that on the console, not as an outage, and
//! counts nothing; a replica given the right token counts every vote again.

use std::path::{Path, PathBuf};

use crate::binary::Binary;
use crate::helpers::{prefix, spawn_app_with, temp_file, Env, TestApp, Visitor};
use pets_testkit::AclConsul;

/// A fresh token secret, in a file as a Swarm secret would be.
fn secret_file(name: &str) -> (String, PathBuf) {
    let secret = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .unwrap()
        .trim()
        .to_owned();
    let file = temp_file(name, &format!("{secret}\n"));
    (secret, file)
}

/// The web, load and agent tokens for `prefix`, made by `pets consul-acl`.
fn make_roles(consul: &AclConsul, prefix: &str) -> [(String, PathBuf); 3] {
    let roles = [
        secret_file("web"),
        secret_file("load"),
        secret_file("agent"),
    ];
    make_roles_for(consul, prefix, &roles);
    roles
}

/// Runs `pets consul-acl` twice for these secrets: the second changes
/// nothing.
fn make_roles_for(consul: &AclConsul, prefix: &str, roles: &[(String, PathBuf); 3]) {
    let management = temp_file("management", &consul.management);
    let [web, load, agent] = roles;
    for run in ["made", "unchanged"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_pets"))
            .arg("consul-acl")
            .env("DB", consul.db())
            .env("PETS_KV_PREFIX", prefix)
            .env("CONSUL_HTTP_TOKEN_FILE", &management)
            .env("PETS_CONSUL_WEB_TOKEN_FILE", &web.1)
            .env("PETS_CONSUL_LOAD_TOKEN_FILE", &load.1)
            .env("PETS_CONSUL_AGENT_TOKEN_FILE", &agent.1)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "pets consul-acl: {said} {output:?}"
        );
        let expected = if run == "made" {
            "created"
        } else {
            "up to date"
        };
        assert_eq!(said.matches(expected).count(), 6, "{run}: {said}");
        assert!(
            !said.contains(&web.0)
                && !said.contains(&agent.0)
                && !said.contains(&consul.management),
            "no secret is printed: {said}"
        );
    }
}

/// A replica under `prefix` sending `token_file`'s token.
async fn replica_with(consul: &AclConsul, prefix: &str, token_file: &Path) -> TestApp {
    spawn_app_with(
        Env::on_consul(consul.db(), prefix)
            .with("CONSUL_HTTP_TOKEN_FILE", token_file.to_str().unwrap()),
    )
    .await
}

#[tokio::test]
async fn each_role_does_its_job_and_no_more() {
    let consul = AclConsul::shared().await;
    let prefix = prefix("acl-roles");
    let [(web, web_file), (load, load_file), (agent, _)] = make_roles(consul, &prefix);

    // The web role runs pets: votes counted, the console says what it has.
    let app = replica_with(consul, &prefix, &web_file).await;
    for (i, choice) in ["a", "b", "b"].into_iter().enumerate() {
        let answer = Visitor::new()
            .vote(&app, &format!("voter {i}"), choice)
            .await;
        assert_eq!(answer.status(), 303, "a vote with the web token");
    }
    app.wait_for_votes([1, 2, 0]).await;
    let access = app.results().await["store"]["access"].clone();
    assert!(
        access
            .as_str()
            .unwrap_or("")
            .contains("ACLs on; pets' token has pets-web-"),
        "the console names the token's role: {access}"
    );

    // The load role: `pets load` runs and publishes its meter.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pets"))
        .args([
            "load",
            "--target",
            &app.web,
            "--rate",
            "20",
            "--duration",
            "2s",
            "--json",
        ])
        .env("DB", consul.db())
        .env("PETS_KV_PREFIX", &prefix)
        .env("CONSUL_HTTP_TOKEN_FILE", &load_file)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "pets load with the load token: {output:?}"
    );
    let kv = |key: &str| format!("/v1/kv/{prefix}{key}");
    let (status, keys) = consul
        .call(
            "GET",
            &format!("{}?keys", kv("load/")),
            &consul.management,
            None,
        )
        .await;
    assert!(
        status == 200 && keys.contains("load/load-"),
        "its series: {status} {keys}"
    );

    // What each token may not do.
    let mut said = Vec::new();
    for (who, token) in [
        ("no token", ""),
        ("load token", load.as_str()),
        ("web token", web.as_str()),
        ("agent token", agent.as_str()),
    ] {
        let mut refused = Vec::new();
        let other = format!("/v1/kv/test-{}-acl-other/votes/round", std::process::id());
        let attempts: Vec<(&str, &str, String, Option<&str>)> = match who {
            "no token" => vec![
                ("read", "GET", kv("votes/round"), None),
                ("write", "PUT", kv("votes/round"), Some("{}")),
                ("list", "GET", format!("{}?recurse", kv("")), None),
                ("fold-lock", "PUT", "/v1/session/create".into(), Some("{}")),
            ],
            "load token" => vec![
                ("a vote counter", "PUT", kv("votes/round"), Some("{}")),
                ("a fault order", "PUT", kv("faults/fleet"), Some("{}")),
                ("a session", "PUT", kv("sessions/forged"), Some("{}")),
                (
                    "the fold lock",
                    "PUT",
                    "/v1/session/create".into(),
                    Some("{}"),
                ),
            ],
            "agent token" => vec![
                ("read", "GET", kv("votes/round"), None),
                ("write", "PUT", kv("votes/round"), Some("{}")),
                ("list", "GET", format!("{}?recurse", kv("")), None),
                ("a session", "PUT", "/v1/session/create".into(), Some("{}")),
                ("the tokens' list", "GET", "/v1/acl/tokens".into(), None),
            ],
            _ => vec![
                ("another prefix's read", "GET", other.clone(), None),
                ("another prefix's write", "PUT", other.clone(), Some("{}")),
            ],
        };
        for (what, method, path, body) in attempts {
            let (status, text) = consul.call(method, &path, token, body).await;
            // A listing shows nothing the token may not read: 404, as empty.
            let denied = status == 403 || (what == "list" && status == 404);
            assert!(denied, "{who}: {what} answered {status} {text}");
            refused.push(format!("{what} ({status})"));
        }
        said.push(format!("{who}: refused {}", refused.join(", ")));
    }
    let (status, _) = consul
        .call("PUT", &kv("load/probe"), &load, Some("{}"))
        .await;
    assert_eq!(status, 200, "the load token writes under load/");
    // The agent token does an agent's work: a node's own catalog entry.
    let node = format!(
        "{{\"Node\":\"acl-agent-{}\",\"Address\":\"127.0.0.9\"}}",
        std::process::id()
    );
    for path in ["/v1/catalog/register", "/v1/catalog/deregister"] {
        let (status, text) = consul.call("PUT", path, &agent, Some(&node)).await;
        assert_eq!(status, 200, "the agent token: {path} {text}");
    }
    println!("{}", said.join("\n"));
}

#[tokio::test]
async fn a_token_consul_does_not_know_is_said_in_words_and_counts_nothing() {
    let consul = AclConsul::shared().await;
    let prefix = prefix("acl-wrong");
    let [(_, web_file), ..] = make_roles(consul, &prefix);
    let (_, wrong_file) = secret_file("wrong");

    let mut wrong = replica_with(consul, &prefix, &wrong_file).await;
    let voters: Vec<Visitor> = (0..4).map(|_| Visitor::new()).collect();
    for (i, voter) in voters.iter().enumerate() {
        let answer = voter.vote(&wrong, &format!("voter {i}"), "a").await;
        assert_eq!(
            answer.status(),
            503,
            "a vote with a token Consul does not know"
        );
        assert!(answer.text().await.unwrap().contains("not recorded"));
    }
    let store = pets_testkit::eventually(
        std::time::Duration::from_secs(15),
        "the console's words",
        || async {
            let store = wrong.results().await["store"].clone();
            let access = store["access"].as_str().unwrap_or("").to_owned();
            let error = store["last_error"].as_str().unwrap_or("").to_owned();
            pets_testkit::holds(store, |_| {
                access.contains("Consul does not know pets' token")
                    && error.contains("Consul refused pets' token, which it does not know")
            })
        },
    )
    .await;
    assert_eq!(
        store["reachable"], true,
        "an answer, not an outage: {store}"
    );
    let (status, keys) = consul
        .call(
            "GET",
            &format!("/v1/kv/{prefix}?keys"),
            &consul.management,
            None,
        )
        .await;
    assert!(
        !keys.contains("ballots/") && !keys.contains("voters/") && !keys.contains("votes/"),
        "nothing counted: {status} {keys}"
    );
    wrong.stop().await;

    // The secret fixed: a replica with the right token counts every vote.
    let fixed = replica_with(consul, &prefix, &web_file).await;
    for (i, voter) in voters.iter().enumerate() {
        let answer = voter.vote(&fixed, &format!("voter {i}"), "c").await;
        assert_eq!(answer.status(), 303, "the same voters with the right token");
    }
    fixed.wait_for_votes([0, 0, 4]).await;
    println!(
        "a wrong token: {}; {}",
        store["access"], store["last_error"]
    );
}

#[tokio::test]
async fn a_replica_started_before_its_token_exists_counts_once_it_does() {
    // The prod stack's deploy: web starts with its secret while the
    // consul-acl job is still waiting for the servers.
    let consul = AclConsul::shared().await;
    let prefix = prefix("acl-early");
    let roles = [
        secret_file("web"),
        secret_file("load"),
        secret_file("agent"),
    ];
    let app = replica_with(consul, &prefix, &roles[0].1).await;
    let early = Visitor::new().vote(&app, "early", "a").await;
    assert_eq!(early.status(), 503, "no token yet: not recorded");
    make_roles_for(consul, &prefix, &roles);
    let voter = Visitor::new();
    let counted = pets_testkit::eventually(
        std::time::Duration::from_secs(30),
        "a vote counted once the token exists",
        || async {
            let status = voter.vote(&app, "on time", "b").await.status().as_u16();
            pets_testkit::holds(status, |s| *s == 303)
        },
    )
    .await;
    assert_eq!(counted, 303);
    app.wait_for_votes([0, 1, 0]).await;
    let access = pets_testkit::eventually(
        std::time::Duration::from_secs(15),
        "the console",
        || async {
            let access = app.results().await["store"]["access"].clone();
            pets_testkit::holds(access, |a| a.as_str().unwrap_or("").contains("pets-web-"))
        },
    )
    .await;
    println!("started before its token: {access}");
}

/// A replica whose token Consul does not know logs the refusal in a few
/// lines a person can act on, not once a watch's retry, and never the secret.
#[tokio::test]
async fn a_refused_token_is_logged_once_a_kind_and_its_secret_never() {
    let consul = AclConsul::shared().await;
    let prefix = prefix("acl-log");
    let (secret, wrong_file) = secret_file("wrong-log");
    let (wrong_file, db) = (wrong_file.to_str().unwrap(), consul.db());
    let env = [
        ("LOG_FORMAT", "json"),
        ("DB", db.as_str()),
        ("PETS_KV_PREFIX", prefix.as_str()),
        ("CONSUL_HTTP_TOKEN_FILE", wrong_file),
    ];
    let began = tokio::time::Instant::now();
    let mut pets = Binary::start(&env, None).await;
    let mut seen: Vec<String> = std::mem::take(&mut pets.early);
    seen.push(pets.started.clone());
    let until = began + std::time::Duration::from_secs(10);
    while let Ok(Some(line)) = tokio::time::timeout_at(until, pets.lines.recv()).await {
        seen.push(line);
    }
    let all = seen.len();
    let mut refusals = Vec::new();
    for line in seen {
        assert!(!line.contains(&secret), "the secret in a log line: {line}");
        if line.contains("consul refused") {
            refusals.push(line);
        }
    }
    println!("{} refusal lines of {all} in 10 s:", refusals.len());
    for line in &refusals {
        println!("  {line}");
    }
    assert!(!refusals.is_empty(), "the refusal is logged");
    assert!(refusals.len() <= 12, "one line a kind, not one a retry");
}
