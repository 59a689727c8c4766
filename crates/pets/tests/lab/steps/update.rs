//! Step 5: a rolling update from 1.0 to 2.0 across the three nodes under
//! `pets load` run on this machine through the routers of all three nodes
//! (HTTPS, `--resolve`), publishing to the console's meter, with the failed
//! requests counted by the driver and shown on the meter: the target is
//! none. Then `broken`, rolled back by Swarm by itself.

use std::sync::Arc;
use std::time::Duration;

use pets_testkit::holds;

use super::web_tasks;
use crate::prod::{console_json, service, Prod};
use crate::rig::Lab;
use crate::routers::{thousands, Routed, RoutedLoad};
use crate::support::{eventually, image_update_args, page};

pub async fn a_rolling_update_across_nodes_fails_no_request(
    lab: &Arc<Lab>,
    prod: &Prod,
    cookie: &str,
    before: [u64; 3],
) -> [u64; 3] {
    let db: Vec<String> = crate::steps::tasks(lab, "db")
        .await
        .unwrap()
        .iter()
        .map(|(_, t)| format!("{}:8500", t.ip))
        .collect();
    // The drained node's router came back with it.
    crate::routers::every_router_serves(lab, &prod.ca).await;
    let token = prod.consul.file("load.token");
    let load = RoutedLoad::start(lab, &prod.ca, 50, Some((&db.join(","), &token)));
    let web = web_tasks(lab, 3).await;
    let moving = eventually(Duration::from_secs(90), "the meter moving", || async {
        holds(console_json(&web[0].1, "/api/meter", cookie).await?, |m| {
            m["rate"].as_u64() >= Some(20) && m["drivers"][0]["running"] == true
        })
    })
    .await;
    eprintln!("step 5: the meter before the update: {}", moving["summary"]);
    let started = std::time::Instant::now();
    let update = image_update_args("pets:2.0", &service("web"), true);
    manage(lab, &update.iter().map(String::as_str).collect::<Vec<_>>()).await;
    eprintln!("  the update converged in {:.1?}", started.elapsed());
    tokio::time::sleep(Duration::from_secs(5)).await;
    // SIGTERM, as Ctrl-C would: the driver reports and writes its last
    // figures for the meter.
    let routed = load.stop().await;
    let web = web_tasks(lab, 3).await;
    let meter = eventually(
        Duration::from_secs(30),
        "the driver's last figures",
        || async {
            holds(console_json(&web[2].1, "/api/meter", cookie).await?, |m| {
                m["drivers"][0]["running"] == false
            })
        },
    )
    .await;
    let driver = &meter["drivers"][0];
    let by = routed.by_router(0);
    eprintln!(
        "step 5: rolling update 1.0 -> 2.0 across three nodes; through the routers: {} of {} requests failed ({}); \
         answered by version {}; the console's meter says {}",
        thousands(routed.failed()),
        thousands(routed.requests()),
        Routed::split(lab, &by),
        routed.report["by_version"],
        meter["summary"]
    );
    assert!(routed.requests() > 500, "traffic throughout");
    assert_eq!(
        by.len(),
        3,
        "through the routers of all three nodes: {by:?}"
    );
    assert_eq!(
        (driver["requests"].as_u64(), driver["failed"].as_u64()),
        (Some(routed.requests()), Some(routed.failed())),
        "the console and the driver agree"
    );
    assert_eq!(routed.failed(), 0, "no request failed during the update");
    for (_, task) in &web {
        assert!(
            page(task, "/vote").await.contains("version 2.0"),
            "every task on 2.0"
        );
    }
    super::settle(lab, cookie, before, &routed.count()).await
}

/// `broken` passes its first health checks, then fails them inside the
/// update's monitor period: Swarm rolls back to 2.0 by itself.
pub async fn broken_rolls_itself_back(lab: &Arc<Lab>) {
    let update = image_update_args("pets:broken", &service("web"), false);
    manage(lab, &update.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let started = std::time::Instant::now();
    let state = eventually(
        Duration::from_secs(300),
        "the automatic rollback",
        || async {
            let state = manage_try(
                lab,
                &[
                    "service",
                    "inspect",
                    "-f",
                    "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
                    &service("web"),
                ],
            )
            .await?;
            holds(state, |s| {
                matches!(s.as_str(), "rollback_completed" | "rollback_paused")
            })
        },
    )
    .await;
    assert_eq!(state, "rollback_completed");
    let image = manage(
        lab,
        &[
            "service",
            "inspect",
            "-f",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            &service("web"),
        ],
    )
    .await;
    assert!(image.starts_with("pets:2.0"), "back on 2.0: {image}");
    web_tasks(lab, 3).await;
    eprintln!(
        "step 5: broken rolled itself back to 2.0 in {:.1?}",
        started.elapsed()
    );
}

/// A docker command on a manager, off the runtime's threads; fails the test.
pub async fn manage(lab: &Arc<Lab>, args: &[&str]) -> String {
    manage_try(lab, args)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn manage_try(lab: &Arc<Lab>, args: &[&str]) -> Result<String, String> {
    let lab = lab.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        lab.manager().docker(&args)
    })
    .await
    .unwrap()
}
