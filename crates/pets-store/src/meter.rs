//! The availability meter's data: what traffic drivers (`pets load`)
//! measured, second by second, as they publish it through the store for the
//! console.
//!
//! Each driver keeps its own [`DriverSeries`]: its last [`WINDOW_S`] seconds
//! and its totals since it started, rewritten whole every second (one key per
//! driver, one writer per key, so drivers never contend). The console reads
//! every driver's series as a [`Meter`] and adds them up second by second.
//!
//! A second also says which version and which replica answered its
//! successful requests (the voter site's `X-Pets-Version` and
//! `X-Pets-Replica` headers), so the console can show a rolling update as
//! traffic moving from one version to the next. Series written before those
//! figures existed read as seconds with none.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How far back the meter looks, in seconds.
pub const WINDOW_S: u64 = 300;

/// A series not written for this long belongs to a driver that is gone; the
/// console stops showing it once it no longer reaches into the window.
pub const FORGET_AFTER_S: u64 = 3600;

/// One second of one driver's traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterSecond {
    /// The Unix second the figures end at.
    pub at: u64,
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    /// The slowest 1% took at least this long (milliseconds, rounded up).
    pub p99_ms: u64,
    /// Successful answers by the version that gave them (`X-Pets-Version`);
    /// answers without the header are in `ok` only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_version: BTreeMap<String, u64>,
    /// Successful answers by the replica that gave them (`X-Pets-Replica`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_replica: BTreeMap<String, u64>,
}

impl MeterSecond {
    /// Adds `other`'s figures to these (the slowest of the two p99s).
    pub fn add(&mut self, other: &MeterSecond) {
        self.requests += other.requests;
        self.ok += other.ok;
        self.failed += other.failed;
        self.p99_ms = self.p99_ms.max(other.p99_ms);
        add_counts(&mut self.by_version, &other.by_version);
        add_counts(&mut self.by_replica, &other.by_replica);
    }
}

/// Adds each count of `more` to the same name's in `into`.
pub fn add_counts(into: &mut BTreeMap<String, u64>, more: &BTreeMap<String, u64>) {
    for (name, n) in more {
        *into.entry(name.clone()).or_default() += n;
    }
}

/// One driver's figures: its last [`WINDOW_S`] seconds and its totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriverSeries {
    /// The driver's name: its host and a random suffix.
    pub driver: String,
    /// What it sends traffic to, as given on its command line.
    pub targets: String,
    /// Unix seconds: when it started, and when it last wrote this.
    pub started: u64,
    pub updated: u64,
    /// True once it stopped (its last write).
    #[serde(default)]
    pub finished: bool,
    /// Since it started.
    pub requests: u64,
    pub failed: u64,
    /// Oldest first, at most [`WINDOW_S`] of them.
    pub seconds: Vec<MeterSecond>,
}

/// A driver that wrote within this many seconds is still running.
pub const RUNNING_WITHIN_S: u64 = 5;

/// The rate shown as "now" is the mean over this many full seconds.
pub const RATE_OVER_S: u64 = 5;

/// Requests a second "now" in `seconds` (oldest first, one a second, as
/// [`Meter::per_second`] gives them): the mean over the last
/// [`RATE_OVER_S`] full ones, the last second being still counted.
pub fn rate_now(seconds: &[MeterSecond]) -> u64 {
    let recent = &seconds[seconds.len().saturating_sub(RATE_OVER_S as usize + 1)..];
    let full = &recent[..recent.len().saturating_sub(1)];
    full.iter().map(|s| s.requests).sum::<u64>() / full.len().max(1) as u64
}

impl DriverSeries {
    /// Whether it is still sending at `now`: not finished, and heard from
    /// within [`RUNNING_WITHIN_S`].
    pub fn running(&self, now: u64) -> bool {
        !self.finished && self.updated + RUNNING_WITHIN_S >= now
    }

    pub fn new(driver: String, targets: String, started: u64) -> Self {
        Self {
            driver,
            targets,
            started,
            updated: started,
            ..Self::default()
        }
    }

    /// Adds a second's figures, forgetting what fell out of the window.
    pub fn push(&mut self, second: MeterSecond) {
        self.requests += second.requests;
        self.failed += second.failed;
        self.updated = self.updated.max(second.at);
        let oldest = second.at.saturating_sub(WINDOW_S);
        self.seconds.push(second);
        let keep_from = self.seconds.partition_point(|s| s.at <= oldest);
        self.seconds.drain(..keep_from);
    }
}

/// Every driver's series, as the store last read them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meter {
    pub drivers: Vec<DriverSeries>,
}

impl Meter {
    /// The drivers with any figures inside the window ending at `now`.
    pub fn current(&self, now: u64) -> impl Iterator<Item = &DriverSeries> {
        let from = now.saturating_sub(WINDOW_S);
        self.drivers.iter().filter(move |d| d.updated > from)
    }

