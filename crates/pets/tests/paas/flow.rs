//! The whole flow: create, wait, reach the pet site and the console by
//! `Host`, vote, and see the vote on that instance only.

use std::time::Duration;

use crate::helpers::{password_on, settings, TestPaas};

#[tokio::test]
async fn a_visitor_gets_a_pets_of_their_own() {
    let paas = TestPaas::spawn(settings(Duration::from_secs(600), 5)).await;
    let landing = paas
        .client(&[])
        .get(paas.url("localhost", "/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(landing.contains("0 running, 5 free."), "{landing}");

    let id = paas
        .create_ok(&[
            ("option_a", "Alpacas"),
            ("option_b", ""),
            ("option_c", "Owls"),
            ("version", "2.0"),
        ])
        .await;
    let (status, first) = paas.waiting_page(&id).await;
    assert_eq!(status, 200);
    let password = password_on(&first).expect("the password on the first view");
    assert_eq!(password.len(), 23);
    let (_, second) = paas.waiting_page(&id).await;
    assert!(password_on(&second).is_none(), "shown once");
    assert!(!second.contains(&password));
    // (Tera writes `/` as `&#x2F;` in HTML.)
    assert!(first.contains(&format!("{id}.localhost:{}", paas.addr.port())));
    assert!(first.contains(&format!("{id}-admin.localhost:{}", paas.addr.port())));

    let status = paas.wait_ready(&id).await;
    assert!(status["seconds_left"].as_u64().unwrap() > 590);

    // The pet site, through the proxy, with the visitor's pets and version.
    let site = paas.at(&id);
    let (code, vote_page) = site.get("/vote").await;
    assert_eq!(code, 200);
    assert!(vote_page.contains("Alpacas") && vote_page.contains("Owls"));
    assert!(
        vote_page.contains("Dogs"),
        "an empty name keeps the default"
    );
    assert!(vote_page.contains("2.0"), "the chosen version");
    assert!(
        vote_page.contains("This pets is removed in <span id=\"expires-left\">10 min</span>"),
        "every page counts down to its removal"
    );
    let voted = site
        .client
        .post(format!("{}/vote", site.base))
        .form(&[("name", "ada"), ("vote", "a")])
        .send()
        .await
        .unwrap();
    assert_eq!(voted.status(), 303, "the vote is recorded");

    // Its console, behind its own password.
    let console = paas.at(&format!("{id}-admin"));
    let (code, _) = console.get("/api/results").await;
    assert_eq!(code, 401);
    let cookie = login(&console, &password)
        .await
        .expect("its password opens it");
    assert!(login(&console, "not-the-password").await.is_none());
    let ours = results(&console, &cookie).await;
    assert_eq!(ours["options"][0]["name"], "Alpacas", "{ours}");
    assert_eq!(ours["options"][0]["votes"], 1, "{ours}");

    // A second visitor's instance sees none of it.
    let other = paas.create_with_password([127, 0, 0, 2]).await;
    paas.wait_ready(&other.0).await;
    let other_console = paas.at(&format!("{}-admin", other.0));
    let other_cookie = login(&other_console, &other.1).await.unwrap();
    let theirs = results(&other_console, &other_cookie).await;
    assert_eq!(theirs["options"][0]["name"], "Cats", "{theirs}");
    assert_eq!(theirs["total_votes"], 0, "{theirs}");
    assert!(
        login(&other_console, &password).await.is_none(),
        "one instance's password does not open another"
    );
    // A session cookie from one console is not accepted by the other.
    let (code, _) = get_with(&other_console, "/api/results", &cookie).await;
    assert_eq!(code, 401);
}

async fn login(console: &crate::helpers::Host, password: &str) -> Option<String> {
    let answer = console
        .client
        .post(format!("{}/login", console.base))
        .form(&[("password", password)])
        .send()
        .await
        .unwrap();
    if answer.status() != 303 {
        return None;
    }
    crate::support::session_cookie(&answer)
}

async fn get_with(console: &crate::helpers::Host, path: &str, cookie: &str) -> (u16, String) {
    let answer = console
        .client
        .get(format!("{}{path}", console.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

async fn results(console: &crate::helpers::Host, cookie: &str) -> serde_json::Value {
    let (code, body) = get_with(console, "/api/results", cookie).await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}
