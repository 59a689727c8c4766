//! Every outcome counted: successes (pages answered 200, votes answered
//! 303), failures by kind (`http_<code>`, `timeout`, `refused`, `reset`,
//! `no_address`, `overload`, `other`), and latency in a histogram per second
//! and for the whole run. Successes are also counted by the version and the
//! replica that answered, as the voter site's `X-Pets-Version` and
//! `X-Pets-Replica` headers name them (an answer without one is in neither
//! count; a failure is in neither). Requests and failures are also counted
//! by the address they went to, so a router lost under load shows apart
//! from the others.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use pets_store::meter::add_counts;
use serde::Serialize;

/// What one request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    PageOk,
    VoteAccepted,
    /// Another 2xx or 3xx: fine, but neither of the above.
    OtherOk,
    Failed(String),
}

/// Counts over some span of time.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    pub pages_ok: u64,
    pub votes_accepted: u64,
    pub errors: BTreeMap<String, u64>,
    /// Successful answers by `X-Pets-Version`.
    pub by_version: BTreeMap<String, u64>,
    /// Successful answers by `X-Pets-Replica`.
    pub by_replica: BTreeMap<String, u64>,
    /// Requests by the address they went to (`10.0.0.2:443`).
    pub sent_to: BTreeMap<String, u64>,
    /// Failed requests by the address they went to.
    pub failed_at: BTreeMap<String, u64>,
    #[serde(skip)]
    latency: Histogram<u64>,
}

/// Who gave an answer, as its headers say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnsweredBy {
    pub version: Option<String>,
    pub replica: Option<String>,
}

