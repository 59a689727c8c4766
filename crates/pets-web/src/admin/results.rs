//! The results as data: `GET /api/results` once, `GET /api/events` as a
//! stream of server-sent events whenever the tally changes.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures::Stream;
use pets_store::{PetChoice, StoreStatus, Tally};
use serde::Serialize;
use tokio::sync::watch;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Serialize)]
pub struct OptionResult<'a> {
    pub id: &'static str,
    pub name: &'a str,
    pub votes: u64,
    /// Share of the votes, 0 to 100.
    pub percent: u64,
}

#[derive(Serialize)]
pub struct Results<'a> {
    pub options: Vec<OptionResult<'a>>,
    /// Pets served, the original's name for it.
    pub hits: u64,
    pub total_votes: u64,
    /// True when the store could not be read and these are the last known.
    pub stale: bool,
    pub store: StoreStatus,
}

impl<'a> Results<'a> {
    pub fn new(state: &'a AppState, tally: Tally, stale: bool) -> Self {
        let total = tally.total_votes();
        Self {
            options: PetChoice::ALL
                .iter()
                .map(|&c| OptionResult {
                    id: c.id(),
                    name: state.settings.options.name(c),
                    votes: tally.votes_for(c),
                    percent: (tally.votes_for(c) * 100).checked_div(total).unwrap_or(0),
                })
                .collect(),
            hits: tally.pets_served,
            total_votes: total,
            stale,
            store: state.store.status(),
        }
    }
}

/// The tally read now, or the last known one if the store cannot answer.
pub async fn current_tally(state: &AppState) -> (Tally, bool) {
    match state.store.tally().await {
        Ok(tally) => (tally, false),
        Err(e) => {
            tracing::warn!(error = %e, "showing last known results");
            let mut tally = *state.store.subscribe().borrow();
            tally.pets_served = state.store.pets_served();
            (tally, true)
        }
    }
}

pub async fn json(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let (tally, stale) = current_tally(&state).await;
    let results = Results::new(&state, tally, stale);
    serde_json::to_value(results)
        .map(Json)
        .map_err(|e| crate::error::AppError::Internal(e.to_string()).json())
}

/// A `results` event whenever the tally or the store's state changes,
/// checked at least every second. Ends when the server shuts down.
pub async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let feed = Feed {
        changes: state.store.subscribe(),
        stopping: state.stopping.clone(),
        state,
        last: String::new(),
        started: false,
    };
    let stream = futures::stream::unfold(feed, |mut feed| async move {
        loop {
            if feed.started && !feed.wait().await {
                return None;
            }
            feed.started = true;
            let data = feed.snapshot();
            if data != feed.last {
                feed.last.clone_from(&data);
                let event = Event::default().event("results").data(data);
                return Some((Ok(event), feed));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

struct Feed {
    state: AppState,
    changes: watch::Receiver<Tally>,
    stopping: watch::Receiver<bool>,
    last: String,
    started: bool,
}

impl Feed {
    fn snapshot(&mut self) -> String {
        let mut tally = *self.changes.borrow_and_update();
        tally.pets_served = self.state.store.pets_served();
        let stale = !self.state.store.status().reachable;
        serde_json::to_string(&Results::new(&self.state, tally, stale)).unwrap_or_default()
    }

    /// Waits for a change or a second; false once the server is stopping.
    async fn wait(&mut self) -> bool {
        tokio::select! {
            _ = self.changes.changed() => true,
            _ = tokio::time::sleep(Duration::from_secs(1)) => true,
            _ = self.stopping.wait_for(|&s| s) => false,
        }
    }
}
