//! The image on its own: its size, user and health check, and one container
//! that serves, votes and turns unhealthy after `/kill`.

use std::time::Duration;

use serde_json::Value;

use pets_testkit::holds;

use crate::support::{
    docker, eventually, get_json, http, local_images, remove_leftover_containers, try_docker,
    TEST_LABEL,
};

#[tokio::test]
async fn both_stacks_pass_docker_stack_config() {
    // The prod stack's Consul servers are at the nodes' addresses, which the
    // deploy must name.
    let nodes = [
        ("PETS_CONSUL_1", "10.0.0.11"),
        ("PETS_CONSUL_2", "10.0.0.12"),
        ("PETS_CONSUL_3", "10.0.0.13"),
    ];
    let config = |files: &[&str]| {
        let mut args = vec!["stack", "config"];
        for file in files {
            args.extend(["-c", file]);
        }
        crate::support::docker_with(&nodes, &args).unwrap_or_else(|e| panic!("{e}"))
    };
    let base = "compose/pets-stack.yml";
    let dev = config(&[base, "compose/pets-dev-compose.yml"]);
    let prod = config(&[base, "compose/pets-prod-compose.yml"]);
    for stack in [&dev, &prod] {
        assert!(stack.contains("bootstrap-expect=3"));
        assert!(stack.contains("min_quorum = 3"));
        assert!(stack.contains("failure_action: rollback"));
        assert!(stack.contains("order: start-first"));
        // The backend network's subnet, by which the dev Consul finds its
        // address: an override that names the network again would silently
        // drop it.
        assert!(stack.contains("subnet: 10.77.0.0/24"), "{stack}");
    }
    // On one machine pets finds every Consul server through tasks.db; across
    // nodes, at the nodes' own addresses, where a replaced server comes back.
    assert!(dev.contains("DB: tasks.db") && dev.contains("-retry-join=tasks.db"));
    assert!(!prod.contains("tasks.db"), "{prod}");
    assert_eq!(
        prod.matches("DB: 10.0.0.11,10.0.0.12,10.0.0.13").count(),
        3,
        "web, load and consul-acl at the three servers: {prod}"
    );
    for (_, address) in nodes {
        assert!(prod.contains(&format!("-retry-join={address}")), "{prod}");
    }
    assert!(prod.contains("name: host"), "Consul on the nodes' network");
    assert!(prod.contains("ports { dns = -1, serf_wan = -1 }"), "{prod}");
    assert!(
        prod.contains(r#"include "address" "^(10.0.0.11|10.0.0.12|10.0.0.13)(/|$)""#),
        "Consul binds to its node's address: {prod}"
    );
    let unnamed = crate::support::docker_with(
        &nodes.map(|(name, _)| (name, "")),
        &[
            "stack",
            "config",
            "-c",
            base,
            "-c",
            "compose/pets-prod-compose.yml",
        ],
    )
    .unwrap_err();
    assert!(
        unnamed.contains("the first node's address, for Consul"),
        "a prod deploy that names no nodes is refused, saying why: {unnamed}"
    );
    assert!(dev.contains("published: 8500"), "Consul's UI in dev");
    // Consul with ACLs and a token per role in prod, from secrets; the dev
    // stack open (its console says so).
    assert!(
        prod.contains("-config-file=/run/secrets/consul-server.hcl"),
        "{prod}"
    );
    assert!(prod.contains("CONSUL_HTTP_TOKEN_FILE: /run/secrets/pets_consul_web_token"));
    assert!(prod.contains("CONSUL_HTTP_TOKEN_FILE: /run/secrets/pets_consul_load_token"));
    assert!(
        prod.contains("PETS_CONSUL_AGENT_TOKEN_FILE: /run/secrets/pets_consul_agent_token"),
        "the consul-acl job makes the servers' agent token: {prod}"
    );
    assert!(!dev.contains("CONSUL_HTTP_TOKEN_FILE") && !dev.contains("consul-acl"));
    // On one machine a Consul server keeps its slot's name and volume; across
    // nodes, its node's, since volumes stay on their node and a returning
    // slot may land on either node.
    assert!(
        dev.contains("name: '{{.Service.Name}}-{{.Task.Slot}}'"),
        "{dev}"
    );
    assert!(dev.contains("hostname: '{{.Service.Name}}-{{.Task.Slot}}'"));
    assert!(
        prod.contains("name: '{{.Service.Name}}-{{.Node.Hostname}}'"),
        "{prod}"
    );
    assert!(prod.contains("hostname: '{{.Service.Name}}-{{.Node.Hostname}}'"));
    assert!(
        !prod.contains("-{{.Task.Slot}}'"),
        "nothing named by slot in prod"
    );
    assert!(dev.contains("published: 5000") && dev.contains("published: 7000"));
    let prod = config(&[
        base,
        "compose/pets-prod-compose.yml",
        "compose/pets-prod-traefik.yml",
    ]);
    assert!(prod.contains("/run/secrets/admin_password"));
    assert!(prod.contains("com.docker.lb.hosts"));
    assert!(prod.contains("traefik.http.routers.pets.rule"));
    assert!(prod.contains("max_replicas_per_node: 1"));
    assert!(prod.contains("PETS_CHAOS: \"off\"") || prod.contains("PETS_CHAOS: off"));
    assert!(prod.contains("PETS_ALLOWED_HOSTS: pets.example.com,admin.example.com"));
    assert!(
        !prod.contains("8500:8500") && !prod.contains("published: 8500"),
        "Consul not published in prod"
    );
    // The router the lab runs: on every node, 80 and 443 in host mode (no
    // routing mesh), its certificate from secrets, no Docker socket.
    let routed = config(&[
        base,
        "compose/pets-prod-compose.yml",
        "compose/pets-prod-haproxy.yml",
    ]);
    let router: Vec<&str> = routed
        .lines()
        .skip_while(|l| *l != "  router:")
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with("    "))
        .map(|(_, l)| l)
        .collect();
    let router = router.join("\n");
    for expected in [
        "image: haproxy:2.6",
        "mode: global",
        "mode: host",
        "published: 443",
        "published: 80",
        "source: pets_tls_cert",
        "source: pets_tls_key",
        "target: /usr/local/etc/haproxy/haproxy.cfg",
    ] {
        assert!(router.contains(expected), "{expected}: {router}");
    }
    assert!(
        !router.contains("docker.sock"),
        "no Docker socket: {router}"
    );
}

