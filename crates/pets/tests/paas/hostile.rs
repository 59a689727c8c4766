//! Hostile Host headers and paths reach nothing but a 404 page.

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
        "127.0.0.1".to_owned(),
        "169.254.169.254".to_owned(),
        "docker.sock".to_owned(),
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
