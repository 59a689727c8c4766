//! `GET /`: a random picture of the visitor's pet.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use tera::Context;

use super::Visitor;
use crate::error::AppError;
use crate::state::AppState;

pub async fn show(State(state): State<AppState>, jar: CookieJar) -> Result<Response, AppError> {
    let Some(choice) = Visitor::from_cookies(&jar).vote else {
        return Ok(Redirect::to("/vote").into_response());
    };
    state.store.count_pet_served();
    state.metrics.pet_served();
    let mut context = Context::new();
    context.insert("pet", state.settings.options.name(choice));
    context.insert("choice", choice.id());
    context.insert("picture", &state.pictures.random(choice));
    context.insert("served", &state.store.pets_served());
    Ok(state.render("pet.html", context)?.into_response())
}
