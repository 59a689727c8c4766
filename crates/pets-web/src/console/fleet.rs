//! `GET /api/fleet`: every live replica (its node, slot, version, health and
//! counts) and the store's servers, as the store last knew them.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use pets_store::{Fleet, Store};

pub async fn json(State(store): State<Arc<dyn Store>>) -> Json<Fleet> {
    Json(store.fleet())
}
