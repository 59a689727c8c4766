//! The console's side of faults: `POST /api/faults` (JSON) and `POST /faults`
//! (the forms on the fleet cards), both behind the console's login and
//! refused cross-site; and the voter site's middleware that puts latency and
//! errors in force.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use pets_store::{FaultTarget, StoreError};
use serde_json::json;

use super::{FaultForm, FaultRequest};
use crate::error::{ApiError, AppError};
use crate::extract::{FormInput, JsonInput};
use crate::state::AppState;

/// `POST /api/faults`: stores the command; replicas it is for apply it
/// within about a second.
pub async fn post_json(
    State(state): State<AppState>,
    JsonInput(request): JsonInput<FaultRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    order(&state, &request).await.map_err(AppError::json)?;
    Ok(Json(json!({ "ordered": request })))
}

/// `POST /faults`: the same from the console's forms, then back to it.
pub async fn post_form(
    State(state): State<AppState>,
    FormInput(form): FormInput<FaultForm>,
) -> Result<Redirect, AppError> {
    let request = form.request().map_err(AppError::BadRequest)?;
    order(&state, &request).await?;
    Ok(Redirect::to("/#fleet"))
}

async fn order(state: &AppState, request: &FaultRequest) -> Result<(), AppError> {
    if !state.settings.chaos {
        return Err(AppError::Forbidden(
            "Faults are turned off on this deployment (PETS_CHAOS=off).".into(),
        ));
    }
    let (target, command) = request.parse().map_err(AppError::BadRequest)?;
    match state.store.order_faults(&target, &command).await {
        Ok(()) => {
            let target = match &target {
                FaultTarget::Fleet => "the fleet".to_owned(),
                FaultTarget::Replica(id) => format!("replica {id}"),
            };
            tracing::warn!(%target, command = ?command, "faults ordered");
            Ok(())
        }
        Err(StoreError::NoSuchReplica) => Err(AppError::BadRequest(format!(
            "No replica {:?} is in the fleet now; see /api/fleet.",
            request.target
        ))),
        Err(StoreError::Unavailable(reason)) => Err(AppError::Unavailable(format!(
            "The faults were not stored: {reason}. Try again in a few seconds."
        ))),
    }
}

/// Voter-site middleware: the latency and errors in force. Health and the
/// fault switches are left alone, so the health check only follows health.
pub async fn inject(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let latency = state.faults.latency_ms();
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let percent = state.faults.error_percent();
    if percent > 0 && rand::random_range(0..100) < percent {
        return AppError::Internal(format!(
            "an injected fault answers {percent}% of requests on this replica with an error"
        ))
        .into_response();
    }
    next.run(request).await
}
