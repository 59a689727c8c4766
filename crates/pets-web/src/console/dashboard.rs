//! `GET /`: the results as a bar chart drawn on the server (SVG) and the
//! fleet as one card per replica, the availability meter, readable without
//! JavaScript (the page then reloads every few seconds); a small script
//! keeps it live instead. The join panel ([`crate::join`]) tells a room
//! where to vote. [`live_page`] is what this page and the projector's
//! ([`present`](super::present)) both show.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Html;
use tera::Context;

use super::meter;
use super::results::Results;
use crate::error::AppError;
use crate::join::JoinPanel;
use crate::state::AppState;

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, AppError> {
    let mut context = live_page(&state, &headers).await;
    context.insert("fleet", &state.store.fleet());
    context.insert(
        "rounds",
        &super::rounds::views(state.store.as_ref(), &state.settings),
    );
    state.render("admin.html", context)
}

/// The results, the meter, the join panel for the address this request
/// was sent to, and whether a login guards the console.
pub async fn live_page(state: &AppState, headers: &HeaderMap) -> Context {
    let results = Results::new(state, state.store.read().await);
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let mut context = Context::new();
    context.insert("results", &results);
    context.insert(
        "meter",
        &meter::console_view(state.store.as_ref(), pets_store::unix_now()),
    );
    context.insert("join", &JoinPanel::new(&state.settings, host));
    context.insert("login_required", &state.auth.is_some());
    context.insert(
        "lab",
        &super::lab::LabView::current(&state.lab, state.store.as_ref()),
    );
    context
}
