//! What every handler of `pets paas` shares: the registry of instances,
//! the proxy to them, the operator's gate, and how visitors and links are
//! read and written. Below the handlers: it imports none of them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::Instance;
use crate::gate::Operator;
use crate::id::InstanceId;
use crate::proxy::Proxy;
use crate::registry::Registry;

/// What every handler shares.
#[derive(Clone)]
pub struct Paas {
    pub registry: Arc<Registry>,
    pub proxy: Proxy,
    /// The port visitors use, for the links the service makes.
    pub public_port: u16,
    /// The operator console's login, when it has a password.
    pub operator: Option<Arc<Operator>>,
    /// `PAAS_TRUSTED_PROXIES`: whose forwarding headers name the visitor.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    probe: reqwest::Client,
}

impl Paas {
    pub fn new(
        registry: Arc<Registry>,
        public_port: u16,
        admin_password: Option<&secrecy::SecretString>,
        trusted_proxies: &[ipnet::IpNet],
    ) -> Self {
        Self {
            registry,
            proxy: Proxy::default(),
            public_port,
            operator: admin_password.map(|p| Arc::new(Operator::new(p))),
            trusted_proxies: trusted_proxies.into(),
            probe: reqwest::Client::builder()
                .timeout(Duration::from_secs(1))
                .build()
                .expect("a plain HTTP client builds"),
        }
    }

    /// Whether the instance answers its health check now.
    pub async fn healthy(&self, instance: &Instance) -> bool {
        match instance.address {
            Some(address) => self
                .probe
                .get(format!("http://{address}:5000/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
            None => false,
        }
    }

    /// The visitor behind `peer`, read through the trusted proxies as pets
    /// reads it: one instance per visitor, and the login throttle, count
    /// this address.
    pub fn client(&self, peer: SocketAddr, headers: &http::HeaderMap) -> std::net::IpAddr {
        pets_web::auth::client::client_address(peer.ip(), headers, &self.trusted_proxies)
    }

    pub fn domain(&self) -> &str {
        &self.registry.rules().domain
    }

    /// `http://<name>.<domain>:<port>/`, or the service's own address.
    pub fn url(&self, name: Option<String>) -> String {
        let host = match name {
            Some(name) => format!("{name}.{}", self.domain()),
            None => self.domain().to_owned(),
        };
        match self.public_port {
            80 => format!("http://{host}/"),
            port => format!("http://{host}:{port}/"),
        }
    }

    pub fn site_url(&self, id: &InstanceId) -> String {
        self.url(Some(id.to_string()))
    }

    pub fn admin_url(&self, id: &InstanceId) -> String {
        self.url(Some(format!("{id}-admin")))
    }
}
