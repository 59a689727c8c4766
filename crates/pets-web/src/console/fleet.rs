//! `GET /api/fleet`: every live replica (its node, slot, version, health and
//! counts) and the store's servers, as the store last knew them.

use axum::extract::State;
use axum::Json;
use pets_store::Fleet;

use crate::state::AppState;

pub async fn json(State(state): State<AppState>) -> Json<Fleet> {
    Json(state.store.fleet())
}
