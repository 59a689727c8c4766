//! Publishes each second's figures through the store (when `DB` names one),
//! so every replica's console shows them as the availability meter.
//!
//! The driver's clock never waits on Consul: [`Publisher::second`] hands the
//! figures to a task that keeps the driver's [`DriverSeries`] and writes it
//! whole, coalescing whatever piled up while a write was slow. A failed write
//! loses nothing, since the next one carries the whole window; the first
//! failure of a streak, and the recovery, are said on stderr.

use std::time::Duration;

use pets_store::{unix_now, DriverSeries, MeterPublisher, MeterSecond};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::tally::Counts;

/// How long the end waits for the last write.
const LAST_WRITE: Duration = Duration::from_secs(3);

enum Message {
    Second(MeterSecond),
    Finish,
}

/// The handle the driver's loop talks to.
pub struct Publisher {
    tx: mpsc::UnboundedSender<Message>,
    task: JoinHandle<()>,
}

impl Publisher {
    /// Starts publishing as `publisher`'s driver, sending to `targets`.
    pub fn start(publisher: MeterPublisher, targets: String) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let series = DriverSeries::new(publisher.driver().to_owned(), targets, unix_now());
        let task = tokio::spawn(write_loop(publisher, series, rx));
        Self { tx, task }
    }

    /// One second's figures, ending now.
    pub fn second(&self, counts: &Counts) {
        let _ = self.tx.send(Message::Second(figures(unix_now(), counts)));
    }

    /// Marks the series finished and waits (briefly) for the last write.
    pub async fn finish(self, last: &Counts) {
        let _ = self.tx.send(Message::Second(figures(unix_now(), last)));
        let _ = self.tx.send(Message::Finish);
        let _ = tokio::time::timeout(LAST_WRITE, self.task).await;
    }
}

/// What the meter keeps of a second's counts.
pub fn figures(at: u64, counts: &Counts) -> MeterSecond {
    MeterSecond {
        at,
        requests: counts.requests,
        ok: counts.ok,
        failed: counts.failed,
        p99_ms: counts.latency().p99.ceil() as u64,
        by_version: counts.by_version.clone(),
        by_replica: counts.by_replica.clone(),
    }
}

async fn write_loop(
    publisher: MeterPublisher,
    mut series: DriverSeries,
    mut rx: mpsc::UnboundedReceiver<Message>,
) {
    match publisher.forget_gone(series.started).await {
        Ok(0) | Err(_) => {}
        Ok(n) => eprintln!("pets load: forgot {n} series of drivers gone for over an hour"),
    }
    let mut failing = false;
    while let Some(message) = rx.recv().await {
        let mut messages = vec![message];
        while let Ok(more) = rx.try_recv() {
            messages.push(more);
        }
        for message in messages {
            match message {
                Message::Second(second) => add(&mut series, second),
                Message::Finish => series.finished = true,
            }
        }
        match publisher.publish(&series).await {
            Ok(()) if failing => {
                failing = false;
                eprintln!(
                    "pets load: publishing to the store again ({})",
                    publisher.key()
                );
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                eprintln!(
                    "pets load: cannot publish to the store ({e}); the console's meter catches up once it can"
                );
            }
            Err(_) => {}
        }
        if series.finished {
            return;
        }
    }
}

/// Adds a second; two in the same Unix second (the last, partial one at the
/// end) are one.
fn add(series: &mut DriverSeries, second: MeterSecond) {
    match series.seconds.last_mut() {
        Some(last) if last.at == second.at => {
            last.add(&second);
            series.requests += second.requests;
            series.failed += second.failed;
        }
        _ => series.push(second),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tally::{AnsweredBy, Outcome};

    #[test]
    fn a_second_becomes_meter_figures_and_a_partial_one_joins_its_second() {
        let mut counts = Counts::default();
        let by = AnsweredBy {
            version: Some("2.0".into()),
            replica: Some("web-a".into()),
        };
        counts.record_by(&Outcome::PageOk, &by, Duration::from_micros(1500));
        counts.record(&Outcome::Failed("refused".into()), Duration::ZERO);
        let second = figures(100, &counts);
        assert_eq!((second.requests, second.ok, second.failed), (2, 1, 1));
        assert_eq!(second.p99_ms, 2, "rounded up");
        assert_eq!(second.by_version["2.0"], 1);
        assert_eq!(second.by_replica["web-a"], 1);
        let mut series = DriverSeries::new("d".into(), "t".into(), 99);
        add(&mut series, second.clone());
        add(&mut series, second);
        add(&mut series, figures(101, &counts));
        assert_eq!(series.seconds.len(), 2);
        assert_eq!(series.seconds[0].requests, 4);
        assert_eq!(series.seconds[0].by_version["2.0"], 2);
        assert_eq!((series.requests, series.failed), (6, 3));
    }
}
