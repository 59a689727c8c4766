//! Step 7: Consul with least privilege. The prod stack runs Consul with ACLs
//! (default deny) and gossip encryption from secrets; this step proves what
//! each role can and cannot do from a probe container on the `backend`
//! network, that the servers' own agents work with the agent role's token,
//! that an agent without the gossip key cannot join, that a web
//! service given a wrong token says so and counts nothing, and that a token
//! rotated through Swarm secrets brings it back with every vote counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pets_testkit::holds;

use super::{every_console_shows, plus, tasks, web_tasks};
use crate::acl::{consul_get, management};
use crate::prod::{console_json, secret_create, service, tally, Prod, STACK};
use crate::rig::Lab;
use crate::steps::update::manage;
use crate::support::{eventually, http, vote_at as vote};

const CONSUL_IMAGE: &str = "consul-local:1.8.7";

pub async fn consul_runs_with_least_privilege(lab: &Arc<Lab>, prod: &Prod, cookie: &str) {
    let backend = format!("{STACK}_backend");
    let state = manage(
        lab,
        &[
            "service",
            "ps",
            &service("consul-acl"),
            "--format",
            "{{.CurrentState}}",
        ],
    )
    .await;
    assert!(
        state.contains("Complete"),
        "the consul-acl job ran: {state}"
    );
    let web = web_tasks(lab, 3).await;
    let access = console_json(&web[0].1, "/api/results", cookie)
        .await
        .unwrap()["store"]["access"]
        .to_string();
    assert!(access.contains("pets' token has pets-web"), "{access}");
    eprintln!("step 7: the console: {access}");
    let before = eventually(Duration::from_secs(60), "the tally", || {
        tally(&web[0].1, cookie)
    })
    .await;

    // A probe on the backend network, with Consul's own command line.
    let load = prod.consul.read("load.token");
    let web_token = prod.consul.read("web.token");
    let agent = prod.consul.read("agent.token");
    for (who, token, checks) in [
        (
            "probe without a token",
            "",
            vec![
                ("read", vec!["kv", "get"], "pets/votes/round"),
                ("write", vec!["kv", "put"], "pets/votes/round"),
                ("list", vec!["kv", "get", "-recurse"], "pets/"),
                ("fold-lock", vec!["lock", "-timeout=5s"], "pets/fold-lock"),
            ],
        ),
        (
            "load token",
            load.as_str(),
            vec![
                (
                    "change a vote counter",
                    vec!["kv", "put"],
                    "pets/votes/round",
                ),
                (
                    "change a fault order",
                    vec!["kv", "put"],
                    "pets/faults/fleet",
                ),
                ("forge a session", vec!["kv", "put"], "pets/sessions/forged"),
            ],
        ),
        (
            "web token",
            web_token.as_str(),
            vec![(
                "touch another prefix",
                vec!["kv", "put"],
                "other/votes/round",
            )],
        ),
        (
            "the servers' agent token",
            agent.as_str(),
            vec![
                ("read", vec!["kv", "get"], "pets/votes/round"),
                ("write", vec!["kv", "put"], "pets/votes/round"),
                ("list", vec!["kv", "get", "-recurse"], "pets/"),
                ("fold-lock", vec!["lock", "-timeout=5s"], "pets/fold-lock"),
            ],
        ),
    ] {
        let mut refused = Vec::new();
        for (what, command, key) in checks {
            let said = run_probe(lab, &backend, token, &command, key).await;
            let denied = match (what, &said) {
                // A listing shows nothing the token may not read.
                ("list", Ok(out)) => !out.contains("votes/"),
                (_, Err(e)) => e.contains("403") || e.contains("Permission denied"),
                _ => false,
            };
            assert!(denied, "{who}: {what} was allowed: {said:?}");
            refused.push(match what {
                "list" => "list (nothing shown)".to_owned(),
                _ => format!("{what} (403)"),
            });
        }
        eprintln!("  {who}: refused {}", refused.join(", "));
    }
    let wrote = run_probe(lab, &backend, &load, &["kv", "put"], "pets/load/probe").await;
    assert!(
        wrote.is_ok(),
        "the load token writes under load/: {wrote:?}"
    );
    eprintln!("  load token: writes pets/load/probe");
    servers_work_with_the_agent_token(lab, prod, &agent).await;

    stray_agent_cannot_join(lab).await;
    eprintln!("  backend overlay: {}", overlay_encryption());
    wrong_token_then_rotation(lab, prod, cookie, before).await;
}

