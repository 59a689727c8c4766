//! Step 5: a rolling update from 1.0 to 2.0 across the three nodes under
//! `pets load` (the stack's `load` service, resolving `tasks.web` every
//! 3 s), with the failed requests counted by the driver and shown on the
//! console's meter: the target is none. Then `broken`, rolled back by
//! Swarm by itself.

use std::sync::Arc;
use std::time::Duration;

use pets_testkit::holds;

use super::web_tasks;
use crate::prod::{console_json, service, tally};
use crate::rig::Lab;
use crate::support::{eventually, image_update_args, no_request_failed, page, report_voters};

pub async fn a_rolling_update_across_nodes_fails_no_request(
    lab: &Arc<Lab>,
    cookie: &str,
    before: [u64; 3],
) -> [u64; 3] {
    manage(
        lab,
        &[
            "service",
            "scale",
            "--detach",
            &format!("{}=1", service("load")),
        ],
    )
    .await;
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
    // SIGTERM to the driver, as a scale to 0 would send, on whichever node
    // runs it; its stopped container keeps the report.
    let (node, driver) = crate::steps::tasks(lab, "load")
        .await
        .unwrap()
        .into_iter()
        .next()
        .expect("the driver's task");
    let node = lab.node(&format!("node{node}")).clone();
    node.docker(&["kill", "--signal", "TERM", &driver.id])
        .unwrap();
    let report = eventually(Duration::from_secs(30), "the driver's report", || async {
        holds(node.docker(&["logs", &driver.id])?, |l| {
            l.contains(" voters)")
        })
    })
    .await;
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
    manage(
        lab,
        &[
            "service",
            "scale",
            "--detach",
            &format!("{}=0", service("load")),
        ],
    )
    .await;
    no_request_failed(
        "step 5: rolling update 1.0 -> 2.0 across three nodes under pets load",
        &meter,
        &report,
    );
    for (_, task) in &web {
        assert!(
            page(task, "/vote").await.contains("version 2.0"),
            "every task on 2.0"
        );
    }
    let expected = before.iter().sum::<u64>() + report_voters(&report);
    let now = eventually(
        Duration::from_secs(5),
        "every vote counted once",
        || async {
            holds(tally(&web[0].1, cookie).await?, |t| {
                t.iter().sum::<u64>() == expected
            })
        },
    )
    .await;
    super::every_console_shows(lab, cookie, now).await;
    now
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
