//! The addresses behind the targets, looked up again every few seconds: a
//! name like `tasks.web` stands for every Swarm task, and tasks come and go
//! during an update. Requests take the addresses in turn. `--resolve`
//! gives a name's addresses instead (a routed site reached from outside
//! its DNS), and a request to a name keeps the name: its Host header and
//! TLS server name are the site's, its connection goes to the address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::options::{CaCert, Resolve, Target};
use pets_store::sync::{Locked, ReadWrite};

/// How often names are looked up again.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(3);

/// Where one request goes: an address, the base URL the request names
/// (the address itself, or for `https` and `--resolve`d hosts the target's
/// name, so the Host header and TLS name are the site's), and the client
/// that connects that name to that address.
#[derive(Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
}

/// How the clients are made: one for plain addresses, one per named
/// address, all alike but for where the name leads.
#[derive(Clone)]
pub struct Clients {
    pub timeout: Duration,
    pub ca_cert: Option<CaCert>,
    made: Arc<Mutex<HashMap<(String, SocketAddr), reqwest::Client>>>,
}

impl Clients {
    pub fn new(timeout: Duration, ca_cert: Option<CaCert>) -> Self {
        Self {
            timeout,
            ca_cert,
            made: Arc::default(),
        }
    }

    /// The client for `host` at `addr` (`host` empty: plain addresses),
    /// made once.
    fn client(&self, host: &str, addr: SocketAddr) -> reqwest::Client {
        let key = (
            host.to_owned(),
            if host.is_empty() {
                ([0, 0, 0, 0], 0).into()
            } else {
                addr
            },
        );
        self.made
            .locked()
            .entry(key)
            .or_insert_with(|| {
                let mut builder = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(self.timeout)
                    .user_agent(concat!("pets-load/", env!("CARGO_PKG_VERSION")));
                if !host.is_empty() {
                    builder = builder.resolve(host, addr);
                }
                if let Some(ca) = &self.ca_cert {
                    builder = builder.add_root_certificate(ca.certificate.clone());
                }
                builder.build().expect("an HTTP client")
            })
            .clone()
    }
}

#[derive(Clone)]
pub struct Addresses {
    current: Arc<RwLock<Vec<Endpoint>>>,
    turn: Arc<AtomicUsize>,
}

/// What to look up: the targets, the addresses given for some of them,
/// and how to make their clients.
struct Lookup {
    targets: Vec<Target>,
    resolve: Vec<Resolve>,
    clients: Clients,
}

impl Addresses {
    /// Looks the targets up now, then every [`RESOLVE_EVERY`] while the
    /// returned value lives. Addresses that cannot be found now are kept
    /// from the last look. A target named by `--resolve` takes the
    /// addresses given there, and is not looked up.
    pub async fn follow(targets: Vec<Target>, resolve: Vec<Resolve>, clients: Clients) -> Self {
        let lookup = Lookup {
            targets,
            resolve,
            clients,
        };
        let addresses = Self {
            current: Arc::new(RwLock::new(lookup.endpoints().await)),
            turn: Arc::default(),
        };
        let weak = Arc::downgrade(&addresses.current);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RESOLVE_EVERY).await;
                let Some(current) = weak.upgrade() else {
                    return;
                };
                let found = lookup.endpoints().await;
                if !found.is_empty() {
                    *current.write_now() = found;
                }
            }
        });
        addresses
    }

    /// The next endpoint in turn, if any is known.
    pub fn next(&self) -> Option<Endpoint> {
        let current = self.current.read_now();
        if current.is_empty() {
            return None;
        }
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        Some(current[turn % current.len()].clone())
    }

    pub fn count(&self) -> usize {
        self.current.read_now().len()
    }
}

impl Lookup {
    async fn endpoints(&self) -> Vec<Endpoint> {
        let mut found: Vec<Endpoint> = Vec::new();
        for target in &self.targets {
            let given = self
                .resolve
                .iter()
                .find(|r| r.host == target.host && r.port == target.port);
            let addrs: Vec<SocketAddr> = match given {
                Some(given) => given
                    .addrs
                    .iter()
                    .map(|ip| SocketAddr::new(*ip, target.port))
                    .collect(),
                None => match tokio::net::lookup_host((target.host.as_str(), target.port)).await {
                    Ok(addrs) => addrs.collect(),
                    Err(_) => continue,
                },
            };
            // Named: TLS needs the name, and a routed site answers to it.
            let named = target.tls || given.is_some();
            for addr in addrs {
                let endpoint = if named {
                    Endpoint {
                        addr,
                        base: target.base(),
                        client: self.clients.client(&target.host, addr),
                    }
                } else {
                    Endpoint {
                        addr,
                        base: format!("http://{addr}"),
                        client: self.clients.client("", addr),
                    }
                };
                if !found
                    .iter()
                    .any(|e| e.addr == addr && e.base == endpoint.base)
                {
                    found.push(endpoint);
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_and_addresses_resolve_and_take_turns() {
        let targets = vec![
            Target::parse("127.0.0.1:5000").unwrap(),
            Target::parse("localhost:5001").unwrap(),
        ];
        let addresses = Addresses::follow(targets, vec![], clients()).await;
        assert!(addresses.count() >= 2);
        let first = addresses.next().unwrap();
        let second = addresses.next().unwrap();
        assert_ne!(first.addr, second.addr);
        assert_eq!(
            first.base, "http://127.0.0.1:5000",
            "plain: the address itself"
        );
        let none = Addresses::follow(
            vec![Target::parse("no-such-host.invalid:1").unwrap()],
            vec![],
            clients(),
        )
        .await;
        assert!(none.next().is_none());
    }

    fn clients() -> Clients {
        Clients::new(Duration::from_secs(1), None)
    }

    #[tokio::test]
    async fn resolved_names_take_the_given_addresses_and_keep_their_name() {
        let targets = vec![Target::parse("https://pets.example.com").unwrap()];
        let resolve = vec![Resolve::parse("pets.example.com:443:127.0.0.2,127.0.0.3").unwrap()];
        let addresses = Addresses::follow(targets, resolve, clients()).await;
        assert_eq!(addresses.count(), 2, "no lookup of the name");
        let (a, b) = (addresses.next().unwrap(), addresses.next().unwrap());
        assert_eq!(a.addr.to_string(), "127.0.0.2:443");
        assert_eq!(b.addr.to_string(), "127.0.0.3:443");
        assert_eq!(a.base, "https://pets.example.com:443");
        assert_eq!(addresses.next().unwrap().addr, a.addr, "in turn");
    }
}
