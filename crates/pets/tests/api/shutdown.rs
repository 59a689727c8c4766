//! Shutdown: event streams end, the ports close, `PETS_SHUTDOWN_DELAY`
//! keeps answering one request per connection for a while first, a request
//! still open after the drain timeout is closed, and SIGTERM stops the real
//! binary cleanly.

use std::time::{Duration, Instant};

use pets::serve::DRAIN_TIMEOUT;

use crate::helpers::{spawn_app, spawn_app_with, Env, Visitor};

#[tokio::test]
async fn shutdown_ends_event_streams_and_stops_listening() {
    let mut app = spawn_app().await;
    let mut events = Visitor::new().get(&app.events_url()).await;
    assert_eq!(events.status(), 200);
    events.chunk().await.unwrap().expect("a first event");

    let took = app.stop().await;
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
    let rest = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(Some(_)) = events.chunk().await {}
    })
    .await;
    assert!(rest.is_ok(), "the stream was closed");
    assert!(
        reqwest::get(app.health_url()).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shutdown_delay_keeps_answering_but_not_keeping_connections() {
    let mut app = spawn_app_with(Env::default().with("PETS_SHUTDOWN_DELAY", "1.5")).await;
    let health = app.health_url();
    let kept = Visitor::new();
    let first = kept.get(&health).await;
    assert!(first.headers().get("connection").is_none(), "kept alive");
    let probe = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        // A new connection, during the delay: answered, then closed.
        let during = Visitor::new().get(&health).await;
        let closed = during
            .headers()
            .get("connection")
            .map(|v| v.as_bytes().to_vec());
        // The kept-alive connection was closed while idle; a request on
        // the same client opens a new one and is still answered.
        let again = kept.get(&health).await.status();
        tokio::time::sleep(Duration::from_millis(2_000)).await;
        let after = reqwest::get(&health).await.is_err();
        (during.status(), closed, again, after)
    };
    let started = Instant::now();
    let (took, (during, closed, again, after)) = tokio::join!(app.stop(), probe);
    assert_eq!(
        during, 503,
        "answered during the delay, /health saying it is stopping, so routers take it out"
    );
    assert_eq!(
        closed.as_deref(),
        Some(&b"close"[..]),
        "one request per connection"
    );
    assert_eq!(again, 503);
    assert!(after, "no longer accepting once the delay is over");
    assert!(
        took >= Duration::from_millis(1_500) && started.elapsed() < Duration::from_secs(10),
        "stopped after the delay: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_open_after_the_drain_timeout_is_closed() {
    let mut app = spawn_app_with(Env::default().with("PETS_FAULT_LATENCY_MS", "30000")).await;
    let page = app.vote_url();
    let slow = tokio::spawn(async move { Visitor::new().http.get(page).send().await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!slow.is_finished(), "the page is held by the latency fault");

    let took = app.stop().await;
    assert!(
        took >= DRAIN_TIMEOUT && took < DRAIN_TIMEOUT + Duration::from_secs(3),
        "stopped once the drain timeout was over: {took:?}"
    );
    let answer = tokio::time::timeout(Duration::from_secs(2), slow)
        .await
        .expect("the connection was closed by the time the app stopped")
        .unwrap();
    assert!(answer.is_err(), "closed, not answered: {answer:?}");
}

#[tokio::test]
async fn sigterm_stops_the_binary_cleanly() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pets"))
        .env("WEB_PORT", "0")
        .env("ADMIN_PORT", "0")
        .env("PETS_BIND", "127.0.0.1")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let started = lines.next_line().await.unwrap().expect("a start-up line");
    assert!(started.contains("pets started"), "{started}");
    assert!(
        started.contains("in-memory store"),
        "names the store: {started}"
    );

    let pid = child.id().unwrap() as i32;
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits within 10 s")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut rest = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push(line);
    }
    assert!(rest.iter().any(|l| l.contains("SIGTERM")), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("pets stopped")), "{rest:?}");
}
