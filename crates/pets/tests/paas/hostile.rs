//! Hostile Host headers and paths reach nothing but a 404 page; a bare
//! address reaches the service's own pages, never an instance.

use std::time::Duration;

use crate::helpers::{settings, TestPaas};

#[tokio::test]
async fn unknown_expired_and_malformed_hosts_get_a_404_page() {
    let paas = TestPaas::spawn(settings(Duration::from_secs(600), 5)).await;
    let live = paas.create_ok(&[]).await;
    paas.wait_ready(&live).await;
    let port = paas.addr.port();
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for host in [
        format!("abcdefghij012345.localhost:{port}"),
        format!("{}.localhost:{port}", &live[..15]),
        format!("{live}x.localhost:{port}"),
        format!("{live}.localhost.evil.example:{port}"),
        format!("x.{live}.localhost:{port}"),
        format!("{live}-admin-admin.localhost:{port}"),
        "docker.sock".to_owned(),
        "127.0.0.1.localhost".to_owned(),
        format!("{}%41.localhost:{port}", &live[..15]),
        format!("{live}%2eevil.localhost:{port}"),
    ] {
        let answer = raw
            .get(format!("http://127.0.0.1:{port}/vote"))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{host}");
        let page = answer.text().await.unwrap();
        assert!(page.contains("No such pets"), "{host}: {page}");
    }
    // The service's own paths with hostile ids.
    for path in [
        "/instances/..%2f..%2fetc",
        "/instances/abcdefghij012345",
        "/instances/abcdefghij012345/status",
        "/instances/%00",
    ] {
        let answer = raw
            .get(format!("http://127.0.0.1:{port}{path}"))
            .header("host", format!("localhost:{port}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{path}");
    }
    // A request with no Host at all (HTTP/1.0).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(paas.addr).await.unwrap();
    stream
        .write_all(b"GET /vote HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.0 404") || answer.starts_with("HTTP/1.1 404"),
        "{answer}"
    );
}

/// `http://127.0.0.1:8000/` as a new user types it (or the machine's LAN
/// address): the landing page, saying where instances will live; no
/// instance is reachable by an address.
#[tokio::test]
async fn a_bare_address_serves_the_landing_page_and_no_instance() {
    let paas = TestPaas::spawn(settings(Duration::from_secs(600), 5)).await;
    let port = paas.addr.port();
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for host in [
        format!("127.0.0.1:{port}"),
        "169.254.169.254".to_owned(),
        format!("[::1]:{port}"),
    ] {
        let answer = raw
            .get(format!("http://127.0.0.1:{port}/"))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{host}");
        let page = answer.text().await.unwrap();
        assert!(page.contains("Make my pets"), "{host}: the landing page");
        assert!(
            page.contains("You opened this page at") && page.contains(".localhost"),
            "{host}: says where instances live: {page}"
        );
        let answer = raw
            .get(format!("http://127.0.0.1:{port}/vote"))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            404,
            "{host}: /vote is no page of the service"
        );
    }
    let at_domain = paas
        .client(&[])
        .get(paas.url("localhost", "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(at_domain.status(), 200);
    let page = at_domain.text().await.unwrap();
    assert!(!page.contains("You opened this page at"), "{page}");
}
