//! `GET`/`POST /login` and `POST /logout`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use tera::Context;

use crate::auth::{FAILURE_DELAY, SESSION_COOKIE, SESSION_TTL};
use crate::error::AppError;
use crate::extract::FormInput;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    password: String,
}

fn login_page(
    state: &AppState,
    problem: Option<&str>,
) -> Result<axum::response::Html<String>, AppError> {
    let mut context = Context::new();
    context.insert("problem", &problem);
    context.insert("login_required", &state.auth.is_some());
    state.render("login.html", context)
}

pub async fn form(State(state): State<AppState>) -> Result<Response, AppError> {
    if state.auth.is_none() {
        return Ok(Redirect::to("/").into_response());
    }
    Ok(login_page(&state, None)?.into_response())
}

pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    FormInput(form): FormInput<LoginForm>,
) -> Result<Response, AppError> {
    let Some(auth) = &state.auth else {
        return Ok(Redirect::to("/").into_response());
    };
    let client = client.ip();
    state
        .throttle
        .check(client)
        .map_err(AppError::TooManyAttempts)?;
    if !auth.password_matches(&form.password) {
        state.throttle.failed(client);
        tracing::warn!(%client, "failed admin login");
        tokio::time::sleep(FAILURE_DELAY).await;
        let page = login_page(&state, Some("That password is not right."))?;
        return Ok((StatusCode::UNAUTHORIZED, page).into_response());
    }
    state.throttle.succeeded(client);
    tracing::info!(%client, "admin logged in");
    let session = Cookie::build((SESSION_COOKIE, auth.new_session()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::seconds(SESSION_TTL.as_secs() as i64))
        .build();
    Ok((jar.add(session), Redirect::to("/")).into_response())
}

pub async fn logout(jar: CookieJar) -> impl IntoResponse {
    let gone = Cookie::build((SESSION_COOKIE, "")).path("/").build();
    (jar.remove(gone), Redirect::to("/login"))
}
