//! The console (port 7000): results, rounds, the fleet, the meter, faults,
//! the projector's page (`/present`)
//! on demand, live updates, and the login that guards them when
//! `ADMIN_PASSWORD_FILE` is set.

mod cluster;
mod dashboard;
mod events;
mod faults;
mod fleet;
mod lab;
mod login;
mod meter;
mod meter_split;
mod present;
mod results;
mod rounds;
mod shades;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::CookieJar;

use crate::assets::static_file;
use crate::auth::SESSION_COOKIE;
use crate::error::{not_found, AppError};
use crate::state::AppState;

pub fn console_router(state: AppState) -> Router {
    let guarded = Router::new()
        .route("/", get(dashboard::show))
        .route("/api/results", get(results::json))
        .route("/present", get(present::show))
        .route("/api/fleet", get(fleet::json))
        .route("/api/meter", get(meter::json))
        .route("/api/events", get(events::stream))
        .route("/api/faults", post(faults::post_json))
        .route("/faults", post(faults::post_form))
        .route("/api/rounds", get(rounds::list).post(rounds::close_json))
        .route("/api/rounds/{file}", get(rounds::export))
        .route("/rounds", post(rounds::close_form))
        .route("/api/lab", get(lab::json))
        .route("/api/lab/reset", post(lab::reset_json))
        .route("/lab/reset", post(lab::reset_form))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_login));
    let routes = Router::new()
        .merge(guarded)
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/static/{*path}", get(static_file))
        .route("/metrics", get(crate::metrics::scrape))
        .route_layer(middleware::from_fn_with_state(
            (state.metrics.clone(), "admin"),
            crate::metrics::measure,
        ))
        .fallback(not_found)
        .with_state(state.clone());
    crate::around::site(routes, &state.settings)
}

/// Whether this request carries a valid session (always, with no password).
fn logged_in(state: &AppState, jar: &CookieJar) -> bool {
    match &state.auth {
        None => true,
        Some(auth) => jar
            .get(SESSION_COOKIE)
            .and_then(|c| auth.session(c.value()))
            .is_some_and(|session| !state.store.session_revoked(&session.id)),
    }
}

async fn require_login(
    State(state): State<AppState>,
    jar: CookieJar,
    request: Request,
    next: Next,
) -> Response {
    if logged_in(&state, &jar) {
        return next.run(request).await;
    }
    if request.uri().path().starts_with("/api/") {
        AppError::LoginRequired.json().into_response()
    } else {
        Redirect::to("/login").into_response()
    }
}
