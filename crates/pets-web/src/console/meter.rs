//! The availability meter: "did anybody notice?" answered on the console.
//!
//! `pets load` publishes its figures through the store every second; this
//! module turns every driver's last five minutes into one [`MeterView`]: the
//! sums ("0 of 12,400 requests failed"), each driver's totals since it
//! started, and the chart's geometry, in two panels with an axis each: the
//! request rate as bars (the failed part of each bar in red, with a mark
//! above it) in requests a second, and below it the share that succeeded as
//! a line from 0 to 100%. The geometry is computed here, so the page drawn
//! on the server and the live script (which only copies numbers into the
//! SVG) cannot disagree.
//! `GET /api/meter` serves the view; the event stream sends it as `meter`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use pets_store::meter::WINDOW_S;
use pets_store::{unix_now, Meter, MeterSecond, Store};
use serde::Serialize;
use time::OffsetDateTime;

/// The chart's panels inside its SVG view box (see `admin.html`): the rate
/// above, the share that succeeded below, both 600 wide from `PLOT_X`.
const PLOT_X: u64 = 48;
const PLOT_Y: u64 = 14;
const PLOT_HEIGHT: u64 = 100;
const SHARE_Y: u64 = 140;
const SHARE_HEIGHT: u64 = 50;
/// Pixels per second: 300 s over 600 px.
const STEP: u64 = 2;
/// The smallest failure mark, so that one failed request still shows.
const MIN_FAIL_HEIGHT: u64 = 2;
/// A driver that wrote within this many seconds is still running.
const RUNNING_WITHIN_S: u64 = 5;
/// The rate shown as "now" is the mean over this many full seconds.
const RATE_OVER_S: u64 = 5;

/// The meter as the console shows it.
#[derive(Debug, Serialize, PartialEq)]
pub struct MeterView {
    /// Whether any driver has figures in the window.
    pub active: bool,
    pub window_s: u64,
    pub requests: u64,
    pub failed: u64,
    /// Successes in the window, as a percentage with three decimals and its
    /// sign (`99.991%`); a dash when nothing was sent.
    pub ok_percent: String,
    /// Requests a second over the last few seconds.
    pub rate: u64,
    /// One sentence: what failed in the window, or that nothing measures.
    pub summary: String,
    pub drivers: Vec<DriverView>,
    pub chart: Chart,
}

/// One traffic driver, since it started.
#[derive(Debug, Serialize, PartialEq)]
pub struct DriverView {
    pub driver: String,
    pub targets: String,
    pub running: bool,
    pub requests: u64,
    pub failed: u64,
    /// "0 of 12,400 requests failed since 14:02:11 UTC (running)".
    pub summary: String,
}

