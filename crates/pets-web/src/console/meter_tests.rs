//! The availability meter's view, tested on recorded driver series: sums,
//! failures, the rate, the line and the bars stacked by version.

use super::*;
use pets_store::DriverSeries;

/// The view with its versions shaded among themselves.
fn view_of(meter: &Meter, now: u64) -> MeterView {
    let shades = Shades::new(super::super::shades::measured(meter, now));
    MeterView::shaded(meter, now, &shades)
}

fn meter(seconds: &[(u64, u64, u64)], finished: bool) -> Meter {
    let mut d = DriverSeries::new("load-x".into(), "tasks.web:5000".into(), 1_000);
    for &(at, requests, failed) in seconds {
        d.push(MeterSecond {
            at,
            requests,
            ok: requests - failed,
            failed,
            p99_ms: 4,
            ..MeterSecond::default()
        });
    }
    d.finished = finished;
    Meter { drivers: vec![d] }
}

#[test]
fn no_driver_says_how_to_start_one() {
    let view = view_of(&Meter::default(), 5_000);
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
    let view = view_of(&meter(&seconds, false), 1_110);
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
    let view = view_of(&meter(&seconds, false), 1_300);
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
    let finished = view_of(&meter(&seconds, true), 1_300);
    assert!(!finished.drivers[0].running);
    assert!(finished.drivers[0].summary.ends_with("(stopped)"));
}

#[test]
fn each_bar_is_stacked_by_version_under_its_failures() {
    let mut d = DriverSeries::new("load-x".into(), "tasks.web:5000".into(), 1_000);
    let counts = |pairs: &[(&str, u64)]| pairs.iter().map(|&(k, n)| (k.to_owned(), n)).collect();
    for (at, one, two, failed) in [(1_001, 60, 0, 0), (1_002, 30, 40, 10), (1_003, 0, 80, 0)] {
        d.push(MeterSecond {
            at,
            requests: one + two + failed,
            ok: one + two,
            failed,
            by_version: counts(&[("1.0", one), ("2.0", two)]),
            by_replica: counts(&[("web-a", one), ("web-b", two)]),
            ..MeterSecond::default()
        });
    }
    let meter = Meter { drivers: vec![d] };
    let view = MeterView::shaded(&meter, 1_004, &Shades::new(["0.9", "1.0", "2.0"]));
    let shades: Vec<_> = view
        .versions
        .iter()
        .map(|v| (v.version.as_str(), v.shade, v.requests))
        .collect();
    assert_eq!(
        shades,
        [("1.0", 1, 90), ("2.0", 2, 120)],
        "colours as given"
    );
    let mixed = &view.chart.bars[1];
    let parts: Vec<&Segment> = view
        .chart
        .segments
        .iter()
        .filter(|s| s.x == mixed.x)
        .collect();
    assert_eq!(parts.len(), 2, "1.0 and 2.0: {parts:?}");
    assert_eq!(
        (parts[0].shade, parts[0].n, parts[1].shade, parts[1].n),
        (1, 30, 2, 40)
    );
    let fail = &view.chart.fails[0];
    assert_eq!(fail.x, mixed.x);
    assert_eq!(
        parts[0].y + parts[0].h,
        mixed.y + mixed.h,
        "1.0 at the bottom"
    );
    assert_eq!(parts[1].y + parts[1].h, parts[0].y, "2.0 on it");
    assert_eq!(fail.y + fail.h, parts[1].y, "the failures on top");
    assert_eq!(parts[0].h + parts[1].h + fail.h, mixed.h, "the whole bar");
    let alone: Vec<&Segment> = view
        .chart
        .segments
        .iter()
        .filter(|s| s.x == view.chart.bars[2].x)
        .collect();
    assert_eq!(
        (alone.len(), alone[0].h),
        (1, view.chart.bars[2].h),
        "all 2.0"
    );
    let replicas: Vec<_> = view
        .replicas
        .iter()
        .map(|r| (r.replica.as_str(), r.requests, r.percent))
        .collect();
    assert_eq!(replicas, [("web-a", 90, 43), ("web-b", 120, 57)]);
    assert_eq!(
        view_of(&meter, 1_004).versions[0].shade,
        0,
        "alone: by name"
    );
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
