//! The voter site (port 5000): the pet page, the ballot, health and static
//! files.

mod health;
mod pet;
mod prerendered;
pub(crate) mod vote;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, put};
use axum::{middleware, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use pets_store::{BallotRef, PetChoice, VoterId};

use crate::assets::{mounted_picture, static_file};
use crate::csrf::refuse_drive_by;
use crate::error::not_found;
use crate::extract::MAX_BODY_BYTES;
use crate::state::AppState;

pub use self::prerendered::PetPages;

/// The cookie naming the voter.
pub const VOTER_COOKIE: &str = "pets_voter";
/// The cookie remembering the voter's pet, so the pet page needs no lookup.
pub const VOTE_COOKIE: &str = "pets_vote";
/// The cookie saying where the voter's first vote was recorded, when the
/// store recorded it together with others' (see [`pets_store::BallotRef`]).
pub const BALLOT_COOKIE: &str = "pets_ballot";

pub fn voter_router(state: AppState) -> Router {
    let switches = Router::new()
        .route("/health", put(health::set))
        .route("/kill", get(health::kill))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            health::chaos_allowed,
        ))
        .route_layer(middleware::from_fn(refuse_drive_by));
    // Injected latency and errors reach the pages, not health or the switches.
    let faulty = Router::new()
        .route("/", get(pet::show))
        .route("/vote", get(vote::form).post(vote::cast))
        .route("/static/{*path}", get(static_file))
        .route("/pictures/{folder}/{file}", get(mounted_picture))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::faults::api::inject,
        ));
    Router::new()
        .merge(switches)
        .merge(faulty)
        .route("/health", get(health::check))
        .route_layer(middleware::from_fn_with_state(
            (state.metrics.clone(), "voter"),
            crate::metrics::measure,
        ))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::guard::guard,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// What the visitor's cookies say about them. Malformed values are ignored.
pub(crate) struct Visitor {
    pub voter: Option<VoterId>,
    pub vote: Option<PetChoice>,
    pub first_in: Option<BallotRef>,
}

impl Visitor {
    pub(crate) fn from_cookies(jar: &CookieJar) -> Self {
        Self {
            voter: jar
                .get(VOTER_COOKIE)
                .and_then(|c| VoterId::parse(c.value()).ok()),
            vote: jar
                .get(VOTE_COOKIE)
                .and_then(|c| PetChoice::parse(c.value()).ok()),
            first_in: jar
                .get(BALLOT_COOKIE)
                .and_then(|c| BallotRef::parse(c.value()).ok()),
        }
    }
}

fn long_lived(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::days(365))
        .build()
}
