//! `GET /`: a random picture of the visitor's pet.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::Visitor;
use crate::error::AppError;
use crate::pet_pages::context;
use crate::state::AppState;

pub async fn show(State(state): State<AppState>, jar: CookieJar) -> Result<Response, AppError> {
    let round = state.store.current_round();
    let Some(choice) = Visitor::from_cookies(&jar).vote_in(round) else {
        return Ok(Redirect::to("/vote").into_response());
    };
    state.store.count_pet_served();
    state.metrics.pet_served();
    let served = state.store.pets_served();
    if let Some(pages) = &state.pet_pages {
        return Ok(Html(pages.page(choice, served)).into_response());
    }
    let picture = state.pictures.random(choice);
    let context = context(&state.settings, choice, picture, &served);
    Ok(state.render("pet.html", context)?.into_response())
}
