//! Request ids and JSON logs: every response carries an id (the client's
//! when it is sensible), and with `LOG_FORMAT=json` every line is a JSON
//! object, the request's lines naming its id.

use std::time::Duration;

use serde_json::Value;

use crate::binary::Binary;
use crate::helpers::{spawn_app, Visitor};

async fn id_for(url: &str, sent: Option<&str>) -> String {
    let mut request = Visitor::new().http.get(url);
    if let Some(sent) = sent {
        request = request.header("x-request-id", sent);
    }
    let response = request.send().await.unwrap();
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let made = id_for(&app.health_url(), None).await;
    assert!(
        made.len() == 16 && made.bytes().all(|b| b.is_ascii_hexdigit()),
        "{made}"
    );
    assert_ne!(
        made,
        id_for(&app.health_url(), None).await,
        "one per request"
    );
    assert_eq!(id_for(&app.results_url(), Some("lab-42")).await, "lab-42");
    let replaced = id_for(&app.vote_url(), Some("not {an} id")).await;
    assert_eq!(replaced.len(), 16, "an unusable id is replaced: {replaced}");
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_and_name_the_request() {
    let mut pets = Binary::start(&[("LOG_FORMAT", "json")], None).await;
    for line in pets.early.iter().chain([&pets.started]) {
        let _: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    let started: Value = serde_json::from_str(&pets.started).unwrap();
    assert_eq!(started["level"], "INFO");
    assert!(started["timestamp"].is_string());
    let web = started["web"].as_str().expect("fields at the top level");
    let sent = id_for(&format!("http://{web}/health"), Some("trace-me-7")).await;
    assert_eq!(sent, "trace-me-7");
    let line = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let line = pets.lines.recv().await.expect("a request line");
            let object: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if object["span"]["request_id"] == "trace-me-7" {
                return object;
            }
        }
    })
    .await
    .expect("a log line names the request id");
    assert_eq!(line["span"]["path"], "/health");
}
