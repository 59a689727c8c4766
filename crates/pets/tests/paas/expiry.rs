//! Expiry removes an instance with everything made for it; a restarted
//! service adopts live instances and removes overdue ones at once.

use std::time::Duration;

use crate::helpers::{engine_has, settings, TestPaas};
use crate::support::eventually;

#[tokio::test]
async fn an_instance_is_removed_when_its_time_is_up() {
    let paas = TestPaas::spawn(settings(Duration::from_secs(8), 5)).await;
    let id = paas.create_ok(&[]).await;
    paas.wait_ready(&id).await;
    assert_eq!(engine_has(&id), ["container", "network", "volume"]);
    let (code, _) = paas.at(&id).get("/vote").await;
    assert_eq!(code, 200);
    eventually(Duration::from_secs(30), "the instance removed", || async {
        let left = engine_has(&id);
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("still there: {left:?}"))
        }
    })
    .await;
    let (code, page) = paas.at(&id).get("/vote").await;
    assert_eq!(code, 404);
    assert!(page.contains("No such pets"));
    let (code, _) = paas.waiting_page(&id).await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn a_restarted_service_adopts_live_instances_and_removes_overdue_ones() {
    // Two services in turn on one engine, as one restarted with another
    // TTL: the first makes a long-lived instance and stops; the second makes
    // a short-lived one and stops at once, so nothing is left running to
    // remove it when it falls due.
    let long_settings = settings(Duration::from_secs(600), 5);
    let name = long_settings.name.clone();
    let with_name = |ttl| {
        let mut s = settings(Duration::from_secs(ttl), 5);
        s.name = name.clone();
        s
    };
    let long = TestPaas::spawn(long_settings).await;
    let live = long.create_with_password([127, 0, 0, 4]).await.0;
    long.wait_ready(&live).await;
    long.stop().await;
    let short = TestPaas::spawn(with_name(6)).await;
    let overdue = short.create_with_password([127, 0, 0, 3]).await.0;
    short.stop().await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        engine_has(&overdue),
        ["container", "network", "volume"],
        "nothing ran to remove it"
    );

    // A new service finds both, removes the overdue one at once, and serves
    // the live one.
    let restarted = TestPaas::spawn(with_name(600)).await;
    assert!(engine_has(&overdue).is_empty(), "removed at start");
    let adopted = restarted.registry.all();
    assert!(adopted.iter().any(|i| i.id.as_str() == live));
    assert!(!adopted.iter().any(|i| i.id.as_str() == overdue));
    let (code, page) = restarted.at(&live).get("/vote").await;
    assert_eq!(code, 200, "{page}");
    // The adopted instance still belongs to its client.
    let again = restarted.create_from([127, 0, 0, 4], &[]).await;
    assert_eq!(again.status(), 409);
}
