//! The availability meter split by who answered: each second's successful
//! requests stacked by version, in the versions' colours, and the share
//! each replica served over the last few seconds.
//!
//! `pets load` counts its successful answers by the voter site's
//! `X-Pets-Version` and `X-Pets-Replica` headers and publishes the counts
//! with each second ([`MeterSecond::by_version`], `by_replica`). During a
//! rolling update the bars turn from one version's colour to the next's;
//! the replicas' shares show how the load spreads over the tasks.
//! [`meter`](super::meter) places the bars; this module cuts the successful
//! part of each into one segment per version, bottom up in the order of
//! [`Shades`], the heights adding up to that part exactly. Successes no
//! header named (a driver or a pets from before the headers) are the bar's
//! own colour, above the versions and below the failures.

use pets_store::MeterSecond;
use serde::Serialize;

use super::shades::Shades;

/// The replicas' shares are over this many seconds, the last one included.
pub const SHARE_OVER_S: usize = 10;

/// One version's part of one second's bar, in view-box units.
#[derive(Debug, Serialize, PartialEq)]
pub struct Segment {
    pub x: u64,
    pub y: u64,
    pub h: u64,
    /// The version's colour (see [`Shades`]).
    pub shade: usize,
    /// Its successful requests that second.
    pub n: u64,
}

/// A version in the meter's window, for the legend.
#[derive(Debug, Serialize, PartialEq)]
pub struct VersionShare {
    pub version: String,
    pub shade: usize,
    /// Its successful requests in the window.
    pub requests: u64,
}

/// What one replica served over the last [`SHARE_OVER_S`] seconds.
#[derive(Debug, Serialize, PartialEq)]
pub struct ReplicaShare {
    pub replica: String,
    pub requests: u64,
    /// Of the successful requests a replica was named for, rounded.
    pub percent: u64,
}

/// `second`'s successful part, `height` tall with its bottom at `bottom`,
/// cut by version: one segment for each version with requests (even one
/// too small to be seen, so the counts are all there), heights rounded so
/// that they add up to exactly `height` when every success was named.
pub fn stack(
    second: &MeterSecond,
    shades: &Shades,
    x: u64,
    bottom: u64,
    height: u64,
) -> Vec<Segment> {
    let mut versions: Vec<(usize, u64)> = second
        .by_version
        .iter()
        .filter(|&(_, &n)| n > 0)
        .map(|(version, &n)| (shades.of(version), n))
        .collect();
    versions.sort();
    let named: u64 = versions.iter().map(|&(_, n)| n).sum();
    let all = second.ok.max(named);
    let mut below = 0;
    let mut top = 0;
    versions
        .into_iter()
        .map(|(shade, n)| {
            below += n;
            let to = (below * height + all / 2) / all.max(1);
            let segment = Segment {
                x,
                y: bottom - to,
                h: to - top,
                shade,
                n,
            };
            top = to;
            segment
        })
        .collect()
}

/// Every version that answered in `seconds`, in `shades`' order.
pub fn versions(seconds: &[MeterSecond], shades: &Shades) -> Vec<VersionShare> {
    let mut totals = std::collections::BTreeMap::new();
    for second in seconds {
        pets_store::meter::add_counts(&mut totals, &second.by_version);
    }
    let mut shares: Vec<VersionShare> = totals
        .into_iter()
        .map(|(version, requests)| VersionShare {
            shade: shades.of(&version),
            version,
            requests,
        })
        .collect();
    shares.sort_by(|a, b| (a.shade, &a.version).cmp(&(b.shade, &b.version)));
    shares
}

/// Each replica's share of the last [`SHARE_OVER_S`] of `seconds` (oldest
/// first), by replica id.
pub fn replicas(seconds: &[MeterSecond]) -> Vec<ReplicaShare> {
    let recent = &seconds[seconds.len().saturating_sub(SHARE_OVER_S)..];
    let mut totals = std::collections::BTreeMap::new();
    for second in recent {
        pets_store::meter::add_counts(&mut totals, &second.by_replica);
    }
    let all: u64 = totals.values().sum();
    totals
        .into_iter()
        .map(|(replica, requests)| ReplicaShare {
            replica,
            requests,
            percent: (requests * 100 + all / 2) / all.max(1),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(ok: u64, by_version: &[(&str, u64)]) -> MeterSecond {
        MeterSecond {
            requests: ok,
            ok,
            by_version: by_version.iter().map(|&(v, n)| (v.to_owned(), n)).collect(),
            ..MeterSecond::default()
        }
    }

    #[test]
    fn versions_stack_bottom_up_and_fill_the_part_exactly() {
        let shades = Shades::new(["1.0", "2.0"]);
        for (one, two, height) in [(30, 20, 50), (1, 2, 7), (33, 67, 100), (1, 999, 3)] {
            let s = second(one + two, &[("2.0", two), ("1.0", one)]);
            let segments = stack(&s, &shades, 60, 114, height);
            assert_eq!(segments.len(), 2);
            assert_eq!(segments[0].shade, 0, "1.0 at the bottom");
            assert_eq!((segments[0].n, segments[1].n), (one, two));
            assert_eq!(segments[0].y + segments[0].h, 114);
            assert_eq!(segments[1].y + segments[1].h, segments[0].y, "touching");
            assert_eq!(segments[0].h + segments[1].h, height);
        }
        // Successes no header named: the versions fill only their part.
        let s = second(100, &[("1.0", 50)]);
        let segments = stack(&s, &shades, 60, 114, 100);
        assert_eq!((segments.len(), segments[0].h), (1, 50));
        assert!(stack(&second(10, &[]), &shades, 60, 114, 20).is_empty());
    }

    #[test]
    fn replicas_share_the_last_ten_seconds() {
        let mut seconds: Vec<MeterSecond> = (0..30)
            .map(|_| MeterSecond {
                by_replica: [("old".to_owned(), 5)].into(),
                ..MeterSecond::default()
            })
            .collect();
        for s in seconds.iter_mut().rev().take(SHARE_OVER_S) {
            s.by_replica = [("web-a".to_owned(), 3), ("web-b".to_owned(), 1)].into();
        }
        let shares = replicas(&seconds);
        let named: Vec<_> = shares
            .iter()
            .map(|s| (s.replica.as_str(), s.requests, s.percent))
            .collect();
        assert_eq!(named, [("web-a", 30, 75), ("web-b", 10, 25)]);
        assert!(replicas(&[]).is_empty());
    }

    #[test]
    fn the_legend_totals_each_version_in_its_colour() {
        let shades = Shades::new(["1.0", "2.0"]);
        let seconds = [
            second(3, &[("1.0", 3)]),
            second(4, &[("2.0", 3), ("1.0", 1)]),
        ];
        let legend = versions(&seconds, &shades);
        assert_eq!(
            legend,
            [
                VersionShare {
                    version: "1.0".into(),
                    shade: 0,
                    requests: 4
                },
                VersionShare {
                    version: "2.0".into(),
                    shade: 1,
                    requests: 3
                }
            ]
        );
    }
}
