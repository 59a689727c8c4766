//! How often one client may do something costly, such as becoming a new
//! voter: a token bucket per client (an IPv4 address or an IPv6 /64, as
//! [`ClientKey`] counts them), holding up to a minute's allowance and
//! refilled evenly, so a room behind one address can arrive at once and a
//! flood from one address is held to the rate.
//!
//! The table is bounded: past [`MAX_CLIENTS`], clients whose buckets are full
//! again (nothing to remember) are forgotten; if every one is still
//! draining, a new client goes uncounted rather than being refused for
//! others' sake, and that is logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::auth::throttle::ClientKey;
use pets_store::sync::Locked;

/// Clients remembered at most.
pub const MAX_CLIENTS: usize = 10_000;

/// Events per minute per client; `0` for no limit.
pub struct PerClientRate {
    per_minute: u64,
    table: Mutex<HashMap<ClientKey, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl PerClientRate {
    pub fn per_minute(per_minute: u64) -> Self {
        Self {
            per_minute,
            table: Mutex::default(),
        }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let rate = self.per_minute as f64 / 60.0;
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * rate).min(self.per_minute as f64)
    }

    /// Takes one event for `client` now, or says how long until one fits.
    pub fn admit(&self, client: ClientKey) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut table = self.table.locked();
        if !table.contains_key(&client) && table.len() >= MAX_CLIENTS {
            let full = self.per_minute as f64;
            table.retain(|_, b| self.refilled(*b, now) < full);
            if table.len() >= MAX_CLIENTS {
                tracing::warn!(
                    clients = MAX_CLIENTS,
                    "too many clients to count new voters for; one goes uncounted"
                );
                return Ok(());
            }
        }
        let capacity = self.per_minute as f64;
        let bucket = table.entry(client).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            let per_second = self.per_minute as f64 / 60.0;
            Err(Duration::from_secs_f64((1.0 - tokens) / per_second).max(Duration::from_secs(1)))
        }
    }

    /// Clients remembered now.
    pub fn len(&self) -> usize {
        self.table.locked().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(n: u32) -> ClientKey {
        ClientKey::of(std::net::IpAddr::from(n.to_be_bytes()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_minutes_allowance_at_once_then_the_rate() {
        let rate = PerClientRate::per_minute(60);
        for _ in 0..60 {
            rate.admit(client(1)).unwrap();
        }
        let wait = rate.admit(client(1)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert!(rate.admit(client(2)).is_ok(), "others are not held");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(rate.admit(client(1)).is_ok(), "one a second after that");
        assert!(rate.admit(client(1)).is_err());
        assert!(PerClientRate::per_minute(0).admit(client(1)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_forgets_clients_with_nothing_left_to_remember() {
        let rate = PerClientRate::per_minute(2);
        for n in 0..MAX_CLIENTS as u32 {
            rate.admit(client(n)).unwrap();
        }
        assert_eq!(rate.len(), MAX_CLIENTS);
        // Still draining: the newcomer goes uncounted, nobody is refused.
        assert!(rate.admit(client(u32::MAX)).is_ok());
        assert_eq!(rate.len(), MAX_CLIENTS);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(rate.admit(client(u32::MAX)).is_ok());
        assert_eq!(rate.len(), 1, "full buckets forgotten");
    }
}
