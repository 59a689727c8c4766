//! A room's pages over HTTP: the join panel's address (from the console's
//! own, from `PETS_PUBLIC_URL`, or a reason instead of a code) and the
//! projector's page behind the console's login. `room_browser.rs` scans
//! the code and votes from a phone in Chromium.

use crate::helpers::{spawn_app_with, Env, TestApp, Visitor};

/// The console page as fetched with `Host: host`, its slashes unescaped.
async fn console_at(app: &TestApp, host: &str) -> String {
    let response = Visitor::new()
        .http
        .get(&app.admin)
        .header("host", host)
        .send()
        .await
        .expect("the console answers");
    assert_eq!(response.status(), 200, "the console for Host {host}");
    // Tera writes `/` as `&#x2F;` in text.
    response.text().await.unwrap().replace("&#x2F;", "/")
}

#[tokio::test]
async fn the_join_panel_shows_the_voter_site_at_the_consoles_address() {
    let app = spawn_app_with(Env::default()).await;
    let page = console_at(&app, "192.168.1.20:7000").await;
    let expected = format!("http://192.168.1.20:{}/", app.web_port());
    assert!(
        page.contains(&format!(
            "<p class=\"join-url\" id=\"join-url\">{expected}</p>"
        )),
        "the address in large type: {expected}"
    );
    assert!(page.contains("<svg class=\"qr-code\""), "a QR code, inline");
    assert!(!page.contains("<?xml"), "no XML prolog inside the page");

    let page = console_at(&app, "localhost:7000").await;
    assert!(!page.contains("qr-code"), "no code a phone cannot use");
    assert!(
        page.contains("only this machine can reach"),
        "says why instead"
    );
}

#[tokio::test]
async fn the_public_url_is_shown_unless_the_allowed_hosts_would_refuse_it() {
    let app =
        spawn_app_with(Env::default().with("PETS_PUBLIC_URL", "https://pets.example.com")).await;
    let page = console_at(&app, "localhost:7000").await;
    assert!(page.contains(">https://pets.example.com/</p>"));
    assert!(page.contains("<svg class=\"qr-code\""));

    let app = spawn_app_with(
        Env::default()
            .with("PETS_PUBLIC_URL", "https://vote.example.com/")
            .with("PETS_ALLOWED_HOSTS", "pets.example.com"),
    )
    .await;
    let page = console_at(&app, "pets.example.com:7000").await;
    assert!(!page.contains("qr-code"));
    assert!(
        page.contains(
            "PETS_PUBLIC_URL names vote.example.com, which PETS_ALLOWED_HOSTS does not list"
        ),
        "names the variable to fix"
    );
}

#[tokio::test]
async fn the_projector_page_follows_the_consoles_login() {
    let app = spawn_app_with(Env::default().password("room key")).await;
    let stranger = Visitor::new().get(&app.present_url()).await;
    assert_eq!(stranger.status(), 303);
    assert_eq!(crate::helpers::location(&stranger), "/login");

    let visitor = Visitor::new();
    let logged_in = visitor
        .post_form(&app.login_url(), &[("password", "room key")])
        .await;
    assert_eq!(logged_in.status(), 303);
    Visitor::new().vote(&app, "Ada", "c").await;
    let response = visitor.get(&app.present_url()).await;
    assert_eq!(response.status(), 200);
    assert!(response
        .headers()
        .get("content-security-policy")
        .is_some_and(|p| p.to_str().unwrap().contains("script-src 'self'")));
    let page = response.text().await.unwrap();
    for part in [
        "id=\"cluster-nodes\"",
        "id=\"join\"",
        "id=\"meter\"",
        "id=\"votes-c\">1<",
        "http-equiv=\"refresh\"",
        "/static/js/present.js",
    ] {
        assert!(page.contains(part), "the projector page has {part}");
    }
    assert!(
        page.contains("data-node=\"this machine\""),
        "a replica without PETS_NODE has the one column"
    );
}
