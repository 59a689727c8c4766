//! Pets as a Service on the lab's three-node Swarm: `pets paas` in a
//! container on node1 (a manager), making each instance a Swarm service.
//! Nine instances in a row land on all three nodes and each serves its own
//! names through the proxy; the node holding the most of them is killed,
//! and they come back on the others, their hosts answering a page (never a
//! 502) meanwhile and their passwords working after; a `pets paas` made
//! anew adopts every one; they expire while the node is still down, and
//! nothing of them remains once it returns.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::node::Node;
use crate::rig::Lab;
use crate::support::{first_cookie, local_images, password_on, try_docker};

const DOMAIN: &str = "paas.test";
const CONTAINER: &str = "petslab-paas";
const INSTANCES: u8 = 9;
/// Long enough for every step before the expiry, which waits for it.
const TTL: Duration = Duration::from_secs(180);

/// `pets paas` as it runs on node1, reached at node1's port 8000.
struct SwarmPaas {
    /// The node it runs on, for its logs.
    node: Node,
    base: String,
    client: reqwest::Client,
}

impl SwarmPaas {
    /// Starts `pets paas` (PAAS_MODE=swarm) in a container on `node`, with
    /// the engine's socket, and waits for its landing page.
    async fn start(node: &Node) -> Self {
        // As docs/PAAS.md runs it: the image's user, in the socket's group.
        let group = try_docker(&[
            "exec",
            &node.container(),
            "stat",
            "-c",
            "%g",
            "/var/run/docker.sock",
        ])
        .expect("the node's engine socket");
        node.docker(&[
            "run",
            "-d",
            "--name",
            CONTAINER,
            "--group-add",
            group.trim(),
            "--no-healthcheck",
            "-p",
            "8000:8000",
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock",
            "-e",
            "PAAS_MODE=swarm",
            "-e",
            &format!("PAAS_DOMAIN={DOMAIN}"),
            "-e",
            "PAAS_MAX_INSTANCES=12",
            "-e",
            "PAAS_MAX_PER_NODE=4",
            "-e",
            &format!("PAAS_TTL={}s", TTL.as_secs()),
            "-e",
            "PAAS_CREATIONS_PER_MINUTE=100",
            "-e",
            "PAAS_TRUSTED_PROXIES=10.0.0.0/8",
            "pets:1.0",
            "paas",
        ])
        .unwrap_or_else(|e| panic!("pets paas on {}: {e}", node.name));
        let paas = Self {
            node: node.clone(),
            base: format!("http://{}:8000", node.ip),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        };
        paas.wait_landing(node).await;
        paas
    }

