use crate::helpers::{spawn_app, spawn_app_with, Env, Visitor};

async fn health(app: &crate::helpers::TestApp) -> (u16, String) {
    let response = Visitor::new().get(&format!("{}/health", app.web)).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn put_health(app: &crate::helpers::TestApp, body: &str) -> reqwest::Response {
    Visitor::new()
        .http
        .put(format!("{}/health", app.web))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn kill_makes_health_fail_and_put_heals_it() {
    let app = spawn_app().await;
    assert_eq!(health(&app).await, (200, "OK".into()));

    let killed = Visitor::new().get(&format!("{}/kill", app.web)).await;
    assert_eq!(killed.status(), 200);
    assert!(killed.text().await.unwrap().contains("test-host"));
    assert_eq!(health(&app).await, (500, "NOT OK".into()));

    assert_eq!(put_health(&app, r#"{"healthy": true}"#).await.status(), 200);
    assert_eq!(health(&app).await.0, 200);
    assert_eq!(
        put_health(&app, r#"{"healthy": false}"#).await.status(),
        200
    );
    assert_eq!(health(&app).await.0, 500);
}

#[tokio::test]
async fn health_accepts_the_originals_string_booleans() {
    let app = spawn_app().await;
    assert_eq!(
        put_health(&app, r#"{"healthy": "False"}"#).await.status(),
        200
    );
    assert_eq!(health(&app).await.0, 500);
    assert_eq!(
        put_health(&app, r#"{"healthy": "True"}"#).await.status(),
        200
    );
    assert_eq!(health(&app).await.0, 200);
}

#[tokio::test]
async fn bad_health_changes_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    for body in [r#"{"healthy": "maybe"}"#, "{", r#"{"other": 1}"#, "[]"] {
        let response = put_health(&app, body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert!(
            error["error"].as_str().unwrap().len() > 10,
            "says why: {error}"
        );
    }
    assert_eq!(health(&app).await.0, 200);
}

#[tokio::test]
async fn the_broken_version_is_unhealthy_from_the_start() {
    let app = spawn_app_with(Env::default().with("PETS_VERSION", "broken")).await;
    assert_eq!(health(&app).await, (500, "NOT OK".into()));
}

#[tokio::test]
async fn version_two_looks_different() {
    let app = spawn_app_with(Env::default().with("PETS_VERSION", "2.0")).await;
    let page = Visitor::new()
        .get(&format!("{}/vote", app.web))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("theme-night") && page.contains("version 2.0"));
    let one = spawn_app().await;
    let page = Visitor::new()
        .get(&format!("{}/vote", one.web))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("theme-day"));
}
