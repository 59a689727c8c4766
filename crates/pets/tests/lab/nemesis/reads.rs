//! What the checker reads once the cluster has settled: every voter's
//! record straight from Consul (with the management token, as an operator
//! would), and the tally and pets served on every replica's console.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use super::checker::{Console, Records};
use crate::acl::consul_get;
use crate::prod::{console_json, votes, Prod};
use crate::rig::Lab;
use crate::steps::{tasks, web_tasks};
use crate::support::eventually;

/// Every voter's record: a voter's own (`voters/<id>`) where they changed
/// their vote, else their first vote in a group's record (`ballots/<ref>`).
pub async fn records(lab: &Arc<Lab>) -> Records {
    let entries = eventually(Duration::from_secs(60), "Consul's records", || async {
        let mut last = String::from("no Consul task");
        for (_, task) in tasks(lab, "db").await? {
            let url = format!("http://{}:8500/v1/kv/pets/?recurse&consistent", task.ip);
            match consul_get(&url).await {
                Ok(Value::Array(entries)) => return Ok(entries),
                Ok(other) => last = format!("{url}: {other}"),
                Err(e) => last = e,
            }
        }
        Err(last)
    })
    .await;
    let mut first = Records::new();
    let mut own = Records::new();
    for entry in &entries {
        let key = entry["Key"].as_str().unwrap_or_default();
        let value: Value = entry["Value"]
            .as_str()
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
            .and_then(|raw| serde_json::from_slice(&raw).ok())
            .unwrap_or(Value::Null);
        if key.starts_with("pets/ballots/") {
            for (id, pair) in value["voters"].as_object().into_iter().flatten() {
                if let (Some(name), Some(choice)) = (pair[0].as_str(), pet(&pair[1])) {
                    first.insert(id.clone(), (name.to_owned(), choice));
                }
            }
        } else if let Some(id) = key.strip_prefix("pets/voters/") {
            if let (Some(name), Some(choice)) = (value["name"].as_str(), pet(&value["vote"])) {
                own.insert(id.to_owned(), (name.to_owned(), choice));
            }
        }
    }
    first.extend(own);
    first
}

fn pet(vote: &Value) -> Option<usize> {
    ["a", "b", "c"]
        .iter()
        .position(|p| vote.as_str() == Some(p))
}

/// Every web task's console: its tally and pets served.
pub async fn consoles(lab: &Arc<Lab>, prod: &Prod) -> Vec<Console> {
    let mut consoles = Vec::new();
    for (node, task) in web_tasks(lab, 3).await {
        let cookie = eventually(Duration::from_secs(30), "a console login", || {
            prod.login(&task)
        })
        .await;
        let results = eventually(Duration::from_secs(30), "the console's results", || {
            console_json(&task, "/api/results", &cookie)
        })
        .await;
        consoles.push(Console {
            node,
            ip: task.ip.clone(),
            tally: votes(&results),
            served: results["hits"].as_u64().unwrap_or_default(),
        });
    }
    consoles
}
