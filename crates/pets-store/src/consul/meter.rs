//! The availability meter in Consul: each traffic driver writes its own
//! series to `load/<driver>` every second ([`MeterPublisher`]), and every
//! replica follows `load/` with a blocking query ([`meter_from`]) so its
//! console shows them all.

use std::sync::Arc;

use crate::consul::client::{ClientError, ConsulClient};
use crate::consul::keys::Keys;
use crate::consul::kv::{Kv, KvEntry, TxnOp, TxnOutcome};
use crate::consul::settings::ConsulSettings;
use crate::meter::{DriverSeries, Meter, FORGET_AFTER_S};
use crate::store::StoreError;

/// Writes one driver's series where the consoles read it.
pub struct MeterPublisher {
    client: Arc<ConsulClient>,
    keys: Keys,
}

impl MeterPublisher {
    /// A publisher named after `settings.replica` (the driver's id). Fails
    /// only on bad settings: Consul itself may come later.
    pub fn new(settings: &ConsulSettings) -> Result<Self, ClientError> {
        Ok(Self {
            client: Arc::new(ConsulClient::new(settings)?),
            keys: Keys::new(&settings.prefix, &settings.replica),
        })
    }

    /// The driver's id, as the console shows it.
    pub fn driver(&self) -> &str {
        &self.keys.replica
    }

    /// The key this driver writes.
    pub fn key(&self) -> String {
        self.keys.load_driver()
    }

    /// Writes the whole series, replacing the last one written.
    pub async fn publish(&self, series: &DriverSeries) -> Result<(), StoreError> {
        if self.client.endpoints().is_empty() {
            self.client.refresh_endpoints().await;
        }
        let op = TxnOp::set_json(self.keys.load_driver(), series);
        match self.client.write(&[op]).await {
            Ok(TxnOutcome::Committed(_)) => Ok(()),
            Ok(TxnOutcome::RolledBack(errors)) => Err(StoreError::Unavailable(format!(
                "Consul refused the write: {errors:?}"
            ))),
            Err(e) => {
                // Names may stand for other servers by now.
                self.client.refresh_endpoints().await;
                Err(StoreError::Unavailable(e.message().to_owned()))
            }
        }
    }

    /// Deletes the series of drivers that stopped writing more than
    /// [`FORGET_AFTER_S`] before `now`; returns how many.
    pub async fn forget_gone(&self, now: u64) -> Result<usize, StoreError> {
        self.client.refresh_endpoints().await;
        let (_, entries) = self
            .client
            .list(&self.keys.load(), None)
            .await
            .map_err(|e| StoreError::Unavailable(e.message().to_owned()))?;
        // The folder key is nobody's series and stays.
        let (entries, _) = crate::consul::folders::without_folder(&self.keys.load(), entries);
        let gone: Vec<TxnOp> = entries
            .iter()
            .filter(|e| series_of(e).is_none_or(|s| s.updated + FORGET_AFTER_S < now))
            .map(|e| TxnOp::delete_cas(e.key.clone(), e.modify_index))
            .collect();
        if gone.is_empty() {
            return Ok(0);
        }
        // Delete-cas: a driver that wrote again since keeps its series.
        self.client
            .write(&gone)
            .await
            .map_err(|e| StoreError::Unavailable(e.message().to_owned()))?;
        Ok(gone.len())
    }
}

/// One entry's series; `None` for anything that does not parse.
fn series_of(entry: &KvEntry) -> Option<DriverSeries> {
    serde_json::from_slice(&entry.bytes()).ok()
}

/// Every driver's series under `load/`, newest driver first.
pub fn meter_from(entries: &[KvEntry]) -> Meter {
    let mut drivers: Vec<DriverSeries> = entries.iter().filter_map(series_of).collect();
    drivers.sort_by(|a, b| b.started.cmp(&a.started).then(a.driver.cmp(&b.driver)));
    Meter { drivers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meter::MeterSecond;

    #[test]
    fn the_meter_is_every_parsable_series_newest_first() {
        let mut old = DriverSeries::new("old".into(), "t".into(), 10);
        old.push(MeterSecond {
            at: 11,
            requests: 4,
            ok: 4,
            ..MeterSecond::default()
        });
        let new = DriverSeries::new("new".into(), "t".into(), 20);
        let entries = vec![
            KvEntry::new("p/load/old".into(), &serde_json::to_vec(&old).unwrap(), 5),
            KvEntry::new("p/load/junk".into(), b"not json", 6),
            KvEntry::new("p/load/new".into(), &serde_json::to_vec(&new).unwrap(), 7),
        ];
        let meter = meter_from(&entries);
        assert_eq!(meter.drivers, vec![new, old]);
    }
}
