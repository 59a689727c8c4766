//! What the Consul client measures for `/metrics`: the latency of each kind
//! of call, and failures by kind (nothing sent, or outcome unknown).

use std::time::Duration;

use prometheus::{exponential_buckets, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct ConsulMetrics {
    calls: HistogramVec,
    failures: IntCounterVec,
}

impl Default for ConsulMetrics {
    fn default() -> Self {
        // 0.5 ms to about 4 s.
        let buckets = exponential_buckets(0.0005, 2.0, 14).expect("valid buckets");
        Self {
            calls: HistogramVec::new(
                HistogramOpts::new(
                    "pets_consul_call_duration_seconds",
                    "Consul HTTP calls by kind (txn, read, watch, session, cluster), answered or not",
                )
                .buckets(buckets),
                &["op"],
            )
            .expect("valid metric"),
            failures: IntCounterVec::new(
                Opts::new(
                    "pets_consul_call_failures_total",
                    "Consul calls that failed, by kind: not_sent (nothing applied) or unknown (outcome open)",
                ),
                &["op", "kind"],
            )
            .expect("valid metric"),
        }
    }
}

impl ConsulMetrics {
    pub fn register(&self, registry: &Registry) {
        let _ = registry.register(Box::new(self.calls.clone()));
        let _ = registry.register(Box::new(self.failures.clone()));
    }

    pub fn observe(&self, path: &str, took: Duration, failure: Option<&'static str>) {
        let op = kind(path);
        self.calls
            .with_label_values(&[op])
            .observe(took.as_secs_f64());
        if let Some(kind) = failure {
            self.failures.with_label_values(&[op, kind]).inc();
        }
    }
}

/// The kind of call a path is.
fn kind(path: &str) -> &'static str {
    if path.starts_with("/v1/txn") {
        "txn"
    } else if path.starts_with("/v1/kv/") && path.contains("index=") {
        "watch"
    } else if path.starts_with("/v1/kv/") {
        "read"
    } else if path.starts_with("/v1/session/") {
        "session"
    } else {
        "cluster"
    }
}
