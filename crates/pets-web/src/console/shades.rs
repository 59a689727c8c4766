//! The colour of each version, shared by everything the console draws by
//! version: the cluster's tiles ([`cluster`](super::cluster)) and the
//! availability meter's bars ([`meter`](super::meter)).
//!
//! The versions in view are sorted by name, and a version's shade is its
//! place among them; the page's stylesheet colours `shade-0` to `shade-3`
//! (the templates and scripts take the shade modulo 4). The console's pages
//! build one [`Shades`] from the fleet and the meter together
//! ([`Shades::console`]), so a version has the same colour in both, also
//! after a rolling update while the meter still shows the old version.

use pets_store::{Fleet, Meter};

/// The versions in view, oldest name first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shades(Vec<String>);

impl Shades {
    pub fn new<'a>(versions: impl IntoIterator<Item = &'a str>) -> Self {
        let mut versions: Vec<String> = versions.into_iter().map(str::to_owned).collect();
        versions.sort();
        versions.dedup();
        Self(versions)
    }

    /// The fleet's versions and those the meter's window ending at `now`
    /// saw answer.
    pub fn console(fleet: &Fleet, meter: &Meter, now: u64) -> Self {
        let running = fleet.replicas.iter().map(|r| r.identity.version.as_str());
        Self::new(running.chain(measured(meter, now)))
    }

    /// A version's shade: its place in view (0 for one not in view).
    pub fn of(&self, version: &str) -> usize {
        self.0.iter().position(|v| v == version).unwrap_or(0)
    }

    pub fn versions(&self) -> &[String] {
        &self.0
    }
}

/// The versions that answered inside the meter's window ending at `now`.
pub fn measured(meter: &Meter, now: u64) -> impl Iterator<Item = &str> {
    let from = now.saturating_sub(pets_store::meter::WINDOW_S);
    meter
        .current(now)
        .flat_map(|d| &d.seconds)
        .filter(move |s| s.at > from)
        .flat_map(|s| s.by_version.keys().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pets_store::{DriverSeries, MeterSecond, ReplicaIdentity, ReplicaRecord};

    #[test]
    fn versions_are_shaded_by_name_across_the_fleet_and_the_meter() {
        let shades = Shades::new(["2.0", "1.0", "2.0"]);
        assert_eq!(shades.versions(), ["1.0", "2.0"]);
        assert_eq!((shades.of("1.0"), shades.of("2.0")), (0, 1));
        assert_eq!(shades.of("3.0"), 0);

        // After the update: the fleet runs 2.0 only, the meter still saw
        // 1.0, and 2.0 keeps its colour.
        let fleet = Fleet {
            replicas: vec![ReplicaRecord {
                identity: ReplicaIdentity {
                    version: "2.0".into(),
                    ..Default::default()
                },
                healthy: true,
                last_seen: String::new(),
                pets_served: 0,
                votes: 0,
                votes_refused: 0,
                faults: Default::default(),
            }],
            store: Default::default(),
        };
        let mut driver = DriverSeries::new("d".into(), "t".into(), 1_000);
        driver.push(MeterSecond {
            at: 1_001,
            requests: 1,
            ok: 1,
            by_version: [("1.0".to_owned(), 1)].into(),
            ..MeterSecond::default()
        });
        let meter = Meter {
            drivers: vec![driver],
        };
        let shades = Shades::console(&fleet, &meter, 1_010);
        assert_eq!(shades.of("2.0"), 1);
        let later = Shades::console(&fleet, &meter, 1_001 + pets_store::meter::WINDOW_S);
        assert_eq!(later.versions(), ["2.0"], "1.0 left the window");
    }
}
