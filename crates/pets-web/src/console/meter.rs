//! The availability meter: "did anybody notice?" answered on the console.
//!
//! `pets load` publishes its figures through the store every second; this
//! module turns every driver's last five minutes into one [`MeterView`]: the
//! sums ("0 of 12,400 requests failed"), each driver's totals since it
//! started, and the chart's geometry, in two panels with an axis each: the
//! request rate as bars (the failed part of each bar in red, with a mark
//! above it) in requests a second, and below it the share that succeeded as
//! a line from 0 to 100%. Each bar's successful part is stacked by the
//! version that answered, and below the chart each replica's share of the
//! last seconds ([`meter_split`](super::meter_split)). The geometry is
//! computed here, so the page drawn on the server and the live script
//! (which only copies numbers into the SVG) cannot disagree.
//! `GET /api/meter` serves the view; the event stream sends it as `meter`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use pets_store::meter::WINDOW_S;
use pets_store::{unix_now, Meter, MeterSecond, Store};
use serde::Serialize;

use crate::figures::clock;
pub use crate::figures::thousands;

use super::meter_split::{self, ReplicaShare, Segment, VersionShare, SHARE_OVER_S};
use super::shades::Shades;

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
    /// The versions that answered in the window, in their colours' order.
    pub versions: Vec<VersionShare>,
    /// Each replica's share of the last [`SHARE_OVER_S`] seconds.
    pub replicas: Vec<ReplicaShare>,
    pub share_over_s: usize,
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
    /// The successful part of each bar, one segment per version.
    pub segments: Vec<Segment>,
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
    /// The view of `meter` for the window ending at `now` (Unix seconds),
    /// each version in its colour among `shades`.
    pub fn shaded(meter: &Meter, now: u64, shades: &Shades) -> Self {
        let seconds = meter.per_second(now);
        let requests: u64 = seconds.iter().map(|s| s.requests).sum();
        let failed: u64 = seconds.iter().map(|s| s.failed).sum();
        let ok = seconds.iter().map(|s| s.ok).sum::<u64>();
        let rate = pets_store::meter::rate_now(&seconds);
        let drivers: Vec<DriverView> = meter
            .current(now)
            .map(|d| {
                let running = d.running(now);
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
            chart: Chart::new(&seconds, shades),
            versions: meter_split::versions(&seconds, shades),
            replicas: meter_split::replicas(&seconds),
            share_over_s: SHARE_OVER_S,
        }
    }
}

impl Chart {
    fn new(seconds: &[MeterSecond], shades: &Shades) -> Self {
        let peak = seconds.iter().map(|s| s.requests).max().unwrap_or(0);
        let max_rate = nice_ceiling(peak);
        let height = |n: u64| (n * PLOT_HEIGHT).div_ceil(max_rate);
        let mut bars = Vec::new();
        let mut fails = Vec::new();
        let mut segments = Vec::new();
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
            let mut fh = 0;
            if s.failed > 0 {
                fh = height(s.failed)
                    .max(MIN_FAIL_HEIGHT)
                    .min(h.max(MIN_FAIL_HEIGHT));
                fails.push(Bar {
                    x,
                    y: bottom - h.max(fh),
                    h: fh,
                });
            }
            // The successes below the failures, by version.
            segments.extend(meter_split::stack(
                s,
                shades,
                x,
                bottom,
                h.saturating_sub(fh),
            ));
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
            segments,
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

/// The view the console's pages show: versions shaded as in the fleet's.
pub fn console_view(store: &dyn Store, now: u64) -> MeterView {
    let meter = store.meter();
    MeterView::shaded(&meter, now, &Shades::console(&store.fleet(), &meter, now))
}

pub async fn json(State(store): State<Arc<dyn Store>>) -> Json<MeterView> {
    Json(console_view(store.as_ref(), unix_now()))
}

#[cfg(test)]
#[path = "meter_tests.rs"]
mod tests;