#[tokio::test]
async fn the_image_is_small_non_root_and_health_checked() {
    local_images();
    let inspect: Value = serde_json::from_str(&docker(&["image", "inspect", "pets:1.0"])).unwrap();
    let image = &inspect[0];
    let size = image["Size"].as_u64().unwrap();
    eprintln!("pets:1.0 is {:.1} MB", size as f64 / 1e6);
    assert!(size <= 30_000_000, "at most 30 MB, is {size}");
    assert_eq!(image["Config"]["User"], "65532:65532");
    let check = image["Config"]["Healthcheck"]["Test"].to_string();
    assert!(
        check.contains("pets") && check.contains("healthcheck"),
        "{check}"
    );
    let ports = image["Config"]["ExposedPorts"].as_object().unwrap();
    assert!(ports.contains_key("5000/tcp") && ports.contains_key("7000/tcp"));
    assert_eq!(
        image["Config"]["Labels"]["org.opencontainers.image.title"],
        "pets"
    );
    for (tag, version) in [("pets:2.0", "2.0"), ("pets:broken", "broken")] {
        let env = docker(&["image", "inspect", tag, "-f", "{{json .Config.Env}}"]);
        assert!(
            env.contains(&format!("PETS_VERSION={version}")),
            "{tag}: {env}"
        );
    }
}

struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = try_docker(&["rm", "-f", &self.0]);
    }
}