/// The servers' agents hold the agent token, not the management token
/// (the secret `scripts/consul-secrets.sh` made), and do their own work
/// with it: each server's network coordinate, which its agent sends with
/// that token and Consul refuses without node write, reaches the catalog.
async fn servers_work_with_the_agent_token(lab: &Arc<Lab>, prod: &Prod, agent: &str) {
    let hcl = std::fs::read_to_string(prod.consul.dir.join("consul-server.hcl")).unwrap();
    assert!(
        hcl.contains(&format!("agent = \"{agent}\"")) && hcl.matches(&management()).count() == 1,
        "the servers' agent token is the agent role's, the management token only the master"
    );
    let url = format!("http://{}:8500/v1/coordinate/nodes", lab.manager().ip);
    let nodes = eventually(
        Duration::from_secs(90),
        "each server's coordinate, sent with the agent token",
        || async {
            let nodes = consul_get(&url).await?;
            let count = nodes.as_array().map_or(0, Vec::len);
            holds(nodes, |_| count >= 3)
        },
    )
    .await;
    let names = names_in(&nodes, "Node");
    eprintln!("  the servers' agent token: their coordinates in the catalog ({names:?})");
}

/// The `field` of every entry of a Consul JSON list.
fn names_in<'a>(list: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    let entries = list.as_array().into_iter().flatten();
    entries.filter_map(|e| e[field].as_str()).collect()
}

/// One run of Consul's command line in a probe container: its output, or
/// its error.
async fn run_probe(
    lab: &Arc<Lab>,
    backend: &str,
    token: &str,
    command: &[&str],
    key: &str,
) -> Result<String, String> {
    let mut args: Vec<String> = ["run", "--rm", "--network", backend, CONSUL_IMAGE]
        .map(str::to_owned)
        .to_vec();
    args.extend(command.iter().map(|c| c.to_string()));
    // The servers listen at their nodes' addresses: this one's, from a
    // container on the backend network (any container on the node reaches it).
    args.push(format!("-http-addr=http://{}:8500", lab.manager().ip));
    if !token.is_empty() {
        args.push(format!("-token={token}"));
    }
    args.push(key.into());
    if command[0] == "kv" && command[1] == "put" {
        args.push("probe".into());
    }
    if command[0] == "lock" {
        args.push("true".into());
    }
    let lab = lab.clone();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        lab.manager().docker(&args)
    })
    .await
    .unwrap()
}

/// Whether this kernel (which the nodes share) can encrypt an overlay:
/// Docker's `encrypted` option needs ESP and AES-GCM. Said, not asserted:
/// the stack leaves the option to the operator.
fn overlay_encryption() -> String {
    let config = std::process::Command::new("zcat")
        .arg("/proc/config.gz")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let missing: Vec<&str> = ["CONFIG_INET_ESP", "CONFIG_CRYPTO_GCM"]
        .into_iter()
        .filter(|option| {
            !config
                .lines()
                .any(|l| l == format!("{option}=y") || l == format!("{option}=m"))
        })
        .collect();
    if config.is_empty() {
        "not encrypted: the kernel's configuration cannot be read here".to_owned()
    } else if missing.is_empty() {
        "this kernel could encrypt it (driver_opts encrypted); the stack leaves it to the operator"
            .to_owned()
    } else {
        format!(
            "not encrypted: this kernel has no {} (IPsec for driver_opts encrypted)",
            missing.join(" or ")
        )
    }
}

/// An agent started without the gossip key tries to join the servers and
/// is not let in. It runs where the servers do, on a node's own network
/// (on ports of its own), so the servers could reach it back: only the key
/// is missing.
async fn stray_agent_cannot_join(lab: &Arc<Lab>) {
    let name = "petslab-stray-agent";
    let manager = lab.manager();
    let _ = manager.docker(&["rm", "-f", name]);
    let (bind, join) = (
        format!("-bind={}", manager.ip),
        // With the servers' port: an address alone means this agent's own
        // (18301), and it would join itself.
        format!("-retry-join={}:8301", manager.ip),
    );
    manager
        .docker(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",
            CONSUL_IMAGE,
            "agent",
            "-node=stray",
            "-data-dir=/consul/data",
            &bind,
            &join,
            "-client=127.0.0.1",
            "-serf-lan-port=18301",
            "-http-port=18500",
            "-dns-port=-1",
        ])
        .unwrap_or_else(|e| panic!("the stray agent starts: {e}"));
    tokio::time::sleep(Duration::from_secs(15)).await;
    let db = tasks(lab, "db").await.unwrap();
    let members = consul_get(&format!("http://{}:8500/v1/agent/members", db[0].1.ip))
        .await
        .unwrap();
    let names = names_in(&members, "Name");
    let logs = manager.docker(&["logs", name]).unwrap_or_else(|e| e);
    let _ = manager.docker(&["rm", "-f", name]);
    assert!(
        !names.contains(&"stray"),
        "the stray agent joined: {names:?}"
    );
    assert_eq!(names.len(), 3, "the three servers gossip: {names:?}");
    // Its own account of it: it reached the servers and was refused for
    // want of the key (not, say, never started or joined nothing).
    let lines: Vec<&str> = logs.lines().collect();
    let why = lines
        .iter()
        .position(|l| l.contains("Remote state is encrypted"))
        .map(|at| {
            lines[at.saturating_sub(1)..(at + 2).min(lines.len())]
                .iter()
                .map(|l| l.trim())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| panic!("the stray agent was not refused for the key; its log:\n{logs}"));
    eprintln!(
        "  stray agent without the gossip key: did not join ({})",
        why.trim()
    );
}

