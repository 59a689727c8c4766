//! The console's lab guide read after each step (`GET /api/lab` through a
//! web task): the step just performed turns done by itself, and the steps
//! still ahead do not.

use std::sync::Arc;
use std::time::Duration;

use pets_testkit::holds;
use serde_json::Value;

use crate::prod::console_json;
use crate::rig::Lab;
use crate::support::eventually;

/// Every step id, in the guide's order.
pub const ALL: [&str; 8] = [
    "deployed",
    "votes_everywhere",
    "replaced",
    "traffic",
    "node_lost",
    "rolled_forward",
    "rolled_back",
    "quorum",
];

fn step<'a>(lab: &'a Value, id: &str) -> &'a Value {
    lab["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"] == id)
        .unwrap_or(&Value::Null)
}

fn is_done(lab: &Value, id: &str) -> bool {
    step(lab, id)["done_at"].is_string()
}

/// Waits until every step in `done` is done on a task's console, asserts
/// that the steps after them are not, prints the evidence of each, and
/// returns the guide.
pub async fn shows(lab: &Arc<Lab>, cookie: &str, done: &[&str]) -> Value {
    let last = ALL
        .iter()
        .rposition(|id| done.contains(id))
        .expect("known steps");
    let guide = eventually(Duration::from_secs(60), "the lab guide", || async {
        let tasks = super::tasks(lab, "web").await?;
        let (_, task) = tasks.first().ok_or("no web task")?;
        holds(console_json(task, "/api/lab", cookie).await?, |g| {
            done.iter().all(|id| is_done(g, id))
        })
    })
    .await;
    for id in &ALL[last + 1..] {
        assert!(!is_done(&guide, id), "{id} done before its step: {guide}");
    }
    for id in done {
        eprintln!(
            "  the console's lab guide: {id}: {}",
            step(&guide, id)["evidence"]
        );
    }
    guide
}

/// The evidence of a step that is done.
pub fn evidence(guide: &Value, id: &str) -> String {
    step(guide, id)["evidence"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
