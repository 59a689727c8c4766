//! The addresses behind the targets, looked up again every few seconds: a
//! name like `tasks.web` stands for every Swarm task, and tasks come and go
//! during an update. Requests take the addresses in turn.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::options::Target;
use pets_store::sync::ReadWrite;

/// How often names are looked up again.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct Addresses {
    current: Arc<RwLock<Vec<SocketAddr>>>,
    turn: Arc<AtomicUsize>,
}

impl Addresses {
    /// Looks the targets up now, then every [`RESOLVE_EVERY`] while the
    /// returned value lives. Addresses that cannot be found now are kept
    /// from the last look.
    pub async fn follow(targets: Vec<Target>) -> Self {
        let addresses = Self {
            current: Arc::default(),
            turn: Arc::default(),
        };
        addresses.refresh(&targets).await;
        let weak = Arc::downgrade(&addresses.current);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RESOLVE_EVERY).await;
                let Some(current) = weak.upgrade() else {
                    return;
                };
                let found = resolve(&targets).await;
                if !found.is_empty() {
                    *current.write_now() = found;
                }
            }
        });
        addresses
    }

    async fn refresh(&self, targets: &[Target]) {
        let found = resolve(targets).await;
        *self.current.write_now() = found;
    }

    /// The next address in turn, if any is known.
    pub fn next(&self) -> Option<SocketAddr> {
        let current = self.current.read_now();
        if current.is_empty() {
            return None;
        }
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        Some(current[turn % current.len()])
    }

    pub fn count(&self) -> usize {
        self.current.read_now().len()
    }
}

async fn resolve(targets: &[Target]) -> Vec<SocketAddr> {
    let mut found = Vec::new();
    for target in targets {
        if let Ok(addrs) = tokio::net::lookup_host((target.host.as_str(), target.port)).await {
            for addr in addrs {
                if !found.contains(&addr) {
                    found.push(addr);
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_and_addresses_resolve_and_take_turns() {
        let targets = vec![
            Target {
                host: "127.0.0.1".into(),
                port: 5000,
            },
            Target {
                host: "localhost".into(),
                port: 5001,
            },
        ];
        let addresses = Addresses::follow(targets).await;
        assert!(addresses.count() >= 2);
        let first = addresses.next().unwrap();
        let second = addresses.next().unwrap();
        assert_ne!(first, second);
        let none = Addresses::follow(vec![Target {
            host: "no-such-host.invalid".into(),
            port: 1,
        }])
        .await;
        assert_eq!(none.next(), None);
    }
}
