//! The console's lab guide read after each step of the Swarm test
//! (`GET /api/lab` through a web task, as part 1 of `docs/LAB.md` has the
//! steps): the step just performed turns done by itself, and the ones still
//! ahead do not. Killing one Consul server is an election, not a lost
//! quorum, and the guide must not say otherwise.

use std::time::Duration;

use pets_testkit::holds;
use serde_json::Value;

use crate::stack::tasks;
use crate::support::{eventually, try_get_json};

fn step<'a>(guide: &'a Value, id: &str) -> &'a Value {
    guide["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"] == id)
        .unwrap_or(&Value::Null)
}

fn is_done(guide: &Value, id: &str) -> bool {
    step(guide, id)["done_at"].is_string()
}

/// Waits until every step in `done` is done on a web task's console,
/// asserts that none in `open` is, prints the evidence, and returns it by
/// step.
pub(crate) async fn shows(done: &[&str], open: &[&str]) -> Vec<String> {
    let guide = eventually(Duration::from_secs(60), "the lab guide", || async {
        let web = tasks("web")?;
        let task = web.first().ok_or("no web task")?;
        let guide = try_get_json(&format!("http://{}:7000/api/lab", task.ip)).await?;
        holds(guide, |g| done.iter().all(|id| is_done(g, id)))
    })
    .await;
    for id in open {
        assert!(!is_done(&guide, id), "{id} done before its step: {guide}");
    }
    done.iter()
        .map(|id| {
            let evidence = step(&guide, id)["evidence"].as_str().unwrap_or_default();
            eprintln!("the console's lab guide: {id}: {evidence}");
            evidence.to_owned()
        })
        .collect()
}
