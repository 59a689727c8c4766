//! Pets as a Service in a real browser: from the landing page through the
//! waiting page (its QR code read by a real decoder) to the visitor's own
//! pets at `http://<id>.localhost:<port>/`, and the operator console, at a
//! desktop's size and a phone's, in pets' own look under the service's CSP.
//! Saves the screenshots in docs/PAAS.md (`images/paas-*.png`, the phone's
//! `images/paas-*-phone.png`).

use std::time::{Duration, Instant};

use fantoccini::Locator;
use pets_testkit::browser::{Browser, Viewport};
use secrecy::SecretString;

use crate::helpers::{settings, TestPaas};

#[tokio::test]
async fn a_visitor_goes_from_the_landing_page_to_their_own_pets() {
    let mut s = settings(Duration::from_secs(40 * 60), 20);
    s.admin_password = Some(SecretString::from("operator passphrase".to_owned()));
    let paas = TestPaas::spawn(s).await;
    let home = paas.url("localhost", "/");
    let browser = Browser::start().await;

    browser.client.goto(&home).await.unwrap();
    assert_eq!(browser.text("#capacity").await, "0 running, 20 free.");
    assert_in_pets_look(&browser).await;
    browser.screenshot("paas-landing.png").await;

    browser.type_into("#option_a", "Alpacas").await;
    browser.type_into("#option_c", "Owls").await;
    browser
        .client
        .find(Locator::Css(
            "#version option[value='2.0'], #version option:nth-child(2)",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.click("button[type=submit]").await;

    // The waiting page: the password once, the addresses, the time left,
    // and a way on only once the instance answers its health check. The
    // click may return before the browser has followed the redirect.
    let started = Instant::now();
    let id = loop {
        let url = browser.client.current_url().await.unwrap();
        if let Some(id) = url.path().strip_prefix("/instances/") {
            break id.to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the waiting page, not {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let password = browser.text("#password").await;
    assert_eq!(password.len(), 23);
    assert!(browser
        .text("#site")
        .await
        .starts_with(&format!("http://{id}.localhost:")));
    let go = wait_for(&browser, "#go", Duration::from_secs(60)).await;
    assert_eq!(browser.text("#state").await, "Your pets is ready");
    assert_eq!(
        browser.scan_code("#qr svg").await,
        format!("http://{id}.localhost:{}/", paas.addr.port()),
        "the waiting page's code is the visitor's own pets"
    );
    browser.screenshot("paas-waiting.png").await;
    go.click().await.unwrap();

    // The visitor's own pets, on its own subdomain, counting down.
    let started = Instant::now();
    let url = loop {
        let url = browser.client.current_url().await.unwrap();
        if url.host_str() == Some(&format!("{id}.localhost")) && url.path() == "/vote" {
            break url;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still at {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(url.port(), Some(paas.addr.port()));
    let ballot = browser.text("body").await;
    assert!(
        ballot.contains("Alpacas") && ballot.contains("Owls"),
        "{ballot}"
    );
    let left = browser.text("#expires-left").await;
    assert!(
        left.starts_with("39 min") || left.starts_with("40 min"),
        "{left}"
    );
    browser.screenshot("paas-instance.png").await;

    // The operator sees it.
    browser
        .client
        .goto(&paas.url("localhost", "/admin"))
        .await
        .unwrap();
    browser.type_into("#password", "operator passphrase").await;
    browser.click("button[type=submit]").await;
    let capacity = browser.text("#capacity").await;
    assert!(
        capacity.starts_with("1 of 20 instances running"),
        "{capacity}"
    );
    let health = browser.text(&format!("[data-id='{id}'] .health")).await;
    assert_eq!(health, "healthy");
    let node = browser
        .eval(&format!(
            "return document.querySelector(\"[data-id='{id}']\").closest('[data-node]').dataset.node"
        ))
        .await;
    assert!(
        node.as_str()
            .is_some_and(|n| !n.is_empty() && n != "not placed"),
        "the instance is shown under the engine's node: {node}"
    );
    browser.screenshot("paas-operator.png").await;
    browser.close().await;
}

#[tokio::test]
async fn a_visitor_on_a_phone_makes_a_pets_and_scans_its_code() {
    let mut s = settings(Duration::from_secs(40 * 60), 20);
    s.admin_password = Some(SecretString::from("operator passphrase".to_owned()));
    let paas = TestPaas::spawn(s).await;
    let size = (390, 844);
    let phone = Browser::start_at(Viewport::Phone(size.0, size.1)).await;

    phone
        .client
        .goto(&paas.url("localhost", "/"))
        .await
        .unwrap();
    assert_in_pets_look(&phone).await;
    phone.assert_fits_a_phone("the landing page", size).await;
    phone.screenshot("paas-landing-phone.png").await;

    phone.type_into("#option_b", "Geckos").await;
    phone.click("button[type=submit]").await;
    wait_for(&phone, "#go", Duration::from_secs(60)).await;
    let site = phone.text("#site").await;
    assert_eq!(
        phone.scan_code("#qr svg").await,
        site,
        "the code is its address"
    );
    assert!(
        phone.text("#qr-note").await.contains("localhost"),
        "a localhost address is said to work on this machine only"
    );
    phone.assert_fits_a_phone("the waiting page", size).await;
    phone.screenshot("paas-waiting-phone.png").await;

    phone
        .client
        .goto(&paas.url("localhost", "/admin"))
        .await
        .unwrap();
    phone
        .assert_fits_a_phone("the operator's login", size)
        .await;
    phone.type_into("#password", "operator passphrase").await;
    phone.click("button[type=submit]").await;
    let capacity = phone.text("#capacity").await;
    assert!(
        capacity.starts_with("1 of 20 instances running"),
        "{capacity}"
    );
    phone
        .assert_fits_a_phone("the operator console", size)
        .await;
    phone.screenshot("paas-operator-phone.png").await;
    phone.close().await;
}

/// pets' stylesheet and paw reached the page through the service's CSP:
/// the brand is drawn in pets' weight and its picture loaded.
async fn assert_in_pets_look(browser: &Browser) {
    let look = browser
        .eval(
            "const b = document.querySelector('.brand'), i = b && b.querySelector('img'); \
             return [b ? getComputedStyle(b).fontWeight : null, \
                     !!i && i.complete && i.naturalWidth > 0, \
                     getComputedStyle(document.body).backgroundImage.startsWith('linear-gradient')];",
        )
        .await;
    assert_eq!(look, serde_json::json!(["800", true, true]), "pets' look");
}

async fn wait_for(browser: &Browser, css: &str, limit: Duration) -> fantoccini::elements::Element {
    browser
        .client
        .wait()
        .at_most(limit)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} within {limit:?}: {e}"))
}