/// What the SVG draws, in view-box units.
#[derive(Debug, Serialize, PartialEq)]
pub struct Chart {
    /// The rate the top of the plot stands for.
    pub max_rate: u64,
    /// One per second with requests: the whole bar, and its failed part.
    pub bars: Vec<Bar>,
    pub fails: Vec<Bar>,
    /// Success % as an SVG path (`M`/`L`), broken where nothing was sent.
    pub line: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Bar {
    pub x: u64,
    pub y: u64,
    pub h: u64,
}

impl MeterView {
    /// The view of `meter` for the window ending at `now` (Unix seconds).
    pub fn new(meter: &Meter, now: u64) -> Self {
        let seconds = meter.per_second(now);
        let requests: u64 = seconds.iter().map(|s| s.requests).sum();
        let failed: u64 = seconds.iter().map(|s| s.failed).sum();
        let ok = seconds.iter().map(|s| s.ok).sum::<u64>();
        let recent = &seconds[seconds.len().saturating_sub(RATE_OVER_S as usize + 1)..];
        // The last second is still being counted by the drivers: left out.
        let full = &recent[..recent.len().saturating_sub(1)];
        let rate = full.iter().map(|s| s.requests).sum::<u64>() / full.len().max(1) as u64;
        let drivers: Vec<DriverView> = meter
            .current(now)
            .map(|d| {
                let running = !d.finished && d.updated + RUNNING_WITHIN_S >= now;
                DriverView {
                    driver: d.driver.clone(),
                    targets: d.targets.clone(),
                    running,
                    requests: d.requests,
                    failed: d.failed,
                    summary: format!(
                        "{} of {} requests failed since {} UTC ({})",
                        thousands(d.failed),
                        thousands(d.requests),
                        clock(d.started),
                        if running { "running" } else { "stopped" }
                    ),
                }
            })
            .collect();
        let active = !drivers.is_empty();
        let summary = if active {
            format!(
                "{} of {} requests failed in the last {} minutes",
                thousands(failed),
                thousands(requests),
                WINDOW_S / 60
            )
        } else {
            "Nothing to measure yet: no traffic driver has sent anything in the last 5 minutes."
                .to_owned()
        };
        Self {
            active,
            window_s: WINDOW_S,
            requests,
            failed,
            ok_percent: percent(ok, requests),
            rate,
            summary,
            drivers,
            chart: Chart::new(&seconds),
        }
    }
}

impl Chart {
    fn new(seconds: &[MeterSecond]) -> Self {
        let peak = seconds.iter().map(|s| s.requests).max().unwrap_or(0);
        let max_rate = nice_ceiling(peak);
        let height = |n: u64| (n * PLOT_HEIGHT).div_ceil(max_rate);
        let mut bars = Vec::new();
        let mut fails = Vec::new();
        let mut line = String::new();
        let mut drawing = false;
        for (i, s) in seconds.iter().enumerate() {
            let x = PLOT_X + i as u64 * STEP;
            if s.requests == 0 {
                drawing = false;
                continue;
            }
            let h = height(s.requests);
            let bottom = PLOT_Y + PLOT_HEIGHT;
            bars.push(Bar {
                x,
                y: bottom - h,
                h,
            });
            if s.failed > 0 {
                let fh = height(s.failed)
                    .max(MIN_FAIL_HEIGHT)
                    .min(h.max(MIN_FAIL_HEIGHT));
                fails.push(Bar {
                    x,
                    y: bottom - h.max(fh),
                    h: fh,
                });
            }
            let y = SHARE_Y + (s.requests - s.ok) * SHARE_HEIGHT / s.requests;
            line.push_str(&format!(
                "{}{} {} ",
                if drawing { "L" } else { "M" },
                x + STEP / 2,
                y
            ));
            drawing = true;
        }
        Self {
            max_rate,
            bars,
            fails,
            line: line.trim_end().to_owned(),
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `n` (and at least 10).
fn nice_ceiling(n: u64) -> u64 {
    let mut scale = 10;
    loop {
        for step in [1, 2, 5] {
            if step * scale >= n {
                return step * scale;
            }
        }
        scale *= 10;
    }
}

/// `12400` as `12,400`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `ok` of `all` as a percentage with three decimals, never rounded up to
/// 100 while anything failed; a dash with nothing sent, which is no success.
fn percent(ok: u64, all: u64) -> String {
    if all == 0 {
        return "–".to_owned();
    }
    if ok == all {
        return "100.000%".to_owned();
    }
    let thousandths = ok * 100_000 / all;
    format!("{}.{:03}%", thousandths / 1000, thousandths % 1000)
}

/// A Unix second as `HH:MM:SS` (UTC).
fn clock(unix: u64) -> String {
    OffsetDateTime::from_unix_timestamp(unix as i64).map_or_else(
        |_| unix.to_string(),
        |t| format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
    )
}

pub async fn json(State(store): State<Arc<dyn Store>>) -> Json<MeterView> {
    Json(MeterView::new(&store.meter(), unix_now()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pets_store::DriverSeries;

    fn meter(seconds: &[(u64, u64, u64)], finished: bool) -> Meter {
        let mut d = DriverSeries::new("load-x".into(), "tasks.web:5000".into(), 1_000);
        for &(at, requests, failed) in seconds {
            d.push(MeterSecond {
                at,
                requests,
                ok: requests - failed,
                failed,
                p99_ms: 4,
            });
        }
        d.finished = finished;
        Meter { drivers: vec![d] }
    }

    #[test]
    fn no_driver_says_how_to_start_one() {
        let view = MeterView::new(&Meter::default(), 5_000);
        assert!(!view.active);
        assert!(
            view.summary.contains("Nothing to measure"),
            "{}",
            view.summary
        );
        assert!(!view.summary.contains('`'), "plain words: {}", view.summary);
        assert!(view.chart.bars.is_empty() && view.chart.line.is_empty());
        assert_eq!(view.ok_percent, "–", "no 100% of nothing");
    }

    #[test]
    fn failures_are_counted_marked_and_never_rounded_away() {
        let mut seconds: Vec<(u64, u64, u64)> = (1_001..=1_100).map(|t| (t, 124, 0)).collect();
        seconds[49].2 = 1;
        let view = MeterView::new(&meter(&seconds, false), 1_110);
        assert_eq!((view.requests, view.failed), (12_400, 1));
        assert_eq!(
            view.summary,
            "1 of 12,400 requests failed in the last 5 minutes"
        );
        assert_eq!(view.ok_percent, "99.991%");
        assert_eq!(view.chart.max_rate, 200);
        assert_eq!(view.chart.bars.len(), 100);
        assert_eq!(view.chart.fails.len(), 1, "the one failed second is marked");
        assert_eq!(view.chart.fails[0].h, MIN_FAIL_HEIGHT);
        assert_eq!(view.chart.fails[0].x, view.chart.bars[49].x);
        assert_eq!(
            view.drivers[0].summary.split(" since").next(),
            Some("1 of 12,400 requests failed")
        );
        assert!(!view.drivers[0].running, "silent for 10 s: stopped");
    }

    #[test]
    fn a_running_driver_shows_its_rate_and_a_line_broken_by_silence() {
        let seconds = [
            (1_290, 50, 0),
            (1_291, 50, 25),
            (1_295, 40, 0),
            (1_296, 60, 0),
            (1_297, 50, 0),
            (1_298, 50, 0),
            (1_299, 50, 0),
            (1_300, 7, 0),
        ];
        let view = MeterView::new(&meter(&seconds, false), 1_300);
        assert!(view.drivers[0].running);
        assert_eq!(view.rate, 50, "the last five full seconds");
        assert_eq!(
            view.chart.line.matches('M').count(),
            2,
            "{}",
            view.chart.line
        );
        // The half-failed second is drawn halfway down the share's panel.
        assert!(view
            .chart
            .line
            .contains(&format!(" {}", SHARE_Y + SHARE_HEIGHT / 2)));
        assert!(
            view.chart
                .bars
                .iter()
                .all(|b| b.y >= PLOT_Y && b.y + b.h <= PLOT_Y + PLOT_HEIGHT),
            "bars in the rate's panel"
        );
        let finished = MeterView::new(&meter(&seconds, true), 1_300);
        assert!(!finished.drivers[0].running);
        assert!(finished.drivers[0].summary.ends_with("(stopped)"));
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(12_400), "12,400");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(percent(99_999, 100_000), "99.999%");
        assert_eq!(
            percent(999_999, 1_000_000),
            "99.999%",
            "never 100 while one failed"
        );
        assert_eq!(nice_ceiling(0), 10);
        assert_eq!(nice_ceiling(124), 200);
        assert_eq!(nice_ceiling(501), 1000);
        assert_eq!(clock(3_661), "01:01:01");
    }
}
