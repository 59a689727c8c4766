//! An instance cannot reach another instance, nor anything beyond its own
//! network; the service reaches each.

use std::time::Duration;

use crate::helpers::{settings, TestPaas};
use crate::support::{docker, try_docker};

/// Whether a probe container on `network` opens a TCP connection to
/// `ip:5000` within 3 s.
fn reaches(network: &str, ip: &str) -> bool {
    let script = format!("timeout 3 bash -c '</dev/tcp/{ip}/5000'");
    try_docker(&[
        "run",
        "--rm",
        "--network",
        network,
        "--label",
        "org.pets.test=paas",
        "pets-debian-local:bookworm",
        "bash",
        "-c",
        &script,
    ])
    .is_ok()
}

fn address(id: &str) -> String {
    let name = format!("pets-paas-{id}");
    let format = format!("{{{{(index .NetworkSettings.Networks \"{name}\").IPAddress}}}}");
    docker(&["inspect", "-f", &format, &name]).trim().to_owned()
}

#[tokio::test]
async fn instances_cannot_reach_each_other() {
    let paas = TestPaas::spawn(settings(Duration::from_secs(600), 5)).await;
    let a = paas.create_with_password([127, 0, 0, 8]).await.0;
    let b = paas.create_with_password([127, 0, 0, 9]).await.0;
    paas.wait_ready(&a).await;
    paas.wait_ready(&b).await;
    let (a_ip, b_ip) = (address(&a), address(&b));
    assert_ne!(a_ip, b_ip);
    let a_net = format!("pets-paas-{a}");
    // The probe works: on a's network it reaches a.
    assert!(
        reaches(&a_net, &a_ip),
        "a probe on a's network reaches a ({a_ip})"
    );
    assert!(
        !reaches(&a_net, &b_ip),
        "a's network does not reach b ({b_ip})"
    );
    // Nor the host's other containers' default network.
    assert!(
        !reaches(&a_net, "172.17.0.1"),
        "no way to the default bridge's gateway"
    );
}
