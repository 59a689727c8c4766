//! The console's side of faults: `POST /api/faults` (JSON) and `POST /faults`
//! (the forms on the fleet cards), both behind the console's login and
//! refused cross-site. They store an order; every replica it is for puts it
//! in force (see [`crate::faults`]).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Redirect;
use axum::Json;
use pets_store::{FaultTarget, Store, StoreError};
use serde_json::json;

use crate::error::{ApiError, AppError};
use crate::extract::{FormInput, JsonInput};
use crate::faults::{FaultForm, FaultRequest};
use crate::settings::WebSettings;

/// `POST /api/faults`: stores the command; replicas it is for apply it
/// within about a second.
pub async fn post_json(
    State(store): State<Arc<dyn Store>>,
    State(settings): State<Arc<WebSettings>>,
    JsonInput(request): JsonInput<FaultRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    order(store.as_ref(), &settings, &request)
        .await
        .map_err(AppError::json)?;
    Ok(Json(json!({ "ordered": request })))
}

/// `POST /faults`: the same from the console's forms, then back to it.
pub async fn post_form(
    State(store): State<Arc<dyn Store>>,
    State(settings): State<Arc<WebSettings>>,
    FormInput(form): FormInput<FaultForm>,
) -> Result<Redirect, AppError> {
    let request = form.request().map_err(AppError::BadRequest)?;
    order(store.as_ref(), &settings, &request).await?;
    Ok(Redirect::to("/#fleet"))
}

async fn order(
    store: &dyn Store,
    settings: &WebSettings,
    request: &FaultRequest,
) -> Result<(), AppError> {
    if !settings.chaos {
        return Err(AppError::Forbidden(
            "Faults are turned off on this deployment (PETS_CHAOS=off).".into(),
        ));
    }
    let (target, command) = request.parse().map_err(AppError::BadRequest)?;
    match store.order_faults(&target, &command).await {
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
        Err(StoreError::Conflict(reason)) => Err(AppError::Conflict(reason)),
        Err(StoreError::Unavailable(reason)) => Err(AppError::Unavailable(format!(
            "The faults were not stored: {reason}. Try again in a few seconds."
        ))),
        // Only a vote is ever unconfirmed.
        Err(e @ StoreError::Unconfirmed(_)) => Err(AppError::Internal(e.to_string())),
    }
}