    async fn wait_landing(&self, node: &Node) {
        let started = Instant::now();
        while self.get(DOMAIN, "/").await.map(|(s, _)| s) != Ok(200) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "pets paas on {} never served its landing page: {}",
                node.name,
                node.docker(&["logs", "--tail", "30", CONTAINER])
                    .unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn logs(&self) -> String {
        self.node
            .docker(&["logs", "--tail", "30", CONTAINER])
            .unwrap_or_default()
    }

    async fn get(&self, host: &str, path: &str) -> Result<(u16, String), String> {
        let answer = self
            .client
            .get(format!("{}{path}", self.base))
            .header("host", host)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = answer.status().as_u16();
        Ok((status, answer.text().await.unwrap_or_default()))
    }

    /// Makes an instance for visitor `n` (an address of its own, through
    /// the trusted proxy's header); its id and console password.
    async fn create(&self, n: u8) -> (String, String) {
        let visitor = format!("192.0.2.{n}");
        let answer = self
            .client
            .post(format!("{}/instances", self.base))
            .header("host", DOMAIN)
            .header("x-forwarded-for", &visitor)
            .form(&[("version", "1.0")])
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let cookie = first_cookie(&answer);
        let location = answer
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let body = answer.text().await.unwrap_or_default();
        assert_eq!(
            status,
            303,
            "creation {n}: {body}\npets paas:\n{}",
            self.logs()
        );
        let location = location.expect("a 303 has a location");
        let id = location.trim_start_matches("/instances/").to_owned();
        let page = self
            .client
            .get(format!("{}{location}", self.base))
            .header("host", DOMAIN)
            .header("x-forwarded-for", &visitor)
            .header("cookie", cookie.expect("a claim cookie"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (id, password_on(&page).expect("the password, once"))
    }

    /// Logs in to an instance's console; whether the password was taken.
    async fn login(&self, id: &str, password: &str) -> bool {
        let answer = self
            .client
            .post(format!("{}/login", self.base))
            .header("host", format!("{id}-admin.{DOMAIN}"))
            .form(&[("password", password)])
            .send()
            .await
            .unwrap();
        answer.status() == 303
    }
}

/// The node each instance's running task is on, as Swarm says.
fn placement(lab: &Lab, ids: &[String]) -> BTreeMap<String, String> {
    let manager = lab.manager();
    ids.iter()
        .filter_map(|id| {
            let service = format!("pets-paas-{id}");
            let nodes = manager
                .docker(&[
                    "service",
                    "ps",
                    &service,
                    "--filter",
                    "desired-state=running",
                    "--format",
                    "{{.Node}} {{.CurrentState}}",
                ])
                .ok()?;
            let running = nodes.lines().find(|l| l.contains("Running"))?;
            Some((id.clone(), running.split(' ').next()?.to_owned()))
        })
        .collect()
}

/// The address of `id`'s running task on its own network, as Swarm says.
fn task_address(lab: &Lab, id: &str) -> String {
    let manager = lab.manager();
    let service = format!("pets-paas-{id}");
    let task = manager
        .docker(&[
            "service",
            "ps",
            "-q",
            "--filter",
            "desired-state=running",
            &service,
        ])
        .expect("the instance's task");
    let task = task.lines().next().expect("one running task");
    let format = "{{range .NetworksAttachments}}{{range .Addresses}}{{.}} {{end}}{{end}}";
    let addresses = manager
        .docker(&["inspect", "--type", "task", "-f", format, task])
        .expect("the task's addresses");
    let address = addresses.split_whitespace().next().expect("an address");
    address.split('/').next().unwrap().to_owned()
}

/// Whether a probe container on `node`, on `id`'s network, opens a TCP
/// connection to `ip:5000` within 3 s.
fn reaches(node: &Node, id: &str, ip: &str) -> bool {
    let network = format!("pets-paas-{id}");
    let script = format!("timeout 3 bash -c '</dev/tcp/{ip}/5000'");
    node.docker(&[
        "run",
        "--rm",
        "--network",
        &network,
        "pets-debian-local:bookworm",
        "bash",
        "-c",
        &script,
    ])
    .is_ok()
}

/// Waits until every instance's site answers 200 through the proxy.
async fn all_serve(paas: &SwarmPaas, ids: &[String], within: Duration) {
    let started = Instant::now();
    for id in ids {
        let host = format!("{id}.{DOMAIN}");
        loop {
            match paas.get(&host, "/vote").await {
                Ok((200, page)) if page.contains("<form") => break,
                other => assert!(
                    started.elapsed() < within,
                    "{host} never served its page: {other:?}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paas_instances_spread_over_a_swarm_and_survive_a_node() {
    local_images();
    let lab = Arc::new(tokio::task::spawn_blocking(Lab::start).await.unwrap());
    let paas = SwarmPaas::start(lab.node("node1")).await;
    let created = Instant::now();
    let mut made = Vec::new();
    for n in 1..=INSTANCES {
        made.push(paas.create(n).await);
    }
    let ids: Vec<String> = made.iter().map(|(id, _)| id.clone()).collect();
    all_serve(&paas, &ids, Duration::from_secs(120)).await;
    let placed = placement(&lab, &ids);
    eprintln!("  nine instances placed: {placed:?}");
    let mut by_node: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for (id, node) in &placed {
        by_node.entry(node).or_default().push(id);
    }
    assert_eq!(
        by_node.len(),
        3,
        "nine instances in a row land on all three nodes: {by_node:?}"
    );
    // Each serves its own names, and only its own password opens its console.
    for (id, password) in &made {
        let (status, page) = paas
            .get(&format!("{id}-admin.{DOMAIN}"), "/login")
            .await
            .unwrap();
        assert_eq!(status, 200, "{id}'s console: {page}");
        assert!(paas.login(id, password).await, "{id}'s own password");
    }
    // A probe on one instance's network, on a node other than the
    // instance's, reaches that instance and no other.
    let a = &ids[0];
    let probe_at = ["node1", "node2", "node3"]
        .into_iter()
        .find(|n| *n != placed[a])
        .unwrap();
    let a_ip = task_address(&lab, a);
    assert!(
        reaches(lab.node(probe_at), a, &a_ip),
        "a probe on {probe_at}, on {a}'s network, reaches {a} ({a_ip}) on {}",
        placed[a]
    );
    for other in &ids[1..] {
        let ip = task_address(&lab, other);
        assert!(
            !reaches(lab.node(probe_at), a, &ip),
            "{a}'s network does not reach {other} ({ip}) on {}",
            placed[other]
        );
    }
    let (first, second) = (&made[0], &made[1]);
    assert!(
        !paas.login(&first.0, &second.1).await,
        "another instance's password does not open {}'s console",
        first.0
    );

    // The node (not node1, which runs pets paas) holding the most instances.
    let (lost, moving) = by_node
        .iter()
        .filter(|(node, _)| **node != "node1")
        .max_by_key(|(_, ids)| ids.len())
        .map(|(node, ids)| {
            (
                node.to_string(),
                ids.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        })
        .unwrap();
    assert!(moving.len() >= 2, "{lost} holds at least two: {by_node:?}");
    lab.node(&lost).kill();
    let killed = Instant::now();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut back: BTreeMap<String, Duration> = BTreeMap::new();
    while back.len() < moving.len() {
        assert!(
            killed.elapsed() < Duration::from_secs(120),
            "after {lost} was killed, back within 120 s: only {back:?}; answers {seen:?}"
        );
        let waiting: Vec<&String> = moving.iter().filter(|id| !back.contains_key(*id)).collect();
        for id in waiting {
            let answer = paas.get(&format!("{id}.{DOMAIN}"), "/vote").await;
            let (status, page) = answer.unwrap_or_else(|e| panic!("pets paas answers: {e}"));
            let kind = match status {
                200 => "200 its page",
                503 if page.contains("on its way") => "503 on its way",
                503 if page.contains("not answering") => "503 not answering",
                _ => panic!("{id} while {lost} is down: {status} {page}"),
            };
            *seen.entry(kind).or_default() += 1;
            if status == 200 {
                back.insert(id.clone(), killed.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    eprintln!(
        "  {lost} killed: {} instances back after {back:?}; answers meanwhile {seen:?}",
        moving.len()
    );
    let now = placement(&lab, &moving);
    assert!(
        now.values().all(|node| *node != lost),
        "moved off {lost}: {now:?}"
    );
    for (id, password) in made.iter().filter(|(id, _)| moving.contains(id)) {
        assert!(
            paas.login(id, password).await,
            "{id}'s password, after the move"
        );
    }

    // A pets paas made anew (an upgrade: the old container removed, a new
    // one run) adopts every live instance and joins its network again.
    lab.node("node1")
        .docker(&["rm", "-f", CONTAINER])
        .expect("the old pets paas removed");
    let paas = SwarmPaas::start(lab.node("node1")).await;
    all_serve(&paas, &ids, Duration::from_secs(60)).await;
    // The room is what the two nodes up have left of their four each
    // (Swarm, not pets paas, chose where the moved ones went).
    let placed = placement(&lab, &ids);
    let free: usize = ["node1", "node2", "node3"]
        .into_iter()
        .filter(|n| *n != lost)
        .map(|n| 4usize.saturating_sub(placed.values().filter(|p| *p == n).count()))
        .sum();
    let (_, landing) = paas.get(DOMAIN, "/").await.unwrap();
    assert!(
        landing.contains(&format!("9 running, {free} free")),
        "nine adopted, and {free} free while {lost} is down ({placed:?}): {landing}"
    );

    // Expiry while the node is down: nothing of the instances remains,
    // on the managers or on the node once it returns.
    let left = TTL.saturating_sub(created.elapsed()) + Duration::from_secs(5);
    eprintln!("  waiting {left:?} for the nine to expire, {lost} still down");
    tokio::time::sleep(left).await;
    let labelled = "label=org.pets.paas.instance";
    let manager = lab.manager();
    let remains = |node: &Node, what: &[&str]| {
        let mut args = what.to_vec();
        args.extend(["-q", "--filter", labelled]);
        node.docker(&args)
            .unwrap_or_else(|e| format!("(cannot ask: {e})"))
    };
    let started = Instant::now();
    loop {
        let left: Vec<String> = [
            &["service", "ls"][..],
            &["secret", "ls"],
            &["network", "ls"],
        ]
        .iter()
        .map(|what| remains(manager, what))
        .filter(|r| !r.trim().is_empty())
        .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "after expiry the managers still hold {left:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let returned = lab.node(&lost).clone();
    tokio::task::spawn_blocking(move || returned.start())
        .await
        .unwrap();
    let returned = lab.node(&lost);
    let started = Instant::now();
    loop {
        let left: Vec<String> = [&["ps", "-a"][..], &["network", "ls"]]
            .iter()
            .map(|what| remains(returned, what))
            .filter(|r| !r.trim().is_empty())
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{lost}, back after the expiry, still holds {left:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!(
        "  {lost} back: nothing of the expired instances left, after {:?}",
        started.elapsed()
    );
}
