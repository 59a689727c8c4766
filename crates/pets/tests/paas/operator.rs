//! The operator console: closed without a password, a login, every
//! instance with its health and usage, the JSON API, and the extend and
//! stop buttons.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;

use crate::helpers::{engine_has, settings, TestPaas};

const PASSWORD: &str = "operator passphrase";

fn with_password() -> pets_paas::PaasSettings {
    let mut s = settings(Duration::from_secs(600), 5);
    s.admin_password = Some(SecretString::from(PASSWORD.to_owned()));
    s
}

impl TestPaas {
    async fn operator_login(&self, password: &str) -> (u16, Option<String>) {
        let answer = self
            .client(&[])
            .post(self.url("localhost", "/admin/login"))
            .form(&[("password", password)])
            .send()
            .await
            .unwrap();
        let cookie = crate::support::first_cookie(&answer);
        (answer.status().as_u16(), cookie)
    }

    async fn operator_get(&self, path: &str, cookie: Option<&str>) -> (u16, String) {
        let mut request = self.client(&[]).get(self.url("localhost", path));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let answer = request.send().await.unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    }
}

#[tokio::test]
async fn the_console_is_closed_without_a_password() {
    let paas = TestPaas::spawn(settings(Duration::from_secs(600), 5)).await;
    let (code, page) = paas.operator_get("/admin", None).await;
    assert_eq!(code, 404);
    assert!(page.contains("ADMIN_PASSWORD_FILE"));
    assert_eq!(paas.operator_get("/api/instances", None).await.0, 404);
    assert_eq!(paas.operator_login(PASSWORD).await.0, 404);
}

#[tokio::test]
async fn the_operator_sees_every_instance_and_stops_one() {
    let paas = TestPaas::spawn(with_password()).await;
    let (code, page) = paas.operator_get("/admin", None).await;
    assert_eq!(code, 200);
    assert!(page.contains("name=\"password\""), "the login form");
    let (code, body) = paas.operator_get("/api/instances", None).await;
    assert_eq!(code, 401);
    assert!(body.contains("log in"));
    assert_eq!(paas.operator_login("wrong").await, (401, None));
    let (code, cookie) = paas.operator_login(PASSWORD).await;
    assert_eq!(code, 303);
    let cookie = cookie.unwrap();

    let one = paas.create_with_password([127, 0, 0, 10]).await.0;
    let two = paas.create_with_password([127, 0, 0, 11]).await.0;
    paas.wait_ready(&one).await;
    paas.wait_ready(&two).await;
    let (code, body) = paas.operator_get("/api/instances", Some(&cookie)).await;
    assert_eq!(code, 200);
    let list: Value = serde_json::from_str(&body).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{body}");
    for instance in list {
        for field in [
            "id",
            "url",
            "admin_url",
            "created_at",
            "expires_at",
            "healthy",
            "memory_bytes",
            "cpu_percent",
            "restarts",
        ] {
            assert!(!instance[field].is_null(), "{field} in {instance}");
        }
        assert_eq!(instance["healthy"], true);
        assert_eq!(instance["restarts"], 0, "a container is never restarted");
        let memory = instance["memory_bytes"].as_u64().unwrap();
        assert!(memory > 1_000_000 && memory < 96 * 1024 * 1024, "{memory}");
        let id = instance["id"].as_str().unwrap();
        assert_eq!(
            instance["url"],
            format!("http://{id}.localhost:{}/", paas.addr.port())
        );
    }
    let (code, page) = paas.operator_get("/admin", Some(&cookie)).await;
    assert_eq!(code, 200);
    assert!(
        page.contains("<strong>2</strong> of 5 instances running, 3 free"),
        "{page}"
    );
    assert!(page.contains(&one) && page.contains(&two));

    // Extend: ten minutes more, kept by the engine, shown by the instance.
    let expires = |body: &str, id: &str| -> String {
        let list: Value = serde_json::from_str(body).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .unwrap()["expires_at"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let before = expires(&body, &two);
    let extended = paas
        .client(&[])
        .post(paas.url("localhost", &format!("/admin/instances/{two}/extend")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(extended.status(), 303);
    let (_, body) = paas.operator_get("/api/instances", Some(&cookie)).await;
    let after = expires(&body, &two);
    assert!(after > before, "{before} -> {after}");
    let (_, page) = paas.at(&two).get("/vote").await;
    assert!(
        page.contains("<span id=\"expires-left\">20 min</span>"),
        "the instance counts down to its new end"
    );

    // A stop from another site is refused; from the console it removes.
    let stop = paas.url("localhost", &format!("/admin/instances/{one}/stop"));
    let forged = paas
        .client(&[])
        .post(&stop)
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(!engine_has(&one).is_empty());
    let without_login = paas.client(&[]).post(&stop).send().await.unwrap();
    assert_eq!(without_login.status(), 401);
    let stopped = paas
        .client(&[])
        .post(&stop)
        .header("cookie", &cookie)
        .header("origin", paas.url("localhost", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), 303);
    assert!(
        engine_has(&one).is_empty(),
        "container, network and volume removed"
    );
    let (_, body) = paas.operator_get("/api/instances", Some(&cookie)).await;
    assert!(!body.contains(&one) && body.contains(&two));
    let (code, _) = paas.at(&one).get("/vote").await;
    assert_eq!(code, 404);
}

/// Logging out ends the session in the service, not only in the browser: a
/// copy of the cookie taken before is refused after.
#[tokio::test]
async fn logging_out_ends_the_session_not_only_the_cookie() {
    let paas = TestPaas::spawn(with_password()).await;
    let (code, cookie) = paas.operator_login(PASSWORD).await;
    assert_eq!(code, 303);
    let cookie = cookie.unwrap();
    assert_eq!(
        paas.operator_get("/api/instances", Some(&cookie)).await.0,
        200
    );
    let answer = paas
        .client(&[])
        .post(paas.url("localhost", "/admin/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    let (code, body) = paas.operator_get("/api/instances", Some(&cookie)).await;
    assert_eq!(code, 401, "the old cookie lists nothing: {body}");
    let stop = paas
        .client(&[])
        .post(paas.url("localhost", "/admin/instances/abcdefghij012345/stop"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stop.status(), 401, "nor stops anything");
}
