//! `GET /`: the results as a bar chart drawn on the server (SVG) and the
//! fleet as one card per replica, the availability meter, readable without JavaScript (the page then
//! reloads every few seconds); a small script keeps it live instead.

use axum::extract::State;
use axum::response::Html;
use tera::Context;

use super::meter::MeterView;
use super::results::Results;
use crate::error::AppError;
use crate::state::AppState;

pub async fn show(State(state): State<AppState>) -> Result<Html<String>, AppError> {
    let results = Results::new(&state, state.store.read().await);
    let mut context = Context::new();
    context.insert("results", &results);
    context.insert("fleet", &state.store.fleet());
    context.insert(
        "meter",
        &MeterView::new(&state.store.meter(), pets_store::unix_now()),
    );
    context.insert(
        "rounds",
        &super::rounds::views(state.store.as_ref(), &state.settings),
    );
    context.insert("login_required", &state.auth.is_some());
    state.render("admin.html", context)
}
