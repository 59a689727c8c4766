//! The Lab panel: the lab's steps as this replica's keeper last saw them
//! (see [`crate::lab`]). `GET /api/lab` serves them; `POST /api/lab/reset`
//! (JSON) and `POST /lab/reset` (the console's form) start the lab again,
//! behind the login and refused cross-site like every console action. The
//! console and `/present` draw the same [`LabView`], kept live by the event
//! stream's `lab` event.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use pets_store::clock::rfc3339_millis;
use pets_store::{Store, StoreError, StoreKind};
use serde::Serialize;

use crate::error::{ApiError, AppError};
use crate::lab::{keeper, LabGuide, Needs, Progress, STEPS};
use crate::state::AppState;

/// `GET /api/lab`.
#[derive(Debug, Serialize, PartialEq)]
pub struct LabView {
    /// When the lab (re)started, RFC 3339; `null` before the first look.
    pub started_at: Option<String>,
    pub steps: Vec<StepView>,
    /// Steps done, of those that apply here.
    pub done: usize,
    pub applies: usize,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct StepView {
    pub id: &'static str,
    pub short: &'static str,
    pub title: &'static str,
    /// Where `docs/LAB.md` has it.
    pub lab: &'static str,
    /// RFC 3339; `null` until the step is done.
    pub done_at: Option<String>,
    pub evidence: Option<String>,
    /// Whether it can happen on this cluster; when not, `note` says why.
    pub applies: bool,
    pub note: Option<&'static str>,
}

impl LabView {
    pub fn new(progress: &Progress, kind: StoreKind) -> Self {
        let steps: Vec<StepView> = STEPS
            .iter()
            .map(|step| {
                let done = progress.done.get(step.id);
                let note = match step.needs {
                    _ if done.is_some() => None,
                    _ if kind != StoreKind::Consul => {
                        Some("needs the stack: votes in Consul, shared by replicas")
                    }
                    Needs::ThreeNodes if !progress.three_nodes() => Some("needs three nodes"),
                    _ => None,
                };
                StepView {
                    id: step.id,
                    short: step.short,
                    title: step.title,
                    lab: step.lab,
                    done_at: done.map(|d| rfc3339_millis(d.at * 1000)),
                    evidence: done.map(|d| d.evidence.clone()),
                    applies: note.is_none(),
                    note,
                }
            })
            .collect();
        Self {
            started_at: (progress.started_at > 0)
                .then(|| rfc3339_millis(progress.started_at * 1000)),
            done: steps.iter().filter(|s| s.done_at.is_some()).count(),
            applies: steps.iter().filter(|s| s.applies).count(),
            steps,
        }
    }

    /// As this replica knows it now.
    pub fn current(guide: &LabGuide, store: &dyn Store) -> Self {
        Self::new(&guide.current(), store.kind())
    }
}

pub async fn json(State(state): State<AppState>) -> Json<LabView> {
    Json(LabView::current(&state.lab, state.store.as_ref()))
}

pub async fn reset_json(State(store): State<Arc<dyn Store>>) -> Result<Json<LabView>, ApiError> {
    reset(store.as_ref()).await.map_err(AppError::json)?;
    Ok(Json(LabView::new(
        &Progress::fresh(0, pets_store::unix_now()),
        store.kind(),
    )))
}

pub async fn reset_form(State(store): State<Arc<dyn Store>>) -> Result<Response, AppError> {
    reset(store.as_ref()).await?;
    Ok(Redirect::to("/#lab").into_response())
}

async fn reset(store: &dyn Store) -> Result<(), AppError> {
    match keeper::restart(store, pets_store::unix_now()).await {
        Ok(()) => {
            tracing::warn!("the lab was started again by an operator: every step is open");
            Ok(())
        }
        Err(StoreError::Unavailable(reason)) => Err(AppError::Unavailable(format!(
            "The lab was not started again: {reason}. Try again in a few seconds."
        ))),
        Err(other) => Err(AppError::Unavailable(format!(
            "The lab was not started again: {other}."
        ))),
    }
}
