//! What both engines do with the Docker API: a refusal in the engine's own
//! words, a removal of what is already gone taken as done, and an
//! instance's network made on a free /28 of the pool.

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::Docker;
use ipnet::Ipv4Net;

use super::{subnets, EngineError};

/// Makes a network from `request` on a random /28 of `pool` (with
/// `gateway` at its first address, or where the driver puts it); a subnet
/// the engine already uses is traded for another, up to eight times.
/// Returns the subnet.
pub async fn create_network_in(
    docker: &Docker,
    pool: Ipv4Net,
    gateway: bool,
    request: NetworkCreateRequest,
) -> Result<Ipv4Net, EngineError> {
    let mut attempts = 0;
    loop {
        let subnet = subnets::pick(pool);
        let first = subnet.hosts().next().unwrap_or(subnet.addr());
        let ipam = Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(subnet.to_string()),
                gateway: gateway.then(|| first.to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let created = docker
            .create_network(NetworkCreateRequest {
                ipam: Some(ipam),
                ..request.clone()
            })
            .await;
        match created {
            Ok(_) => return Ok(subnet),
            Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                if subnets::taken(&message) && attempts < 8 =>
            {
                attempts += 1;
            }
            Err(e) => return Err(refused("create a network")(e)),
        }
    }
}

/// A 404 from a removal means it was already gone.
pub fn gone_is_fine(
    result: Result<(), bollard::errors::Error>,
) -> Result<(), bollard::errors::Error> {
    match result {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        other => other,
    }
}

/// The engine's answer to `action`, as an [`EngineError`].
pub fn refused(action: &'static str) -> impl Fn(bollard::errors::Error) -> EngineError {
    move |e| match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => {
            EngineError::Refused { action, message }
        }
        other => EngineError::Unreachable(other.to_string()),
    }
}
