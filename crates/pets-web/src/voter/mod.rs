//! The voter site (port 5000): the pet page, the ballot, health and static
//! files.

mod faults;
mod health;
mod pet;
pub mod signed;
pub(crate) mod vote;

use axum::http::HeaderValue;
use axum::routing::{get, put};
use axum::{middleware, Router};
use axum_extra::extract::cookie::CookieJar;
use pets_store::{BallotRef, PetChoice, VoterId, VoterKey};

use crate::assets::{mounted_picture, static_file};
use crate::csrf::refuse_drive_by;
use crate::error::not_found;
use crate::state::AppState;

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
            state.settings.clone(),
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
            state.faults.clone(),
            faults::inject,
        ));
    let routes = Router::new()
        .merge(switches)
        .merge(faulty)
        .route("/health", get(health::check))
        .route_layer(middleware::from_fn_with_state(
            (state.metrics.clone(), "voter"),
            crate::metrics::measure,
        ))
        .fallback(not_found)
        .with_state(state.clone());
    crate::around::site(routes, &state.settings)
}

/// What the visitor's cookies say about them. Malformed values are ignored;
/// the voter's cookie is checked against its signature where it matters,
/// when voting ([`Visitor::voter`]).
pub(crate) struct Visitor {
    voter: Option<String>,
    pub vote: Option<PetChoice>,
    pub first_in: Option<BallotRef>,
}

impl Visitor {
    /// The voter pets issued this visitor's cookie to, if it did.
    pub(crate) fn voter(&self, key: &VoterKey) -> Option<VoterId> {
        signed::verify(key, self.voter.as_deref()?)
    }

    pub(crate) fn from_cookies(jar: &CookieJar) -> Self {
        Self {
            voter: jar.get(VOTER_COOKIE).map(|c| c.value().to_owned()),
            vote: jar
                .get(VOTE_COOKIE)
                .and_then(|c| PetChoice::parse(c.value()).ok()),
            first_in: jar
                .get(BALLOT_COOKIE)
                .and_then(|c| BallotRef::parse(c.value()).ok()),
        }
    }
}

/// A `Set-Cookie` value for a cookie kept a year, readable only by the
/// server and sent on same-site navigation. `value` is one of our own ids
/// (hex or a pet's letter), so it needs no quoting. Written out here rather
/// than through `cookie::Cookie`: a vote sets three, and building them
/// through the cookie crate cost a vote measurably (`docs/PERFORMANCE.md`).
fn long_lived(name: &'static str, value: impl std::fmt::Display) -> HeaderValue {
    let line = format!("{name}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={YEAR_SECONDS}");
    HeaderValue::try_from(line).expect("cookie names and our ids are valid header text")
}

/// How long the voter's cookies last.
const YEAR_SECONDS: u32 = 365 * 24 * 60 * 60;

#[cfg(test)]
mod tests {
    use axum_extra::extract::cookie::{Cookie, SameSite};

    use super::*;

    #[test]
    fn long_lived_cookies_parse_back_with_their_attributes() {
        let (voter, key) = (VoterId::random(), VoterKey::random());
        let header = long_lived(VOTER_COOKIE, signed::sign(&key, &voter));
        let cookie = Cookie::parse(header.to_str().unwrap()).unwrap();
        assert_eq!(cookie.name(), VOTER_COOKIE);
        assert_eq!(signed::verify(&key, cookie.value()), Some(voter));
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.same_site(), Some(SameSite::Lax));
        assert_eq!(cookie.path(), Some("/"));
        assert_eq!(cookie.max_age(), Some(time::Duration::days(365)));
    }
}
