//! Failed admin logins, slowed down and then refused for a while.
//!
//! Counted per client: an IPv4 address, or an IPv6 /64 (one host usually
//! holds a whole /64, so counting single IPv6 addresses would give an
//! attacker endless fresh ones). The client is read through the trusted
//! proxies (see [`client`](crate::auth::client)). The table is bounded: past
//! [`MAX_CLIENTS`] the client that failed least recently is forgotten, in
//! constant time. A ceiling on failures per minute for the whole service,
//! shared by replicas through the store, is checked by the login handler.
//!
//! A lockout lasts at most [`MAX_LOCKOUT`], after which the client gets one
//! more try, so the right password is never refused for longer than that
//! unless someone sharing its address keeps failing (see docs/SECURITY.md).

use pets_store::sync::Locked;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before a client must wait.
const FREE_FAILURES: u32 = 5;
/// The longest wait imposed.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(60);
/// Failures older than this are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Added to every failed attempt, so guessing is slow even before lockout.
pub const FAILURE_DELAY: Duration = Duration::from_millis(300);
/// Clients remembered at most.
pub const MAX_CLIENTS: usize = 10_000;

/// A client as the throttle counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Self(addr),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Self(IpAddr::V6(prefix.into()))
                }
            },
        }
    }
}

#[derive(Default)]
pub struct LoginThrottle {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    by_client: HashMap<ClientKey, Record>,
    /// Failures in the order they happened; an entry older than its
    /// client's last failure is stale and skipped.
    order: VecDeque<(ClientKey, Instant)>,
}

#[derive(Clone, Copy)]
struct Record {
    count: u32,
    last: Instant,
}

impl LoginThrottle {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.locked()
    }

    /// `Err(seconds)` while the client must wait.
    pub fn check(&self, client: ClientKey) -> Result<(), u64> {
        let table = self.table();
        match table.by_client.get(&client) {
            Some(record) if record.count >= FREE_FAILURES => {
                let wait = lockout(record.count);
                let elapsed = record.last.elapsed();
                if elapsed < wait {
                    Err((wait - elapsed).as_secs().max(1))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, client: ClientKey) {
        let mut table = self.table();
        let now = Instant::now();
        let record = table.by_client.entry(client).or_insert(Record {
            count: 0,
            last: now,
        });
        if record.last.elapsed() > FORGET_AFTER {
            record.count = 0;
        }
        record.count += 1;
        record.last = now;
        table.order.push_back((client, now));
        table.forget();
    }

    pub fn succeeded(&self, client: ClientKey) {
        self.table().by_client.remove(&client);
    }

    /// Clients remembered now.
    pub fn len(&self) -> usize {
        self.table().by_client.len()
    }

    /// Whether no client is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Table {
    /// Forgets clients whose failures are old, then the least recent ones
    /// while there are too many; stale queue entries go on the way.
    fn forget(&mut self) {
        while let Some(&(client, at)) = self.order.front() {
            let current = self.by_client.get(&client).map(|r| r.last);
            let stale = current != Some(at);
            let too_old = at.elapsed() > FORGET_AFTER;
            let too_many = self.by_client.len() > MAX_CLIENTS;
            if !(stale || too_old || too_many) {
                break;
            }
            self.order.pop_front();
            if !stale {
                self.by_client.remove(&client);
            }
        }
    }
}

fn lockout(count: u32) -> Duration {
    let doublings = (count - FREE_FAILURES).min(6);
    (Duration::from_secs(1) * 2u32.pow(doublings)).min(MAX_LOCKOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ClientKey {
        ClientKey::of(s.parse().unwrap())
    }

    #[test]
    fn repeated_failures_lock_a_client_out() {
        let throttle = LoginThrottle::default();
        let client = key("10.1.2.3");
        for _ in 0..FREE_FAILURES {
            assert!(throttle.check(client).is_ok());
            throttle.failed(client);
        }
        assert!(throttle.check(client).is_err());
        assert!(throttle.check(key("10.1.2.4")).is_ok());
        throttle.succeeded(client);
        assert!(throttle.check(client).is_ok());
    }

    #[test]
    fn an_ipv6_host_counts_as_its_64() {
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:10.0.0.1"), key("10.0.0.1"));
    }

    #[test]
    fn the_table_stays_bounded_and_forgets_the_least_recent() {
        let throttle = LoginThrottle::default();
        let first = key("10.0.0.1");
        throttle.failed(first);
        for n in 0..(MAX_CLIENTS as u32 + 500) {
            let addr = std::net::Ipv4Addr::from(0x0b00_0000 + n);
            throttle.failed(ClientKey::of(addr.into()));
        }
        assert!(throttle.len() <= MAX_CLIENTS, "{}", throttle.len());
        assert!(throttle.table().order.len() <= MAX_CLIENTS + 1);
        assert!(!throttle.table().by_client.contains_key(&first));
    }

    #[test]
    fn lockouts_double_up_to_a_minute() {
        assert_eq!(lockout(FREE_FAILURES), Duration::from_secs(1));
        assert_eq!(lockout(FREE_FAILURES + 3), Duration::from_secs(8));
        assert_eq!(lockout(FREE_FAILURES + 40), MAX_LOCKOUT);
    }
}