#[tokio::test]
async fn one_container_serves_and_turns_unhealthy_after_kill() {
    local_images();
    remove_leftover_containers("image");
    let label = format!("{TEST_LABEL}=image");
    let id = docker(&[
        "run",
        "-d",
        "--label",
        &label,
        "-p",
        "127.0.0.1::5000",
        "-p",
        "127.0.0.1::7000",
        "pets:1.0",
    ]);
    let container = Container(id);
    let port = |p: &str| {
        docker(&["port", &container.0, p])
            .lines()
            .next()
            .unwrap()
            .to_owned()
    };
    let (web, admin) = (
        format!("http://{}", port("5000")),
        format!("http://{}", port("7000")),
    );
    let client = http();

    let health = eventually(Duration::from_secs(20), "container answers", || async {
        client.get(format!("{web}/health")).send().await
    })
    .await;
    assert_eq!(health.status(), 200);
    let vote = client
        .post(format!("{web}/vote"))
        .form(&[("name", "Ada"), ("vote", "c")])
        .send()
        .await
        .unwrap();
    assert_eq!(vote.status(), 303);
    let page = client
        .get(&web)
        .header("cookie", "pets_vote=c")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text().await.unwrap().contains(&container.0[..12]),
        "names its container"
    );
    let results = get_json(&format!("{admin}/api/results")).await;
    assert_eq!(results["options"][2]["votes"], 1);

    // The console drives faults in one container too.
    let fault = |body: serde_json::Value| {
        client
            .post(format!("{admin}/api/faults"))
            .json(&body)
            .send()
    };
    let ordered = fault(serde_json::json!({"target": "fleet", "error_percent": 100}));
    assert_eq!(ordered.await.unwrap().status(), 200);
    let vote_page = || async {
        let status = client.get(format!("{web}/vote")).send().await;
        status
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string())
    };
    eventually(Duration::from_secs(2), "errors injected", || async {
        holds(vote_page().await?, |s| *s == 500)
    })
    .await;
    let fleet = get_json(&format!("{admin}/api/fleet")).await;
    assert_eq!(fleet["replicas"][0]["faults"]["error_percent"], 100);
    let cleared = fault(serde_json::json!({"target": "fleet", "clear": true}));
    assert_eq!(cleared.await.unwrap().status(), 200);
    eventually(Duration::from_secs(2), "errors cleared", || async {
        holds(vote_page().await?, |s| *s == 200)
    })
    .await;

    let status = || try_docker(&["inspect", "-f", "{{.State.Health.Status}}", &container.0]);
    eventually(Duration::from_secs(30), "healthy", || async {
        holds(status()?, |s| s == "healthy")
    })
    .await;
    assert_eq!(
        client
            .get(format!("{web}/kill"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    eventually(
        Duration::from_secs(30),
        "marked unhealthy after /kill",
        || async { holds(status()?, |s| s == "unhealthy") },
    )
    .await;
}

/// The README's one-container line, exactly as a new user types it (the
/// line beginning `docker run` in its first block that has one), in the
/// foreground as a terminal would run it: it serves on :5000 and :7000.
#[tokio::test]
async fn the_readmes_docker_run_line_serves() {
    local_images();
    let readme = std::fs::read_to_string(crate::support::workspace().join("README.md")).unwrap();
    let line = readme
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("docker run "))
        .expect("README.md shows how to run one container");
    let line = line.split(" #").next().unwrap().trim().to_owned();
    assert!(line.contains("5000:5000"), "{line}");
    /// Whatever container of pets:1.0 publishes :5000, removed when
    /// dropped (before the test and after it, pass or fail).
    struct Published;
    impl Published {
        fn remove() {
            let ids = try_docker(&[
                "ps",
                "-aq",
                "--filter",
                "ancestor=pets:1.0",
                "--filter",
                "publish=5000",
            ])
            .unwrap_or_default();
            for id in ids.split_whitespace() {
                let _ = try_docker(&["rm", "-f", id]);
            }
        }
    }
    impl Drop for Published {
        fn drop(&mut self) {
            Self::remove();
        }
    }
    Published::remove();
    eprintln!("running, as README.md says: {line}");
    let run = tokio::process::Command::new("sh")
        .args(["-c", &line])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let _cleanup = (Published, run);
    let client = http();
    let answered = eventually(
        Duration::from_secs(30),
        "the README's container answers",
        || async {
            let health = client.get("http://127.0.0.1:5000/health").send().await;
            let health = health.map_err(|e| e.to_string())?;
            holds(health.status().as_u16(), |s| *s == 200)
        },
    )
    .await;
    assert_eq!(answered, 200);
    let console = client.get("http://127.0.0.1:7000/api/results").send().await;
    assert_eq!(console.unwrap().status(), 200, "the console on :7000");
}
