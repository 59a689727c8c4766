//! Connections an attacker holds open: idle ones past the cap and past the
//! open-files limit, slow headers, idle keep-alive, and half-sent huge
//! headers, each against the real binary, with `/health` and the console
//! still answering.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::binary::Binary;

/// A plain GET with a fresh connection; the status and how long it took.
async fn get(addr: &str, path: &str) -> (u16, Duration) {
    let started = Instant::now();
    let status = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    (status, started.elapsed())
}

/// Opens `n` connections that send nothing.
async fn idle_connections(addr: &str, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        if let Ok(stream) = TcpStream::connect(addr).await {
            held.push(stream);
        }
    }
    held
}

/// Whether the server closed this connection within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn idle_connections_past_the_open_files_limit_leave_both_ports_answering() {
    let app = Binary::start(&[], Some(1024)).await;
    let mut held = idle_connections(&app.web, 1100).await;
    held.extend(idle_connections(&app.admin, 1100).await);
    eprintln!("holding {} idle connections", held.len());
    let (health, took) = get(&app.web, "/health").await;
    assert_eq!(health, 200, "health answers");
    assert!(took < Duration::from_secs(1), "within 1 s: {took:?}");
    let (results, took) = get(&app.admin, "/api/results").await;
    assert_eq!(results, 200, "the console answers");
    assert!(took < Duration::from_secs(1), "within 1 s: {took:?}");
}

#[tokio::test]
async fn idle_connections_beyond_the_cap_make_room_for_health() {
    let app = Binary::start(&[("PETS_MAX_CONNECTIONS", "20")], None).await;
    let mut held = idle_connections(&app.web, 200).await;
    let (health, took) = get(&app.web, "/health").await;
    assert_eq!(health, 200);
    assert!(took < Duration::from_secs(1), "{took:?}");
    let mut closed = 0;
    for stream in held.iter_mut().take(50) {
        if closed_within(stream, Duration::from_millis(20)).await {
            closed += 1;
        }
    }
    assert!(
        closed >= 40,
        "the oldest idle ones were closed: {closed} of 50"
    );
}

#[tokio::test]
async fn a_slow_header_and_an_idle_keep_alive_are_dropped_after_the_timeout() {
    let app = Binary::start(&[("PETS_HEADER_TIMEOUT", "1")], None).await;
    let mut slow = TcpStream::connect(&app.web).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let dripping = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow.write_all(b"X-Drip: a\r\n").await.is_err() {
                break;
            }
        }
    };
    dripping.await;
    assert!(
        closed_within(&mut slow, Duration::from_secs(1)).await,
        "slowloris dropped"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    let mut idle = TcpStream::connect(&app.web).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 256];
    let n = idle.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    assert!(
        closed_within(&mut idle, Duration::from_secs(3)).await,
        "idle keep-alive closed"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "not before the timeout"
    );
}

#[tokio::test]
async fn half_sent_huge_headers_do_not_grow_memory() {
    let app = Binary::start(&[], None).await;
    let before = app.rss_kib();
    let chunk = format!("X-Big: {}\r\n", "a".repeat(8 * 1024));
    let mut held = Vec::new();
    for _ in 0..300 {
        let Ok(mut stream) = TcpStream::connect(&app.web).await else {
            continue;
        };
        let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await;
        for _ in 0..(380 / 8) {
            if stream.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
        }
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = app.rss_kib();
    eprintln!("resident memory: {before} KiB before, {after} KiB with 300 half-sent headers");
    assert!(
        after < before + 30 * 1024,
        "bounded: {before} KiB -> {after} KiB"
    );
    assert_eq!(get(&app.web, "/health").await.0, 200);
}
