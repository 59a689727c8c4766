//! How often creations may happen: a sliding window of creation times, one
//! per client address and one for everyone.
//!
//! Times are `tokio::time::Instant`, so tests can move the clock with
//! `tokio::time::pause()` and `advance`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

/// A window of `limit` events per `period`.
#[derive(Debug)]
struct Window {
    limit: usize,
    period: Duration,
    events: VecDeque<Instant>,
}

impl Window {
    fn new(limit: u32, period: Duration) -> Self {
        Self {
            limit: limit as usize,
            period,
            events: VecDeque::new(),
        }
    }

    /// `None` if one more event fits now, else how long until one does.
    fn wait(&mut self, now: Instant) -> Option<Duration> {
        while self
            .events
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.period)
        {
            self.events.pop_front();
        }
        (self.events.len() >= self.limit).then(|| self.period - now.duration_since(self.events[0]))
    }
}

/// The two windows creations pass through.
#[derive(Debug)]
pub struct CreationLimits {
    per_client: HashMap<IpAddr, Window>,
    client_limit: u32,
    everyone: Window,
}

/// Why a creation must wait, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooMany {
    FromYou(Duration),
    FromEveryone(Duration),
}

const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

impl CreationLimits {
    pub fn new(per_client_per_hour: u32, per_minute: u32) -> Self {
        Self {
            per_client: HashMap::new(),
            client_limit: per_client_per_hour,
            everyone: Window::new(per_minute, MINUTE),
        }
    }

    /// Counts a creation by `client` at `now`, or says why it must wait.
    pub fn admit(&mut self, client: IpAddr, now: Instant) -> Result<(), TooMany> {
        // Forget clients whose windows are empty, so the map stays as small
        // as the last hour's clients.
        self.per_client.retain(|_, w| {
            w.wait(now);
            !w.events.is_empty()
        });
        let mine = self
            .per_client
            .entry(client)
            .or_insert_with(|| Window::new(self.client_limit, HOUR));
        if let Some(wait) = mine.wait(now) {
            return Err(TooMany::FromYou(wait));
        }
        if let Some(wait) = self.everyone.wait(now) {
            return Err(TooMany::FromEveryone(wait));
        }
        mine.events.push_back(now);
        self.everyone.events.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_gets_its_share_per_hour() {
        let mut limits = CreationLimits::new(2, 100);
        let now = Instant::now();
        assert!(limits.admit(ip(1), now).is_ok());
        assert!(limits.admit(ip(1), now).is_ok());
        assert_eq!(limits.admit(ip(1), now), Err(TooMany::FromYou(HOUR)));
        assert!(
            limits.admit(ip(2), now).is_ok(),
            "another client is not held back"
        );
        tokio::time::advance(HOUR).await;
        assert!(
            limits.admit(ip(1), Instant::now()).is_ok(),
            "the window slid"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn everyone_together_is_capped_per_minute() {
        let mut limits = CreationLimits::new(10, 3);
        for n in 0..3 {
            assert!(limits.admit(ip(n), Instant::now()).is_ok());
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        assert_eq!(
            limits.admit(ip(9), Instant::now()),
            Err(TooMany::FromEveryone(Duration::from_secs(30)))
        );
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(limits.admit(ip(9), Instant::now()).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_creation_is_not_counted() {
        let mut limits = CreationLimits::new(1, 1);
        assert!(limits.admit(ip(1), Instant::now()).is_ok());
        assert!(limits.admit(ip(2), Instant::now()).is_err());
        tokio::time::advance(MINUTE).await;
        assert!(
            limits.admit(ip(2), Instant::now()).is_ok(),
            "ip 2's refusal left no trace"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn old_clients_are_forgotten() {
        let mut limits = CreationLimits::new(5, 1000);
        for n in 0..100 {
            limits.admit(ip(n), Instant::now()).unwrap();
        }
        tokio::time::advance(HOUR).await;
        limits.admit(ip(1), Instant::now()).unwrap();
        assert_eq!(limits.per_client.len(), 1);
    }
}
