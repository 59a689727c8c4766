//! What `pets load` prints: on a terminal, a live line every second and a
//! table at the end; with `--json`, one JSON object a line (one a second,
//! then the final report, marked `"final": true`). Both give the successful
//! answers by version and by replica (`by_version`, `by_replica`).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde_json::json;

use crate::tally::Counts;

/// The report of a whole run.
#[derive(Debug)]
pub struct Report {
    pub total: Counts,
    pub elapsed: Duration,
    /// Visitors whose vote was accepted at least once: what the tally
    /// counts (a visitor voting again moves their vote, it adds none).
    pub voters: u64,
    /// By round (as the answers named it): what that round must count.
    pub rounds: BTreeMap<u64, RoundTally>,
}

/// What one round must count of this driver's visitors: each visitor's
/// last accepted vote in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundTally {
    pub voters: u64,
    /// Votes for a, b and c.
    pub votes: [u64; 3],
}

impl Report {
    pub fn json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(&self.total).expect("counts serialize");
        value["latency_ms"] = json!(self.total.latency());
        value["seconds"] = json!(self.elapsed.as_secs_f64());
        value["voters"] = json!(self.voters);
        value["rounds"] = self
            .rounds
            .iter()
            .map(|(round, t)| {
                let [a, b, c] = t.votes;
                json!({ "round": round, "voters": t.voters, "votes": { "a": a, "b": b, "c": c } })
            })
            .collect();
        value["final"] = json!(true);
        value
    }
}

/// Prints one second's figures.
pub fn second(json: bool, at: u64, counts: &Counts, addresses: usize) {
    if json {
        let mut value = serde_json::to_value(counts).expect("counts serialize");
        value["second"] = json!(at);
        value["latency_ms"] = json!(counts.latency());
        value["addresses"] = json!(addresses);
        println!("{value}");
    } else if std::io::stderr().is_terminal() {
        let latency = counts.latency();
        let errors: u64 = counts.errors.values().sum();
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r{at:>5}s  {:>6} req/s  {:>6.2}% ok  p99 {:>8.1} ms  {errors:>5} errors  {addresses} {} ",
            counts.requests,
            counts.success_percent(),
            latency.p99,
            if addresses == 1 { "address" } else { "addresses" },
        );
        let _ = err.flush();
    }
}

/// Counts by name on one line (`1.0: 2013  2.0: 2089`), or `none`.
pub fn split(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(name, n)| format!("{name}: {n}"))
        .collect();
    parts.join("  ")
}

/// Prints the final report.
pub fn finish(json: bool, report: &Report) {
    if json {
        println!("{}", report.json());
        return;
    }
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let t = &report.total;
    let latency = t.latency();
    println!("pets load: {:.1} s", report.elapsed.as_secs_f64());
    println!("  requests        {:>10}", t.requests);
    println!(
        "  ok              {:>10}  ({:.3}%)",
        t.ok,
        t.success_percent()
    );
    println!("  failed          {:>10}", t.failed);
    println!("  pages ok        {:>10}", t.pages_ok);
    println!(
        "  votes accepted  {:>10}  ({} voters)",
        t.votes_accepted, report.voters
    );
    for (round, tally) in &report.rounds {
        let [a, b, c] = tally.votes;
        println!(
            "  round {round:<9} {:>10} voters  (a {a}, b {b}, c {c})",
            tally.voters
        );
    }
    for (kind, n) in &t.errors {
        println!("  error {kind:<10}{n:>10}");
    }
    println!("  by version      {}", split(&t.by_version));
    println!("  by replica      {}", split(&t.by_replica));
    for (addr, n) in &t.sent_to {
        let failed = t.failed_at.get(addr).copied().unwrap_or(0);
        println!("  to {addr:<21} {n:>10}  ({failed} failed)");
    }
    println!(
        "  latency ms      p50 {:.1}  p99 {:.1}  max {:.1}",
        latency.p50, latency.p99, latency.max
    );
    println!("  {} of {} requests failed", t.failed, t.requests);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tally::{AnsweredBy, Outcome};

    #[test]
    fn the_report_splits_successes_by_version_and_replica() {
        let mut total = Counts::default();
        for (version, replica) in [("1.0", "web-a"), ("2.0", "web-b"), ("2.0", "web-b")] {
            let by = AnsweredBy {
                version: Some(version.into()),
                replica: Some(replica.into()),
            };
            total.record_by(&Outcome::PageOk, &by, Duration::from_millis(1));
        }
        assert_eq!(split(&total.by_version), "1.0: 1  2.0: 2");
        assert_eq!(split(&BTreeMap::new()), "none");
        let report = Report {
            total,
            elapsed: Duration::from_secs(1),
            voters: 0,
            rounds: BTreeMap::new(),
        };
        let json = report.json();
        assert_eq!(json["by_version"], json!({"1.0": 1, "2.0": 2}));
        assert_eq!(json["by_replica"], json!({"web-a": 1, "web-b": 2}));
    }
}
