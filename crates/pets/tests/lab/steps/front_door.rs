//! Step 2b: the front door. Through each node's router over HTTPS, with the
//! lab's CA: the site and the console by name, no page for a foreign name,
//! plain HTTP redirected, HSTS, a `Secure` session cookie, and pets seeing
//! this machine's address (not the router's) in a failed login. Then a
//! router task killed under `pets load` through all three routers: Swarm
//! starts it again, and requests through the other two never notice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pets_testkit::holds;

use super::settle;
use crate::prod::{service, Prod};
use crate::rig::Lab;
use crate::routers::{
    admin_host, pets_host, thousands, through, Routed, RoutedLoad, CLIENT_ADDRESS,
};
use crate::support::{eventually, session_cookie};

pub async fn every_router_serves_the_site_over_https(lab: &Arc<Lab>, prod: &Prod) {
    let (pets, admin) = (pets_host(), admin_host());
    for node in &lab.nodes {
        let client = through(node, &prod.ca);
        let page = eventually(Duration::from_secs(60), "the routed site", || async {
            let answer = client
                .get(format!("https://{pets}/vote"))
                .send()
                .await
                .map_err(|e| format!("{}: {e:?}", node.name))?;
            holds(answer, |a| a.status() == 200)
        })
        .await;
        let hsts = page.headers()["strict-transport-security"]
            .to_str()
            .unwrap();
        assert!(hsts.starts_with("max-age="), "HSTS: {hsts}");
        assert!(
            page.headers().contains_key("x-pets-version"),
            "pets answered"
        );
        let login = client
            .get(format!("https://{admin}/login"))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200, "{}: the console's login", node.name);
        assert!(login.text().await.unwrap().contains("password"));

        let foreign = client
            .get(format!("https://{pets}/vote"))
            .header("host", "pets.elsewhere.example")
            .send()
            .await
            .unwrap();
        assert_eq!(foreign.status(), 421, "{}: a foreign Host", node.name);
        assert!(!foreign.text().await.unwrap().contains("<html"), "no page");

        let plain = client
            .get(format!("http://{pets}/vote?x=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(plain.status(), 301, "{}: plain HTTP", node.name);
        assert_eq!(
            plain.headers()["location"],
            format!("https://{pets}/vote?x=1").as_str()
        );
    }
    eprintln!(
        "step 2b: every node's router serves {pets} and {admin} over HTTPS with the lab's CA; \
         a foreign name gets 421, plain HTTP a redirect"
    );

    let client = through(&lab.nodes[0], &prod.ca);
    let login = |password: String| {
        client
            .post(format!("https://{admin}/login"))
            .form(&[("password", password)])
            .send()
    };
    let answer = login(prod.password.clone()).await.unwrap();
    assert_eq!(answer.status(), 303, "logged in through the router");
    let set = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.contains("Secure"),
        "the session cookie is Secure: {set}"
    );
    let cookie = session_cookie(&answer).expect("a session");
    let results = client
        .get(format!("https://{admin}/api/results"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        results.status(),
        200,
        "the session works through the router"
    );

    let since = pets_store::unix_now().saturating_sub(2).to_string();
    for node in &lab.nodes {
        let answer = through(node, &prod.ca)
            .post(format!("https://{admin}/login"))
            .form(&[("password", "not the password")])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401, "{}: a wrong password", node.name);
    }
    let logged = eventually(
        Duration::from_secs(30),
        "the failed logins logged",
        || async {
            let lab = lab.clone();
            let since = since.clone();
            let logs = tokio::task::spawn_blocking(move || {
                lab.manager().docker(&[
                    "service",
                    "logs",
                    "--raw",
                    "--since",
                    &since,
                    &service("web"),
                ])
            })
            .await
            .unwrap()?;
            let failed: Vec<String> = logs
                .lines()
                .filter(|l| l.contains("failed admin login"))
                .map(str::to_owned)
                .collect();
            holds(failed, |f| f.len() >= 3)
        },
    )
    .await;
    assert!(
        logged
            .iter()
            .all(|l| l.contains(CLIENT_ADDRESS) && !l.contains("10.78.0.")),
        "pets counts this machine's address ({CLIENT_ADDRESS}), not the router's: {logged:#?}"
    );
    eprintln!(
        "  the session cookie is Secure; the login throttle counts {CLIENT_ADDRESS}: {}",
        logged[0]
    );
}

/// Kills node2's router under `pets load` through all three: it comes
/// back, and nothing through the others fails. Returns the tally.
pub async fn a_killed_router_comes_back_unnoticed(
    lab: &Arc<Lab>,
    prod: &Prod,
    cookie: &str,
    before: [u64; 3],
) -> [u64; 3] {
    let node = lab.nodes[1].clone();
    let router = router_container(&node);
    let load = RoutedLoad::start(lab, &prod.ca, 60, None);
    tokio::time::sleep(Duration::from_secs(4)).await;
    node.docker(&["kill", &router]).unwrap();
    let killed = Instant::now();
    let client = through(&node, &prod.ca);
    eventually(Duration::from_secs(60), "the router back", || async {
        let answer = client
            .get(format!("https://{}/health", pets_host()))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        holds(answer.status(), |s| *s == 200)
    })
    .await;
    let back = killed.elapsed();
    let again = router_container(&node);
    assert_ne!(again, router, "a new router task");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let routed = load.stop().await;
    let by = routed.by_router(0);
    let (sent, failed) = Routed::others(&by, &node.ip);
    let (lost_sent, lost_failed) = by.get(&node.ip).copied().unwrap_or_default();
    eprintln!(
        "step 2b: {}'s router killed under pets load, a new one serving {back:.1?} later; \
         through the two other routers: {} of {} requests failed; through {}'s: {} of {}",
        node.name,
        thousands(failed),
        thousands(sent),
        node.name,
        thousands(lost_failed),
        thousands(lost_sent),
    );
    for other in [&lab.nodes[0], &lab.nodes[2]] {
        let (sent, failed) = by[&other.ip];
        assert!(sent > 100, "traffic through {}: {sent}", other.name);
        assert_eq!(failed, 0, "nothing through {}'s router failed", other.name);
    }
    settle(lab, cookie, before, &routed.count()).await
}

/// The id of the router's container on `node`.
fn router_container(node: &crate::node::Node) -> String {
    let label = format!("label=com.docker.swarm.service.name={}", service("router"));
    let ids = node
        .docker(&["ps", "-q", "--filter", &label])
        .unwrap_or_default();
    let mut ids = ids.lines();
    let id = ids
        .next()
        .unwrap_or_else(|| panic!("no router on {}", node.name));
    assert!(ids.next().is_none(), "one router on {}", node.name);
    id.to_owned()
}
