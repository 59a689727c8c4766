//! `GET`/`POST /login` and `POST /logout`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use tera::Context;

use crate::auth::client::{came_over_https, client_address};
use crate::auth::session::SESSION_TTL;
use crate::auth::throttle::{ClientKey, FAILURE_DELAY};
use crate::auth::SESSION_COOKIE;
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

/// The session cookie, `Secure` when the visitor reached us over https.
fn session_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::seconds(SESSION_TTL.as_secs() as i64))
        .build()
}

pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    FormInput(form): FormInput<LoginForm>,
) -> Result<Response, AppError> {
    let Some(auth) = &state.auth else {
        return Ok(Redirect::to("/").into_response());
    };
    let trusted = &state.settings.trusted_proxies;
    let address = client_address(peer.ip(), &headers, trusted);
    let client = ClientKey::of(address);
    state
        .throttle
        .check(client)
        .map_err(AppError::TooManyAttempts)?;
    if state.store.login_failures() >= state.settings.login_failures_per_minute {
        let wait = 60 - pets_store::unix_now() % 60;
        tracing::warn!(%address, "admin login refused: the service's ceiling on failed logins was reached this minute");
        return Err(AppError::LoginsPaused(wait));
    }
    if !auth.password_matches(&form.password) {
        state.throttle.failed(client);
        state.store.login_failed().await;
        tracing::warn!(%address, "failed admin login");
        tokio::time::sleep(FAILURE_DELAY).await;
        let page = login_page(&state, Some("That password is not right."))?;
        return Ok((StatusCode::UNAUTHORIZED, page).into_response());
    }
    state.throttle.succeeded(client);
    tracing::info!(%address, "admin logged in");
    let (_, value) = auth.new_session();
    let secure = came_over_https(peer.ip(), &headers, trusted);
    Ok((jar.add(session_cookie(value, secure)), Redirect::to("/")).into_response())
}

/// Ends the session on every replica (through the store), then forgets
/// the cookie.
pub async fn logout(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let session = state
        .auth
        .as_ref()
        .zip(jar.get(SESSION_COOKIE))
        .and_then(|(auth, cookie)| auth.session(cookie.value()));
    if let Some(session) = session {
        match state
            .store
            .revoke_session(&session.id, session.expires())
            .await
        {
            Ok(()) => tracing::info!("admin logged out"),
            Err(e) => tracing::error!(
                error = %e,
                "admin logged out here, but other replicas could not be told: the session stays valid there until it expires"
            ),
        }
    }
    let secure = came_over_https(peer.ip(), &headers, &state.settings.trusted_proxies);
    let gone = Cookie::build((SESSION_COOKIE, ""))
        .path("/")
        .secure(secure)
        .build();
    (jar.remove(gone), Redirect::to("/login")).into_response()
}
