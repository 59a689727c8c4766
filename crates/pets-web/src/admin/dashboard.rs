//! `GET /`: the results as a bar chart drawn on the server (SVG), readable
//! without JavaScript; a small script then keeps it live.

use axum::extract::State;
use axum::response::Html;
use tera::Context;

use super::results::{current_tally, Results};
use crate::error::AppError;
use crate::state::AppState;

pub async fn show(State(state): State<AppState>) -> Result<Html<String>, AppError> {
    let (tally, stale) = current_tally(&state).await;
    let results = Results::new(&state, tally, stale);
    let mut context = Context::new();
    context.insert("results", &results);
    context.insert("login_required", &state.auth.is_some());
    state.render("admin.html", context)
}
