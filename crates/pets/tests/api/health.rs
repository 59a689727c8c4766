//! Health: `/health`, `/kill`, `PUT /health` with the original's string
//! booleans, the switches refused to other pages and turned off by the
//! operator, and the `2.0` version (`broken` is in `faults`).

use crate::helpers::{spawn_app, spawn_app_with, Env, Visitor};

async fn health(app: &crate::helpers::TestApp) -> (u16, String) {
    let response = Visitor::new().get(&app.health_url()).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn put_health(app: &crate::helpers::TestApp, body: &str) -> reqwest::Response {
    Visitor::new()
        .http
        .put(app.health_url())
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

    let killed = Visitor::new().get(&app.kill_url()).await;
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
async fn version_two_looks_different() {
    let app = spawn_app_with(Env::default().with("PETS_VERSION", "2.0")).await;
    let page = Visitor::new()
        .get(&app.vote_url())
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("theme-night") && page.contains("version 2.0"));
    let one = spawn_app().await;
    let page = Visitor::new()
        .get(&one.vote_url())
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("theme-day"));
}

#[tokio::test]
async fn kill_from_another_page_is_refused_while_curl_and_the_address_bar_work() {
    let app = spawn_app().await;
    let visitor = Visitor::new();
    let attempts: [&[(&str, &str)]; 4] = [
        // <img src="http://pets:5000/kill"> on another site
        &[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "no-cors"),
            ("sec-fetch-dest", "image"),
        ],
        // the same picture on a page of this very site
        &[
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-mode", "no-cors"),
            ("sec-fetch-dest", "image"),
        ],
        // a browser prefetching a link
        &[("sec-fetch-site", "none"), ("sec-purpose", "prefetch")],
        // an older browser, a link on another site: Origin says so
        &[("origin", "http://evil.example")],
    ];
    for headers in attempts {
        for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
            let mut request = visitor.http.request(method.clone(), app.kill_url());
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let status = request.send().await.unwrap().status();
            assert_eq!(status, 403, "{method} /kill with {headers:?}");
        }
    }
    let put = visitor
        .http
        .put(app.health_url())
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/json")
        .body(r#"{"healthy": false}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 403, "PUT /health from another site");
    assert_eq!(health(&app).await.0, 200, "still healthy");

    let typed = visitor
        .http
        .get(app.kill_url())
        .header("sec-fetch-site", "none")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .send()
        .await
        .unwrap();
    assert_eq!(typed.status(), 200, "typed into the address bar");
    assert_eq!(health(&app).await.0, 500);
    put_health(&app, r#"{"healthy": true}"#).await;
    assert_eq!(visitor.get(&app.kill_url()).await.status(), 200, "curl");
    assert_eq!(health(&app).await.0, 500);
}

#[tokio::test]
async fn an_operator_can_turn_the_switches_off() {
    let app = spawn_app_with(Env::default().with("PETS_CHAOS", "off")).await;
    let killed = Visitor::new().get(&app.kill_url()).await;
    assert_eq!(killed.status(), 403);
    assert!(killed.text().await.unwrap().contains("PETS_CHAOS=off"));
    assert_eq!(
        put_health(&app, r#"{"healthy": false}"#).await.status(),
        403
    );
    assert_eq!(health(&app).await.0, 200, "health untouched");
}
