//! The voter site (port 5000): the pet page, the ballot, health and static
//! files. Every answer names the version and the replica that gave it
//! (`X-Pets-Version`, `X-Pets-Replica`; see [`crate::around::voter_site`]).

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
/// The cookie remembering the voter's pet and the round the vote is in
/// (`b.3`; a bare `b` is round 1's), so the pet page needs no lookup.
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
    crate::around::voter_site(routes, &state.settings)
}

/// What the visitor's cookies say about them. Malformed values are ignored;
/// the voter's cookie is checked against its signature where it matters,
/// when voting ([`Visitor::voter`]).
pub(crate) struct Visitor {
    voter: Option<String>,
    /// The pet the visitor last voted for, and the round that vote is in.
    vote: Option<(PetChoice, u64)>,
    pub first_in: Option<BallotRef>,
}

impl Visitor {
    /// The voter pets issued this visitor's cookie to, if it did.
    pub(crate) fn voter(&self, key: &VoterKey) -> Option<VoterId> {
        signed::verify(key, self.voter.as_deref()?)
    }

    /// The visitor's vote in round `round`: none if it was in another,
    /// since every round starts at zero.
    pub(crate) fn vote_in(&self, round: u64) -> Option<PetChoice> {
        self.vote
            .filter(|&(_, voted_in)| voted_in == round)
            .map(|(choice, _)| choice)
    }

    pub(crate) fn from_cookies(jar: &CookieJar) -> Self {
        Self {
            voter: jar.get(VOTER_COOKIE).map(|c| c.value().to_owned()),
            vote: jar.get(VOTE_COOKIE).and_then(|c| parse_vote(c.value())),
            first_in: jar
                .get(BALLOT_COOKIE)
                .and_then(|c| BallotRef::parse(c.value()).ok()),
        }
    }
}

/// A vote cookie's value: the pet, and the round (`b.3`; `b` is round 1's).
fn parse_vote(value: &str) -> Option<(PetChoice, u64)> {
    let (choice, round) = value.split_once('.').unwrap_or((value, "1"));
    let round = round.parse().ok().filter(|&r| r > 0)?;
    Some((PetChoice::parse(choice).ok()?, round))
}

/// What a vote cookie holds for `choice` in round `round`.
fn vote_cookie(choice: PetChoice, round: u64) -> String {
    format!("{}.{round}", choice.id())
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
    fn a_vote_cookie_names_its_round() {
        assert_eq!(
            parse_vote("b"),
            Some((PetChoice::B, 1)),
            "from before rounds"
        );
        assert_eq!(
            parse_vote(&vote_cookie(PetChoice::C, 12)),
            Some((PetChoice::C, 12))
        );
        for junk in ["", "x", "b.", "b.0", "b.-1", "b.x", "b.1.2"] {
            assert_eq!(parse_vote(junk), None, "{junk:?}");
        }
    }

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
