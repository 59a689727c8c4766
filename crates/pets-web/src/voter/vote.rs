//! `GET /vote` shows the ballot; `POST /vote` records it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use pets_store::{Ballot, PetChoice, StoreError, VoterId, VoterName};
use serde::{Deserialize, Serialize};
use tera::Context;

use super::{long_lived, signed, vote_cookie, Visitor, BALLOT_COOKIE, VOTER_COOKIE, VOTE_COOKIE};
use crate::auth::client::client_address;
use crate::auth::throttle::ClientKey;
use crate::error::AppError;
use crate::extract::FormInput;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct VoteForm {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) vote: String,
}

#[derive(Serialize)]
struct OptionView<'a> {
    id: &'static str,
    name: &'a str,
    current: bool,
}

fn ballot_page(
    state: &AppState,
    current: Option<PetChoice>,
    name: &str,
    problem: Option<&str>,
) -> Result<axum::response::Html<String>, AppError> {
    let options: Vec<OptionView> = PetChoice::ALL
        .iter()
        .map(|&c| OptionView {
            id: c.id(),
            name: state.settings.options.name(c),
            current: Some(c) == current,
        })
        .collect();
    let mut context = Context::new();
    context.insert("options", &options);
    context.insert("name", name);
    context.insert("problem", &problem);
    state.render("vote.html", context)
}

pub async fn form(State(state): State<AppState>, jar: CookieJar) -> Result<Response, AppError> {
    let current = Visitor::from_cookies(&jar).vote_in(state.store.current_round());
    Ok(ballot_page(&state, current, "", None)?.into_response())
}

pub async fn cast(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    FormInput(form): FormInput<VoteForm>,
) -> Result<Response, AppError> {
    let visitor = Visitor::from_cookies(&jar);
    let parsed = VoterName::parse(&form.name)
        .and_then(|name| PetChoice::parse(&form.vote).map(|choice| (name, choice)));
    let (name, choice) = match parsed {
        Ok(valid) => valid,
        Err(problem) => {
            state.metrics.vote_refused("invalid");
            let current = visitor.vote_in(state.store.current_round());
            let page = ballot_page(&state, current, &form.name, Some(&problem))?;
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let key = match state.store.voter_key().await {
        Ok(key) => key,
        Err(e) => return Err(refused_by_store(&state, e)),
    };
    let (voter, first_vote) = match visitor.voter(&key) {
        Some(voter) => (voter, false),
        None => {
            let client = client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
            if let Err(wait) = state.new_voters.admit(ClientKey::of(client)) {
                state.metrics.vote_refused("too_many_new_voters");
                tracing::warn!(%client, "new voter refused: too many from this address this minute");
                return Err(AppError::TooManyNewVoters(wait.as_secs().max(1)));
            }
            (VoterId::random(), true)
        }
    };
    let ballot = Ballot {
        voter,
        name,
        choice,
        first_vote,
        first_in: visitor.first_in.filter(|_| !first_vote),
    };
    let ballot_first_in = ballot.first_in;
    match state.store.cast_vote(ballot).await {
        Ok(receipt) => {
            state.metrics.vote_recorded();
            let mut response = Redirect::to("/").into_response();
            let headers = response.headers_mut();
            headers.append(
                SET_COOKIE,
                long_lived(VOTER_COOKIE, signed::sign(&key, &voter)),
            );
            headers.append(
                SET_COOKIE,
                long_lived(VOTE_COOKIE, vote_cookie(choice, receipt.round)),
            );
            headers.insert(ROUND_HEADER, HeaderValue::from(receipt.round));
            // A new first vote's place, or the one the voter had, kept.
            if let Some(at) = receipt.first_in.or(ballot_first_in) {
                headers.append(SET_COOKIE, long_lived(BALLOT_COOKIE, at));
            }
            Ok(response)
        }
        Err(e) => Err(refused_by_store(&state, e)),
    }
}

/// The round a recorded vote counts in, on its answer.
pub const ROUND_HEADER: &str = "pets-round";

/// The store could not take the vote, or could not say whether it did:
/// counted, and said (503 not recorded, 504 not confirmed).
fn refused_by_store(state: &AppState, error: StoreError) -> AppError {
    match error {
        StoreError::Unavailable(reason) => {
            state.metrics.vote_refused("store");
            AppError::Unavailable(format!(
                "Your vote was not recorded: {reason}. Please try again in a few seconds."
            ))
        }
        StoreError::Unconfirmed(reason) => {
            state.metrics.vote_refused("unconfirmed");
            AppError::Unconfirmed(format!(
                "Your vote could not be confirmed: {reason}. It may have been counted. \
                 Vote again to be sure: your last vote is the one that counts."
            ))
        }
        e @ (StoreError::NoSuchReplica | StoreError::Conflict(_)) => {
            AppError::Internal(e.to_string())
        }
    }
}
