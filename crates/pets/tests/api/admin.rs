//! The admin console over HTTP: the open chart, the login and its sessions
//! across replicas, the throttle, and the live event stream.

use crate::helpers::{location, spawn_app, spawn_app_with, votes_of, Env, TestApp, Visitor};

async fn log_in(app: &TestApp, visitor: &Visitor, password: &str) -> reqwest::Response {
    visitor
        .post_form(&app.login_url(), &[("password", password)])
        .await
}

#[tokio::test]
async fn without_a_password_the_console_shows_the_results_chart() {
    let app = spawn_app().await;
    Visitor::new().vote(&app, "Ada", "a").await;
    Visitor::new().vote(&app, "Bob", "a").await;
    Visitor::new().vote(&app, "Cy", "c").await;

    let page = Visitor::new().get(&app.admin).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("<svg id=\"chart\""), "a server-side chart");
    assert!(page.contains(r#"id="votes-a">2<"#) && page.contains(r#"id="votes-c">1<"#));
    assert!(page.contains(r#"id="total-votes">3<"#));
    assert!(
        page.contains(r#"id="bar-a" x="130" y="12" width="264""#),
        "66% of 400"
    );
    assert!(page.contains("test-host"));
    assert!(
        !page.contains("cdn") && !page.contains("https://"),
        "nothing from elsewhere"
    );

    let results = app.results().await;
    assert_eq!(votes_of(&results), [2, 0, 1]);
    assert_eq!(results["options"][0]["id"], "a");
    assert_eq!(results["options"][0]["name"], "Cats");
    assert_eq!(results["hits"], 0);
}

#[tokio::test]
async fn with_a_password_the_console_needs_a_login() {
    let app = spawn_app_with(Env::default().password("s3cret pass")).await;
    let visitor = Visitor::new();

    let page = visitor.get(&app.admin).await;
    assert_eq!(page.status(), 303);
    assert_eq!(location(&page), "/login");
    let api = visitor.get(&app.results_url()).await;
    assert_eq!(api.status(), 401);
    let error: serde_json::Value = api.json().await.unwrap();
    assert!(error["error"].as_str().unwrap().contains("log in"));
    assert_eq!(visitor.get(&app.events_url()).await.status(), 401);

    let wrong = log_in(&app, &visitor, "s3cret").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("not right"));
    assert_eq!(visitor.get(&app.admin).await.status(), 303);

    let right = log_in(&app, &visitor, "s3cret pass").await;
    assert_eq!(right.status(), 303);
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Max-Age=", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert_eq!(visitor.get(&app.admin).await.status(), 200);
    assert_eq!(visitor.get(&app.results_url()).await.status(), 200);

    let out = visitor.post_form(&app.logout_url(), &[]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(visitor.get(&app.admin).await.status(), 303);
}

#[tokio::test]
async fn a_session_works_on_every_replica_with_the_same_secret() {
    let first = spawn_app_with(Env::default().password("shared")).await;
    let second = spawn_app_with(Env::default().password("shared")).await;
    let other = spawn_app_with(Env::default().password("different")).await;

    let response = log_in(&first, &Visitor::new(), "shared").await;
    let session = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let with_session = |url: String| {
        let session = session.clone();
        async move {
            Visitor::new()
                .http
                .get(url)
                .header("cookie", session)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(with_session(second.admin.clone()).await.status(), 200);
    assert_eq!(with_session(other.admin.clone()).await.status(), 303);

    // Flip the id's first character to a different hex digit, so the cookie
    // always changes (replacing a digit with a fixed one sometimes did not).
    let (name, value) = session.split_once('=').unwrap();
    let flipped = if value.starts_with('0') { '1' } else { '0' };
    let tampered = format!("{name}={flipped}{}", &value[1..]);
    assert_ne!(tampered, session);
    let response = Visitor::new()
        .http
        .get(&second.admin)
        .header("cookie", tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "a tampered session is refused");
}

#[tokio::test]
async fn repeated_failed_logins_are_slowed_then_refused() {
    let app = spawn_app_with(Env::default().password("right")).await;
    let visitor = Visitor::new();
    let started = std::time::Instant::now();
    for _ in 0..5 {
        assert_eq!(log_in(&app, &visitor, "wrong").await.status(), 401);
    }
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1500),
        "each failure waits"
    );
    let locked = log_in(&app, &visitor, "right").await;
    assert_eq!(locked.status(), 429, "even the right password waits now");
    assert!(locked.headers().contains_key("retry-after"));
    assert!(locked
        .text()
        .await
        .unwrap()
        .contains("Too many failed logins"));
}

#[tokio::test]
async fn the_login_page_is_not_needed_without_a_password() {
    let app = spawn_app().await;
    let response = Visitor::new().get(&app.login_url()).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/");
}

#[tokio::test]
async fn a_missing_or_empty_password_file_stops_pets_with_a_message() {
    let empty = crate::helpers::temp_file("empty_secret", "\n");
    for file in ["/run/secrets/does-not-exist", empty.to_str().unwrap()] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_pets"))
            .env("ADMIN_PASSWORD_FILE", file)
            .env("WEB_PORT", "0")
            .env("ADMIN_PORT", "0")
            .output()
            .unwrap();
        assert!(!output.status.success(), "pets refuses to start");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(file), "names {file}: {stderr}");
        assert!(stderr.contains("ADMIN_PASSWORD_FILE"));
    }
}

#[tokio::test]
async fn the_console_streams_results_as_votes_arrive() {
    let app = spawn_app().await;
    let mut events = Visitor::new().get(&app.events_url()).await;
    assert_eq!(events.status(), 200);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let first = next_results(&mut events).await;
    assert_eq!(votes_of(&first), [0, 0, 0]);
    Visitor::new().vote(&app, "Ada", "b").await;
    let second = next_results(&mut events).await;
    assert_eq!(votes_of(&second), [0, 1, 0]);
}

async fn next_results(response: &mut reqwest::Response) -> serde_json::Value {
    let mut buffer = String::new();
    loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), response.chunk())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .expect("stream open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(data) = buffer
            .split("\n\n")
            .find(|e| e.contains("event: results"))
            .and_then(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        {
            return serde_json::from_str(data).unwrap();
        }
    }
}
