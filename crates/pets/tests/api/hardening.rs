//! The hardening findings, each reproduced as an attack that now fails:
//! sessions that outlive logout, cookies without `Secure` behind https, a
//! login throttle that ignores proxies and has no ceiling, missing security
//! headers, DNS rebinding, and the small input-handling slips.

use std::time::Duration;

use crate::helpers::{spawn_app_with, temp_file, Env, TestApp, Visitor};

async fn log_in(app: &TestApp, visitor: &Visitor, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = visitor
        .http
        .post(app.login_url())
        .form(&[("password", "s3cret")]);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap()
}

async fn fail_login(app: &TestApp, forwarded_for: &str) -> u16 {
    Visitor::new()
        .log_in_from(app, forwarded_for, "wrong")
        .await
}

fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("pets_admin="))
        .expect("a session cookie")
        .to_owned()
}

#[tokio::test]
async fn a_session_is_refused_once_logged_out() {
    let app = spawn_app_with(Env::default().password("s3cret")).await;
    let visitor = Visitor::new();
    let login = log_in(&app, &visitor, &[]).await;
    let cookie = session_cookie(&login);
    let value = cookie.split(';').next().unwrap().to_owned();
    let api = |value: String| {
        let app_results = app.results_url();
        async move {
            Visitor::new()
                .http
                .get(app_results)
                .header("cookie", value)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(api(value.clone()).await, 200);
    visitor.post_form(&app.logout_url(), &[]).await;
    assert_eq!(api(value).await, 401, "the old cookie no longer works");
}

#[tokio::test]
async fn cookies_are_secure_when_the_visitor_came_over_https() {
    let trusting = spawn_app_with(
        Env::default()
            .password("s3cret")
            .with("PETS_TRUSTED_PROXIES", "127.0.0.1"),
    )
    .await;
    let behind_https = log_in(
        &trusting,
        &Visitor::new(),
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert!(session_cookie(&behind_https).contains("Secure"));
    let plain = log_in(&trusting, &Visitor::new(), &[]).await;
    assert!(!session_cookie(&plain).contains("Secure"));
    let untrusting = spawn_app_with(Env::default().password("s3cret")).await;
    let claimed = log_in(
        &untrusting,
        &Visitor::new(),
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert!(
        !session_cookie(&claimed).contains("Secure"),
        "only a trusted proxy is believed"
    );
}

#[tokio::test]
async fn the_throttle_counts_each_client_behind_a_trusted_proxy() {
    let app = spawn_app_with(
        Env::default()
            .password("s3cret")
            .with("PETS_TRUSTED_PROXIES", "127.0.0.0/8"),
    )
    .await;
    for _ in 0..5 {
        assert_eq!(fail_login(&app, "203.0.113.7").await, 401);
    }
    assert_eq!(
        fail_login(&app, "203.0.113.7").await,
        429,
        "that client waits"
    );
    assert_eq!(
        fail_login(&app, "198.51.100.9").await,
        401,
        "another client behind the same proxy does not"
    );
    // Without the proxy trusted, the header is ignored: one client.
    let naive = spawn_app_with(Env::default().password("s3cret")).await;
    for n in 0..5 {
        fail_login(&naive, &format!("192.0.2.{n}")).await;
    }
    assert_eq!(fail_login(&naive, "192.0.2.99").await, 429);
}

#[tokio::test]
async fn failed_logins_have_a_ceiling_for_the_whole_service() {
    let app = spawn_app_with(
        Env::default()
            .password("s3cret")
            .with("PETS_TRUSTED_PROXIES", "127.0.0.1")
            .with("PETS_LOGIN_FAILURES_PER_MINUTE", "3"),
    )
    .await;
    // The ceiling counts per minute: start well inside one.
    let second = pets_store::unix_now() % 60;
    if second > 50 {
        tokio::time::sleep(Duration::from_secs(61 - second)).await;
    }
    for n in 0..3 {
        assert_eq!(fail_login(&app, &format!("203.0.113.{n}")).await, 401);
    }
    let refused = Visitor::new()
        .http
        .post(app.login_url())
        .header("x-forwarded-for", "198.51.100.1")
        .form(&[("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429, "a fourth address is refused too");
    assert!(refused.headers().contains_key("retry-after"));
    assert!(refused.text().await.unwrap().contains("on this service"));
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let dir = temp_file("unused", "").parent().unwrap().join("pictures");
    std::fs::create_dir_all(dir.join("option_a")).unwrap();
    std::fs::write(
        dir.join("option_a/evil.svg"),
        r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#,
    )
    .unwrap();
    let app = spawn_app_with(
        Env::default()
            .password("s3cret")
            .with("PICTURES_DIR", dir.to_str().unwrap()),
    )
    .await;
    let visitor = Visitor::new();
    let urls = [
        format!("{}/", app.web),
        app.vote_url(),
        app.health_url(),
        format!("{}/static/css/pets.css", app.web),
        format!("{}/nope", app.web),
        app.login_url(),
        app.results_url(),
        format!("{}/", app.admin),
    ];
    for url in &urls {
        let response = visitor.get(url).await;
        let headers = response.headers();
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'self'"), "{url}: {policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{url}");
        assert!(!policy.contains("unsafe-inline"), "{url}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{url}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{url}");
    }
    let svg = visitor
        .get(&format!("{}/pictures/option_a/evil.svg", app.web))
        .await;
    assert_eq!(svg.status(), 200);
    let policy = svg.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("sandbox") && policy.contains("default-src 'none'"));
}

#[tokio::test]
async fn a_foreign_host_is_refused_when_hosts_are_set() {
    let app = spawn_app_with(Env::default().with("PETS_ALLOWED_HOSTS", "pets.example.com")).await;
    let visitor = Visitor::new();
    let with_host = |host: &'static str| {
        let url = app.results_url();
        let http = visitor.http.clone();
        async move {
            http.get(url)
                .header("host", host)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // A page on evil.example whose name now resolves to this server.
    assert_eq!(with_host("evil.example:7000").await, 421);
    assert_eq!(with_host("pets.example.com").await, 200);
    assert_eq!(with_host("localhost:7000").await, 200, "the health check's");
    let rebound_vote = visitor
        .http
        .post(app.vote_url())
        .header("host", "evil.example:5000")
        .header("origin", "http://evil.example:5000")
        .form(&[("name", "Mallory"), ("vote", "a")])
        .send()
        .await
        .unwrap();
    assert_eq!(rebound_vote.status(), 421);
    assert_eq!(app.votes().await, [0, 0, 0]);
}

#[tokio::test]
async fn small_input_slips_are_handled() {
    let app = spawn_app_with(Env::default()).await;
    let visitor = Visitor::new();
    let mixed_case = visitor
        .http
        .post(app.vote_url())
        .header("content-type", "Application/X-WWW-Form-Urlencoded")
        .body("name=Ann&vote=b")
        .send()
        .await
        .unwrap();
    assert_eq!(mixed_case.status(), 303, "media types are case-insensitive");
    let twice = visitor
        .http
        .post(app.vote_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Ann&vote=b&vote=c")
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 400);
    let page = twice.text().await.unwrap();
    assert!(
        !page.contains("duplicate field"),
        "no parser internals: {page}"
    );
    let loose = visitor
        .http
        .put(app.health_url())
        .header("content-type", "application/json")
        .body(r#"{"healthy": 5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(loose.status(), 400);
    assert!(!loose.text().await.unwrap().contains("untagged enum"));

    let css = format!("{}/static/css/pets.css", app.web);
    let etag = visitor.get(&css).await.headers()["etag"].clone();
    for header in [
        format!("W/{}", etag.to_str().unwrap()),
        "*".to_owned(),
        format!("\"other\", {}", etag.to_str().unwrap()),
    ] {
        let response = visitor
            .http
            .get(&css)
            .header("if-none-match", &header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 304, "{header}");
    }

    let blank_first = temp_file("password", "\nhunter2\n");
    let settings = pets::Settings::from_lookup(|k| {
        (k == "ADMIN_PASSWORD_FILE").then(|| blank_first.to_str().unwrap().to_owned())
    });
    let error = settings.unwrap_err().to_string();
    assert!(
        error.contains("first line") && error.contains("blank"),
        "{error}"
    );
    let one_space = temp_file("password", " \n");
    let settings = pets::Settings::from_lookup(|k| {
        (k == "ADMIN_PASSWORD_FILE").then(|| one_space.to_str().unwrap().to_owned())
    });
    assert!(settings.is_err(), "a one-space password is no password");
}
