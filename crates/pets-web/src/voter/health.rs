//! Health for Swarm's health check, and the switches the demo uses to fail
//! it: `GET /kill` and `PUT /health`.
//!
//! Health is about this web process only, never the database: if it followed
//! Consul, an outage there would make Swarm kill every web replica at once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Deserializer};
use serde_json::json;

use crate::error::ApiError;
use crate::extract::JsonInput;
use crate::state::AppState;

pub async fn check(State(state): State<AppState>) -> impl IntoResponse {
    if state.health.is_healthy() {
        (StatusCode::OK, "OK")
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, "NOT OK")
    }
}

pub async fn kill(State(state): State<AppState>) -> impl IntoResponse {
    state.health.set(false);
    tracing::warn!("health switched off by /kill");
    format!(
        "Killed container {}: /health now answers 500 NOT OK, so its health check fails and Swarm replaces it.\n",
        state.settings.hostname
    )
}

#[derive(Deserialize)]
pub struct HealthChange {
    #[serde(deserialize_with = "loose_bool")]
    healthy: bool,
}

/// The original's clients send `"True"` and `"False"` as strings.
fn loose_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Bool(bool),
        Text(String),
    }
    match Loose::deserialize(d)? {
        Loose::Bool(b) => Ok(b),
        Loose::Text(t) if t.eq_ignore_ascii_case("true") => Ok(true),
        Loose::Text(t) if t.eq_ignore_ascii_case("false") => Ok(false),
        Loose::Text(t) => Err(serde::de::Error::custom(format!(
            "`healthy` must be true or false, not {t:?}"
        ))),
    }
}

pub async fn set(
    State(state): State<AppState>,
    JsonInput(change): JsonInput<HealthChange>,
) -> Result<impl IntoResponse, ApiError> {
    state.health.set(change.healthy);
    tracing::warn!(healthy = change.healthy, "health set by PUT /health");
    Ok(Json(json!({ "healthy": change.healthy })))
}
