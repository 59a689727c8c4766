//! The results as data: `GET /api/results`; [`events`](super::events)
//! streams the same whenever they change.

use axum::extract::State;
use axum::Json;
use pets_store::{PetChoice, Snapshot, StoreStatus};
use serde::Serialize;

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
    /// The round these are the results of, from 1.
    pub round: u64,
    /// True when the store could not be read and these are the last known.
    pub stale: bool,
    pub store: StoreStatus,
}

impl<'a> Results<'a> {
    pub fn new(state: &'a AppState, snapshot: Snapshot) -> Self {
        let Snapshot {
            tally,
            round,
            stale,
            status,
        } = snapshot;
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
            round,
            stale,
            store: status,
        }
    }
}

pub async fn json(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let results = Results::new(&state, state.store.read().await);
    serde_json::to_value(results)
        .map(Json)
        .map_err(|e| crate::error::AppError::Internal(e.to_string()).json())
}
