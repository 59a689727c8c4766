//! Health for Swarm's health check, and the switches the demo uses to fail
//! it: `GET /kill` and `PUT /health`. An operator can turn the switches off
//! (`PETS_CHAOS=off`); a browser can flip them only by opening them directly
//! (see [`csrf`](crate::csrf)).
//!
//! Health is about this web process only, never the database: if it followed
//! Consul, an outage there would make Swarm kill every web replica at once.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Deserializer};
use serde_json::json;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::extract::JsonInput;
use crate::health::Health;
use crate::settings::WebSettings;

/// `200 OK` while healthy; `503 STOPPING` from the stop signal on (the
/// replica still answers, for `PETS_SHUTDOWN_DELAY`, but a router's health
/// check takes it out of rotation before its ports close); `500 NOT OK`
/// when switched off or made unhealthy by a fault.
pub async fn check(
    State(health): State<Health>,
    State(stopping): State<CancellationToken>,
) -> impl IntoResponse {
    if stopping.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "STOPPING")
    } else if health.is_healthy() {
        (StatusCode::OK, "OK")
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, "NOT OK")
    }
}

/// Middleware: the switches answer 403 when the operator turned them off.
pub async fn chaos_allowed(
    State(settings): State<Arc<WebSettings>>,
    request: Request,
    next: Next,
) -> Response {
    if settings.chaos {
        return next.run(request).await;
    }
    crate::error::AppError::Forbidden(
        "Faults are turned off on this deployment (PETS_CHAOS=off).".into(),
    )
    .into_response()
}

pub async fn kill(
    State(health): State<Health>,
    State(settings): State<Arc<WebSettings>>,
) -> impl IntoResponse {
    health.set(false);
    tracing::warn!("health switched off by /kill");
    format!(
        "Killed container {}: /health now answers 500 NOT OK, so its health check fails and Swarm replaces it.\n",
        settings.hostname
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
    State(health): State<Health>,
    JsonInput(change): JsonInput<HealthChange>,
) -> Result<impl IntoResponse, ApiError> {
    health.set(change.healthy);
    tracing::warn!(healthy = change.healthy, "health set by PUT /health");
    Ok(Json(json!({ "healthy": change.healthy })))
}