    /// Every driver's figures added up per second, for the window ending at
    /// `now`: exactly [`WINDOW_S`] entries, oldest first, one a second
    /// (a second nobody measured counts zero).
    pub fn per_second(&self, now: u64) -> Vec<MeterSecond> {
        let first = now.saturating_sub(WINDOW_S - 1);
        let mut seconds: Vec<MeterSecond> = (first..=now)
            .map(|at| MeterSecond {
                at,
                ..MeterSecond::default()
            })
            .collect();
        for driver in self.current(now) {
            for s in &driver.seconds {
                let Some(slot) =
                    s.at.checked_sub(first)
                        .and_then(|i| seconds.get_mut(i as usize))
                else {
                    continue;
                };
                slot.add(s);
            }
        }
        seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(at: u64, requests: u64, failed: u64) -> MeterSecond {
        MeterSecond {
            at,
            requests,
            ok: requests - failed,
            failed,
            p99_ms: 3,
            ..MeterSecond::default()
        }
    }

    #[test]
    fn a_series_keeps_its_window_and_its_totals() {
        let mut series = DriverSeries::new("load-1".into(), "tasks.web".into(), 1000);
        for at in 1001..=1400 {
            series.push(second(at, 10, u64::from(at == 1050)));
        }
        assert_eq!(series.seconds.len() as u64, WINDOW_S);
        assert_eq!(series.seconds[0].at, 1101);
        assert_eq!((series.requests, series.failed), (4000, 1));
        assert_eq!(series.updated, 1400);
    }

    #[test]
    fn drivers_add_up_per_second_and_old_ones_are_left_out() {
        let mut a = DriverSeries::new("a".into(), "t".into(), 1000);
        let mut b = DriverSeries::new("b".into(), "t".into(), 1000);
        let mut gone = DriverSeries::new("gone".into(), "t".into(), 100);
        a.push(second(1010, 10, 0));
        a.push(second(1011, 10, 2));
        b.push(second(1011, 5, 1));
        gone.push(second(200, 99, 99));
        let meter = Meter {
            drivers: vec![a, b, gone],
        };
        assert_eq!(meter.current(1012).count(), 2);
        let seconds = meter.per_second(1012);
        assert_eq!(seconds.len() as u64, WINDOW_S);
        assert_eq!(seconds.last().unwrap().at, 1012);
        let at = |t: u64| seconds.iter().find(|s| s.at == t).cloned().unwrap();
        assert_eq!((at(1011).requests, at(1011).failed), (15, 3));
        assert_eq!(at(1010).requests, 10);
        assert_eq!(seconds.iter().map(|s| s.requests).sum::<u64>(), 25);
    }

    fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|&(k, n)| (k.to_owned(), n)).collect()
    }

    #[test]
    fn versions_and_replicas_add_up_per_second() {
        let mut a = DriverSeries::new("a".into(), "t".into(), 1000);
        let mut b = DriverSeries::new("b".into(), "t".into(), 1000);
        a.push(MeterSecond {
            by_version: counts(&[("1.0", 6), ("2.0", 4)]),
            by_replica: counts(&[("web-1", 6), ("web-2", 4)]),
            ..second(1011, 10, 0)
        });
        b.push(MeterSecond {
            by_version: counts(&[("2.0", 4)]),
            by_replica: counts(&[("web-2", 4)]),
            ..second(1011, 5, 1)
        });
        let meter = Meter {
            drivers: vec![a, b],
        };
        let last = meter.per_second(1011).pop().unwrap();
        assert_eq!(last.by_version, counts(&[("1.0", 6), ("2.0", 8)]));
        assert_eq!(last.by_replica, counts(&[("web-1", 6), ("web-2", 8)]));
        assert_eq!((last.requests, last.ok, last.failed), (15, 14, 1));
    }

    #[test]
    fn a_second_without_versions_reads_and_writes_as_before() {
        let old = r#"{"at":7,"requests":3,"ok":2,"failed":1,"p99_ms":9}"#;
        let second: MeterSecond = serde_json::from_str(old).unwrap();
        assert_eq!(second, {
            let mut expected = self::second(7, 3, 1);
            expected.p99_ms = 9;
            expected
        });
        assert!(second.by_version.is_empty() && second.by_replica.is_empty());
        assert_eq!(
            serde_json::to_string(&second).unwrap(),
            old,
            "no empty maps"
        );
        let new = MeterSecond {
            by_version: counts(&[("2.0", 2)]),
            ..second.clone()
        };
        let json = serde_json::to_string(&new).unwrap();
        assert!(json.contains(r#""by_version":{"2.0":2}"#), "{json}");
        assert_eq!(serde_json::from_str::<MeterSecond>(&json).unwrap(), new);
    }
}