impl AnsweredBy {
    /// What `headers` say (values that are not text are ignored).
    pub fn from_headers(headers: &reqwest::header::HeaderMap) -> Self {
        let named = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Self {
            version: named("x-pets-version"),
            replica: named("x-pets-replica"),
        }
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Default for Counts {
    fn default() -> Self {
        Self {
            requests: 0,
            ok: 0,
            failed: 0,
            pages_ok: 0,
            votes_accepted: 0,
            errors: BTreeMap::new(),
            by_version: BTreeMap::new(),
            by_replica: BTreeMap::new(),
            sent_to: BTreeMap::new(),
            failed_at: BTreeMap::new(),
            // Microseconds, 1 us to 10 min, 3 significant figures.
            latency: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
        }
    }
}

impl Counts {
    pub fn record(&mut self, outcome: &Outcome, took: Duration) {
        self.requests += 1;
        match outcome {
            Outcome::PageOk => self.pages_ok += 1,
            Outcome::VoteAccepted => self.votes_accepted += 1,
            Outcome::OtherOk => {}
            Outcome::Failed(kind) => {
                self.failed += 1;
                *self.errors.entry(kind.clone()).or_default() += 1;
                self.latency_sample(took);
                return;
            }
        }
        self.ok += 1;
        self.latency_sample(took);
    }

    /// Records `outcome`, and for a success who gave it.
    pub fn record_by(&mut self, outcome: &Outcome, by: &AnsweredBy, took: Duration) {
        self.record(outcome, took);
        if matches!(outcome, Outcome::Failed(_)) {
            return;
        }
        if let Some(version) = &by.version {
            *self.by_version.entry(version.clone()).or_default() += 1;
        }
        if let Some(replica) = &by.replica {
            *self.by_replica.entry(replica.clone()).or_default() += 1;
        }
    }

    /// Records `outcome` as [`Counts::record_by`] does, and the address
    /// the request went to (none: it had none to go to).
    pub fn record_at(
        &mut self,
        outcome: &Outcome,
        by: &AnsweredBy,
        addr: Option<std::net::SocketAddr>,
        took: Duration,
    ) {
        self.record_by(outcome, by, took);
        if let Some(addr) = addr {
            let addr = addr.to_string();
            if matches!(outcome, Outcome::Failed(_)) {
                *self.failed_at.entry(addr.clone()).or_default() += 1;
            }
            *self.sent_to.entry(addr).or_default() += 1;
        }
    }

    fn latency_sample(&mut self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        self.latency.saturating_record(micros);
    }

    pub fn add(&mut self, other: &Counts) {
        self.requests += other.requests;
        self.ok += other.ok;
        self.failed += other.failed;
        self.pages_ok += other.pages_ok;
        self.votes_accepted += other.votes_accepted;
        add_counts(&mut self.errors, &other.errors);
        add_counts(&mut self.by_version, &other.by_version);
        add_counts(&mut self.by_replica, &other.by_replica);
        add_counts(&mut self.sent_to, &other.sent_to);
        add_counts(&mut self.failed_at, &other.failed_at);
        let _ = self.latency.add(&other.latency);
    }

    pub fn latency(&self) -> Latency {
        let ms = |micros: u64| micros as f64 / 1000.0;
        if self.latency.is_empty() {
            return Latency {
                p50: 0.0,
                p99: 0.0,
                max: 0.0,
            };
        }
        Latency {
            p50: ms(self.latency.value_at_quantile(0.5)),
            p99: ms(self.latency.value_at_quantile(0.99)),
            max: ms(self.latency.max()),
        }
    }

    /// Successes as a percentage of requests (100 with none).
    pub fn success_percent(&self) -> f64 {
        if self.requests == 0 {
            100.0
        } else {
            self.ok as f64 * 100.0 / self.requests as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_by_kind_with_latency() {
        let mut second = Counts::default();
        second.record(&Outcome::PageOk, Duration::from_millis(2));
        second.record(&Outcome::VoteAccepted, Duration::from_millis(8));
        second.record(
            &Outcome::Failed("http_503".into()),
            Duration::from_millis(40),
        );
        let mut total = Counts::default();
        total.add(&second);
        total.add(&second);
        assert_eq!((total.requests, total.ok, total.failed), (6, 4, 2));
        assert_eq!((total.pages_ok, total.votes_accepted), (2, 2));
        assert_eq!(total.errors["http_503"], 2);
        let latency = total.latency();
        assert!(
            (1.9..2.1).contains(&latency.p50) || (7.9..8.1).contains(&latency.p50),
            "{latency:?}"
        );
        assert!((39.9..40.1).contains(&latency.max), "{latency:?}");
        assert!((66.0..67.0).contains(&total.success_percent()));
    }

    fn by(version: Option<&str>, replica: Option<&str>) -> AnsweredBy {
        AnsweredBy {
            version: version.map(str::to_owned),
            replica: replica.map(str::to_owned),
        }
    }

    #[test]
    fn successes_are_counted_by_version_and_replica() {
        let took = Duration::from_millis(1);
        let mut second = Counts::default();
        second.record_by(&Outcome::PageOk, &by(Some("1.0"), Some("web-a")), took);
        second.record_by(
            &Outcome::VoteAccepted,
            &by(Some("2.0"), Some("web-b")),
            took,
        );
        second.record_by(&Outcome::OtherOk, &by(Some("2.0"), Some("web-b")), took);
        second.record_by(&Outcome::PageOk, &by(None, None), took);
        second.record_by(
            &Outcome::Failed("http_503".into()),
            &by(Some("1.0"), Some("web-a")),
            took,
        );
        let mut total = Counts::default();
        total.add(&second);
        total.add(&second);
        let counts = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
            pairs.iter().map(|&(k, n)| (k.to_owned(), n)).collect()
        };
        assert_eq!(total.by_version, counts(&[("1.0", 2), ("2.0", 4)]));
        assert_eq!(total.by_replica, counts(&[("web-a", 2), ("web-b", 4)]));
        assert_eq!(
            (total.ok, total.failed),
            (8, 2),
            "no header: ok all the same"
        );
    }

    #[test]
    fn requests_and_failures_are_counted_by_the_address_they_went_to() {
        let took = Duration::from_millis(1);
        let (a, b) = ("10.0.0.2:443".parse().ok(), "10.0.0.3:443".parse().ok());
        let mut total = Counts::default();
        total.record_at(&Outcome::PageOk, &by(None, None), a, took);
        total.record_at(&Outcome::Failed("refused".into()), &by(None, None), b, took);
        total.record_at(
            &Outcome::Failed("no_address".into()),
            &by(None, None),
            None,
            took,
        );
        let mut sum = Counts::default();
        sum.add(&total);
        assert_eq!(sum.sent_to["10.0.0.2:443"], 1);
        assert_eq!(sum.sent_to["10.0.0.3:443"], 1);
        assert_eq!(sum.failed_at.get("10.0.0.2:443"), None);
        assert_eq!(sum.failed_at["10.0.0.3:443"], 1);
        assert_eq!(
            sum.failed, 2,
            "the failure with no address is counted all the same"
        );
    }

    #[test]
    fn who_answered_is_read_from_the_headers() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(AnsweredBy::from_headers(&headers), AnsweredBy::default());
        headers.insert("x-pets-version", "2.0".parse().unwrap());
        headers.insert("X-Pets-Replica", "c0ffee-1a2b3c".parse().unwrap());
        assert_eq!(
            AnsweredBy::from_headers(&headers),
            by(Some("2.0"), Some("c0ffee-1a2b3c"))
        );
        headers.insert("x-pets-version", "".parse().unwrap());
        assert_eq!(AnsweredBy::from_headers(&headers).version, None);
    }
}
