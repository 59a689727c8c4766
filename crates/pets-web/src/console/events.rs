//! `GET /api/events`: the console kept live with server-sent events. A
//! `results` event whenever the tally or the store's state changes, a
//! `fleet` event (and the same drawn by node, `cluster`, for `/present`)
//! whenever a replica joins, leaves or changes, a `meter`
//! event whenever the availability meter moves, a `lab` event whenever a
//! step of the lab guide is done; all checked at least every
//! second. The stream ends when the server shuts down.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use pets_store::Snapshot;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::cluster::ClusterView;
use super::lab::LabView;
use super::meter::MeterView;
use super::results::Results;
use super::shades::Shades;
use crate::state::AppState;

/// How often the feed looks even when nothing says it changed (the fleet
/// and the store's state change without a notification).
const LOOK_EVERY: Duration = Duration::from_secs(1);

pub async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let feed = Feed {
        changes: state.store.changes(),
        stopping: state.stopping.clone(),
        state,
        last_results: String::new(),
        last_fleet: String::new(),
        last_cluster: String::new(),
        last_meter: String::new(),
        last_lab: String::new(),
        ready: VecDeque::new(),
        started: false,
    };
    let stream = futures::stream::unfold(feed, |mut feed| async move {
        loop {
            if let Some(event) = feed.ready.pop_front() {
                return Some((Ok(event), feed));
            }
            if feed.started && !feed.wait().await {
                return None;
            }
            feed.started = true;
            feed.look();
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

struct Feed {
    state: AppState,
    changes: watch::Receiver<Snapshot>,
    stopping: CancellationToken,
    last_results: String,
    last_fleet: String,
    last_cluster: String,
    last_meter: String,
    last_lab: String,
    ready: VecDeque<Event>,
    started: bool,
}

impl Feed {
    /// Queues an event for whatever changed since the last look.
    fn look(&mut self) {
        self.changes.mark_unchanged();
        let snapshot = self.state.store.snapshot();
        let results =
            serde_json::to_string(&Results::new(&self.state, snapshot)).unwrap_or_default();
        if results != self.last_results {
            self.ready
                .push_back(Event::default().event("results").data(&results));
            self.last_results = results;
        }
        let fleet = self.state.store.fleet();
        let (meter, now) = (self.state.store.meter(), pets_store::unix_now());
        // One colour per version in the cluster and the meter alike.
        let shades = Shades::console(&fleet, &meter, now);
        let cluster =
            serde_json::to_string(&ClusterView::shaded(&fleet, &shades)).unwrap_or_default();
        let fleet = serde_json::to_string(&fleet).unwrap_or_default();
        // The record's "last seen" moves every write; compare without it.
        let comparable = strip_last_seen(&fleet);
        if comparable != self.last_fleet {
            self.ready
                .push_back(Event::default().event("fleet").data(fleet));
            self.last_fleet = comparable;
        }
        if cluster != self.last_cluster {
            self.ready
                .push_back(Event::default().event("cluster").data(&cluster));
            self.last_cluster = cluster;
        }
        let meter = MeterView::shaded(&meter, now, &shades);
        let meter = serde_json::to_string(&meter).unwrap_or_default();
        if meter != self.last_meter {
            self.ready
                .push_back(Event::default().event("meter").data(&meter));
            self.last_meter = meter;
        }
        let lab = LabView::current(&self.state.lab, self.state.store.as_ref());
        let lab = serde_json::to_string(&lab).unwrap_or_default();
        if lab != self.last_lab {
            self.ready
                .push_back(Event::default().event("lab").data(&lab));
            self.last_lab = lab;
        }
    }

    /// Waits for a change or a second; false once the server is stopping.
    async fn wait(&mut self) -> bool {
        tokio::select! {
            _ = self.changes.changed() => true,
            _ = tokio::time::sleep(LOOK_EVERY) => true,
            _ = self.stopping.cancelled() => false,
        }
    }
}

/// The fleet's JSON without its `last_seen` values.
fn strip_last_seen(fleet: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(fleet) else {
        return fleet.to_owned();
    };
    if let Some(replicas) = value["replicas"].as_array_mut() {
        for replica in replicas {
            if let Some(replica) = replica.as_object_mut() {
                replica.remove("last_seen");
            }
        }
    }
    value.to_string()
}
