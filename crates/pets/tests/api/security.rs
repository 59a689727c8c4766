//! Bad and hostile input: cross-site posts, bad names and options, names
//! that look like keys, oversized bodies, malformed forms and cookies.

use crate::helpers::{spawn_app, Visitor};

#[tokio::test]
async fn cross_site_posts_are_refused_on_both_ports() {
    let app = spawn_app().await;
    let before = app.results().await;
    let http = Visitor::new().http;
    let vote = app.vote_url();
    let refused = [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "null"),
    ];
    for (header, value) in refused {
        let response = http
            .post(&vote)
            .header(header, value)
            .form(&[("name", "Mallory"), ("vote", "a")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{header}: {value}");
        assert!(response.text().await.unwrap().contains("another site"));
    }
    let login = http
        .post(app.login_url())
        .header("origin", "http://evil.example")
        .form(&[("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 403);
    let health = http
        .put(app.health_url())
        .header("sec-fetch-site", "cross-site")
        .json(&serde_json::json!({"healthy": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 403);
    assert_eq!(app.results().await, before, "nothing changed");

    let host = app.web.trim_start_matches("http://");
    let same_origin = http
        .post(&vote)
        .header("origin", format!("http://{host}"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("name", "Ann"), ("vote", "a")])
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), 303, "the site's own form is served");
}

#[tokio::test]
async fn bad_names_get_the_form_again_with_a_message() {
    let app = spawn_app().await;
    let long = "x".repeat(65);
    let cases = [
        ("", "enter a name"),
        ("   ", "enter a name"),
        (long.as_str(), "at most 64"),
        ("bad\u{7}name", "control characters"),
    ];
    for (name, message) in cases {
        let response = Visitor::new().vote(&app, name, "a").await;
        assert_eq!(response.status(), 400, "{name:?}");
        let page = response.text().await.unwrap();
        assert!(page.contains(message), "{name:?} -> {message}");
        assert!(
            page.contains(r#"<form method="post" action="/vote">"#),
            "the form again"
        );
    }
    assert_eq!(app.votes().await, [0, 0, 0]);
}

#[tokio::test]
async fn unknown_or_missing_options_are_refused() {
    let app = spawn_app().await;
    for vote in ["d", "A", "", "hits"] {
        let response = Visitor::new().vote(&app, "Ann", vote).await;
        assert_eq!(response.status(), 400, "{vote:?}");
    }
    let missing = Visitor::new()
        .post_form(&app.vote_url(), &[("name", "Ann")])
        .await;
    assert_eq!(missing.status(), 400);
    assert!(missing.text().await.unwrap().contains("choose a pet"));
    assert_eq!(app.votes().await, [0, 0, 0]);
}

#[tokio::test]
async fn names_are_data_and_never_touch_other_records() {
    let app = spawn_app().await;
    let voter = Visitor::new();
    voter.vote(&app, "Ada", "a").await;
    voter.get(&app.web).await;
    for name in [
        "hits",
        "../x",
        "votes/a",
        "pets/served/x",
        "<script>alert(1)</script>",
    ] {
        let response = Visitor::new().vote(&app, name, "b").await;
        assert_eq!(response.status(), 303, "{name} is a fine name");
    }
    let results = app.results().await;
    assert_eq!(crate::helpers::votes_of(&results), [1, 5, 0]);
    assert_eq!(results["hits"], 1, "the counter is untouched");
    assert_eq!(voter.get(&app.web).await.status(), 200, "pages still work");
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let app = spawn_app().await;
    let name = "x".repeat(17 * 1024);
    let response = Visitor::new().vote(&app, &name, "a").await;
    assert_eq!(response.status(), 413);
    assert!(response.text().await.unwrap().contains("16 KiB"));
    assert_eq!(app.votes().await, [0, 0, 0]);
}

#[tokio::test]
async fn malformed_forms_and_cookies_are_handled() {
    let app = spawn_app().await;
    let http = Visitor::new().http;
    let not_a_form = http
        .post(app.vote_url())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_form.status(), 400);

    let garbage = "pets_voter=../../etc; pets_vote=zzz; pets_ballot=; pets_admin=%%%";
    let page = http
        .get(&app.web)
        .header("cookie", garbage)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303, "an unreadable vote cookie is ignored");
    let vote = http
        .post(app.vote_url())
        .header("cookie", garbage)
        .form(&[("name", "Ann"), ("vote", "c")])
        .send()
        .await
        .unwrap();
    assert_eq!(vote.status(), 303);
    assert_eq!(app.votes().await, [0, 0, 1]);
}

#[tokio::test]
async fn unknown_addresses_get_a_page_saying_so() {
    let app = spawn_app().await;
    for url in [
        format!("{}/nope", app.web),
        format!("{}/static/../Cargo.toml", app.web),
    ] {
        let response = Visitor::new().get(&url).await;
        assert_eq!(response.status(), 404, "{url}");
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("nothing at this address"));
    }
}
