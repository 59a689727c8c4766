//! The cap on running instances, one live instance per client, and the
//! limits set on every container.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{id_in, settings, TestPaas};
use crate::support::docker;

#[tokio::test]
async fn the_cap_and_one_instance_per_client() {
    let paas = TestPaas::spawn(settings(Duration::from_secs(600), 2)).await;
    let first = paas.create_from([127, 0, 0, 5], &[]).await;
    assert_eq!(first.status(), 303);
    let first = id_in(&first);

    // The same address again: a link to the first.
    let again = paas.create_from([127, 0, 0, 5], &[]).await;
    assert_eq!(again.status(), 409);
    let page = again.text().await.unwrap();
    assert!(page.contains("You already have a pets"), "{page}");
    assert!(page.contains(&format!("instances&#x2F;{first}")), "{page}");

    assert_eq!(paas.create_from([127, 0, 0, 6], &[]).await.status(), 303);
    let full = paas.create_from([127, 0, 0, 7], &[]).await;
    assert_eq!(full.status(), 503);
    let page = full.text().await.unwrap();
    assert!(page.contains("All 2 pets are in use"), "{page}");
    assert!(
        page.contains("The next one is free in 9 min")
            || page.contains("The next one is free in 10 min"),
        "{page}"
    );
    assert_eq!(paas.registry.all().len(), 2);
}

#[tokio::test]
async fn bad_forms_are_refused_and_make_nothing() {
    let paas = TestPaas::spawn(settings(Duration::from_secs(600), 5)).await;
    let long = "x".repeat(65);
    for form in [
        vec![("version", "3.0")],
        vec![("option_a", long.as_str())],
        vec![("option_b", "a\u{7}b")],
    ] {
        let answer = paas.create(&form).await;
        assert_eq!(answer.status(), 400, "{form:?}");
        assert!(answer.text().await.unwrap().contains("class=\"problem\""));
    }
    assert!(paas.registry.all().is_empty());
}

#[tokio::test]
async fn every_instance_is_hardened() {
    let paas = TestPaas::spawn(settings(Duration::from_secs(600), 5)).await;
    let id = paas.create_ok(&[]).await;
    let name = format!("pets-paas-{id}");
    let inspect: Value = serde_json::from_str(&docker(&["container", "inspect", &name])).unwrap();
    let host = &inspect[0]["HostConfig"];
    assert_eq!(host["Memory"], 96 * 1024 * 1024);
    assert_eq!(
        host["MemorySwap"],
        96 * 1024 * 1024,
        "no swap beyond the limit"
    );
    assert_eq!(host["NanoCpus"], 250_000_000);
    assert_eq!(host["PidsLimit"], 64);
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    assert_eq!(
        host["SecurityOpt"],
        serde_json::json!(["no-new-privileges:true"])
    );
    assert_eq!(host["Privileged"], false);
    assert_eq!(host["NetworkMode"], name.as_str());
    assert_eq!(inspect[0]["Config"]["User"], "65532:65532");
    // The password is a file, never in the environment, command or labels.
    let config = inspect[0]["Config"].to_string();
    assert!(config.contains("ADMIN_PASSWORD_FILE=/run/pets/admin_password"));
    let (_, page) = paas.waiting_page(&id).await;
    let password = crate::helpers::password_on(&page).unwrap();
    assert!(
        !inspect.to_string().contains(&password),
        "the password is not in the container's config"
    );
    let network: Value = serde_json::from_str(&docker(&["network", "inspect", &name])).unwrap();
    assert_eq!(network[0]["Internal"], true, "no route out");
}