/// A web service given a token Consul does not know: the console says so,
/// votes get 503 and nothing is counted. A new token made by the
/// consul-acl job and given to the service brings it back; the old one is
/// deleted.
async fn wrong_token_then_rotation(
    lab: &Arc<Lab>,
    prod: &Prod,
    cookie: &str,
    before: [u64; 3],
) -> [u64; 3] {
    let uuid = || {
        std::fs::read_to_string("/proc/sys/kernel/random/uuid")
            .unwrap()
            .trim()
            .to_owned()
    };
    let swap = |secret: &str| {
        vec![
            "service".to_owned(),
            "update".into(),
            "--quiet".into(),
            "--secret-rm".into(),
            "pets_consul_web_token".into(),
            "--secret-add".into(),
            format!("source={secret},target=pets_consul_web_token"),
        ]
    };
    let manager = lab.manager();
    secret_create(manager, "pets_consul_web_token_wrong", uuid().as_bytes());
    let mut update = swap("pets_consul_web_token_wrong");
    update.push(service("web"));
    let started = Instant::now();
    manage(lab, &update.iter().map(String::as_str).collect::<Vec<_>>()).await;
    eprintln!(
        "  web given a wrong token, rolled in {:.0?}",
        started.elapsed()
    );
    let web = web_tasks(lab, 3).await;
    let said = eventually(Duration::from_secs(30), "the console's words", || async {
        let store = console_json(&web[0].1, "/api/results", cookie).await?["store"].clone();
        holds(store, |s| {
            s["access"]
                .as_str()
                .unwrap_or("")
                .contains("does not know pets' token")
        })
    })
    .await;
    let mut refused = 0;
    for (i, (_, task)) in web.iter().enumerate() {
        let status = vote(
            &format!("http://{}:5000", task.ip),
            &format!("acl {i}"),
            "a",
        )
        .await;
        assert_eq!(status, 503, "a vote with a wrong token");
        refused += 1;
    }
    // The console cannot read the tally either, and says it is not current;
    // that nothing was counted shows once the token is right again.
    let results = console_json(&web[0].1, "/api/results", cookie)
        .await
        .unwrap();
    assert_eq!(
        results["stale"], true,
        "the tally marked as not current: {results}"
    );
    eprintln!(
        "  wrong token: {refused} votes refused (503), none counted; the console: {}; {}",
        said["access"], said["last_error"]
    );

    // Rotation: a new token, made by the job, then given to web.
    let old = prod.consul.read("web.token");
    let new = uuid();
    secret_create(manager, "pets_consul_web_token_2", new.as_bytes());
    let mut job = swap("pets_consul_web_token_2");
    job.extend(["--detach".into(), service("consul-acl")]);
    manage(lab, &job.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let db = tasks(lab, "db").await.unwrap();
    let token_self = format!("http://{}:8500/v1/acl/token/self", db[0].1.ip);
    eventually(
        Duration::from_secs(90),
        "the new token made by the job",
        || async {
            let answer = http()
                .get(&token_self)
                .header("X-Consul-Token", &new)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            holds(answer.status().as_u16(), |s| *s == 200)
        },
    )
    .await;
    let mut update = swap("pets_consul_web_token_2");
    // web holds the wrong one now.
    update[4] = "pets_consul_web_token_wrong".into();
    update.push(service("web"));
    let started = Instant::now();
    manage(lab, &update.iter().map(String::as_str).collect::<Vec<_>>()).await;
    eprintln!(
        "  web given the rotated token, rolled in {:.0?}",
        started.elapsed()
    );
    let web = web_tasks(lab, 3).await;
    for (i, (_, task)) in web.iter().enumerate() {
        let base = format!("http://{}:5000", task.ip);
        eventually(Duration::from_secs(30), "a vote counted again", || async {
            holds(vote(&base, &format!("rotated {i}"), "b").await, |s| {
                *s == 303
            })
        })
        .await;
    }
    let after = plus(before, [0, web.len() as u64, 0]);
    every_console_shows(lab, cookie, after).await;

    // The old token deleted with the management token: it opens nothing.
    let old_self = http()
        .get(&token_self)
        .header("X-Consul-Token", &old)
        .send()
        .await
        .unwrap();
    let accessor = old_self.json::<serde_json::Value>().await.unwrap()["AccessorID"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = http()
        .delete(format!(
            "http://{}:8500/v1/acl/token/{accessor}",
            db[0].1.ip
        ))
        .header("X-Consul-Token", management())
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "the old token deleted");
    let gone = http()
        .get(&token_self)
        .header("X-Consul-Token", &old)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 403, "the old token opens nothing");
    eprintln!("  rotated: the new token in use, the old one deleted (403); the tally {after:?}");
    after
}
