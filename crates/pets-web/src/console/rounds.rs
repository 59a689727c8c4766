//! Rounds on the console: close the current one, list every round, export
//! one. `POST /api/rounds` (JSON) and `POST /rounds` (the console's form,
//! which asks to confirm first) close a round, behind the login and refused
//! cross-site like every console action; `GET /api/rounds` lists every
//! round, and `GET /api/rounds/<n>.csv` or `.json` exports one. The store
//! decides which round a vote is in (see [`pets_store::rounds`]).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use pets_store::clock::rfc3339_millis;
use pets_store::{Round, RoundOption, Store, StoreError};
use serde::{Deserialize, Serialize};
use tera::Context;

use crate::error::{ApiError, AppError};
use crate::extract::{FormInput, JsonInput};
use crate::settings::WebSettings;
use crate::state::AppState;

/// A round as the API and the console show it: times as RFC 3339.
#[derive(Serialize)]
pub struct RoundView {
    pub number: u64,
    pub options: Vec<RoundOption>,
    pub voters: u64,
    pub pets_served: u64,
    pub started_at: String,
    /// `null` for the round in progress.
    pub ended_at: Option<String>,
}

impl From<Round> for RoundView {
    fn from(round: Round) -> Self {
        Self {
            number: round.number,
            voters: round.voters,
            pets_served: round.pets_served,
            started_at: rfc3339_millis(round.started_at),
            ended_at: round.ended_at.map(rfc3339_millis),
            options: round.options,
        }
    }
}

/// Every round, oldest first, the one in progress last.
pub fn views(store: &dyn Store, settings: &WebSettings) -> Vec<RoundView> {
    let rounds = store.rounds(settings.options.names());
    rounds.into_iter().map(RoundView::from).collect()
}

/// `POST /api/rounds`: `{}` closes the round in progress; `{"round": n}`
/// closes round `n` only if it is the one in progress.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    #[serde(default)]
    round: Option<u64>,
}

pub async fn list(
    State(store): State<Arc<dyn Store>>,
    State(settings): State<Arc<WebSettings>>,
) -> Json<Vec<RoundView>> {
    Json(views(store.as_ref(), &settings))
}

pub async fn close_json(
    State(store): State<Arc<dyn Store>>,
    State(settings): State<Arc<WebSettings>>,
    JsonInput(request): JsonInput<CloseRequest>,
) -> Result<Json<RoundView>, ApiError> {
    let closed = close(store.as_ref(), &settings, request.round)
        .await
        .map_err(AppError::json)?;
    Ok(Json(closed.into()))
}

/// The console's form: without `confirm`, a page that says what closing
/// will do and asks again; with it, the close, then back to the console.
#[derive(Deserialize)]
pub struct CloseForm {
    round: String,
    #[serde(default)]
    confirm: String,
}

pub async fn close_form(
    State(state): State<AppState>,
    FormInput(form): FormInput<CloseForm>,
) -> Result<Response, AppError> {
    let number: u64 = form
        .round
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest("Say which round to close, by its number.".into()))?;
    if form.confirm != "yes" {
        let rounds = views(state.store.as_ref(), &state.settings);
        let Some(current) = rounds
            .into_iter()
            .find(|r| r.number == number && r.ended_at.is_none())
        else {
            return Err(AppError::Conflict(format!(
                "Round {number} is not in progress any more. Look at the rounds again."
            )));
        };
        let mut context = Context::new();
        context.insert("round", &current);
        return Ok(state
            .render("rounds_confirm.html", context)?
            .into_response());
    }
    close(state.store.as_ref(), &state.settings, Some(number)).await?;
    Ok(Redirect::to("/#rounds").into_response())
}

async fn close(
    store: &dyn Store,
    settings: &WebSettings,
    number: Option<u64>,
) -> Result<Round, AppError> {
    let names = settings.options.names().clone();
    match store.close_round(number, names).await {
        Ok(round) => {
            tracing::warn!(
                round = round.number,
                voters = round.voters,
                "round closed by an operator; the next starts at zero"
            );
            Ok(round)
        }
        Err(StoreError::Conflict(reason)) => Err(AppError::Conflict(format!(
            "The round was not closed: {reason}."
        ))),
        Err(StoreError::Unavailable(reason)) => Err(AppError::Unavailable(format!(
            "The round was not closed: {reason}. Try again in a few seconds."
        ))),
        // Only a vote is ever unconfirmed.
        Err(e @ (StoreError::NoSuchReplica | StoreError::Unconfirmed(_))) => {
            Err(AppError::Internal(e.to_string()))
        }
    }
}

/// `GET /api/rounds/<n>.csv` or `<n>.json`: one round.
pub async fn export(
    State(store): State<Arc<dyn Store>>,
    State(settings): State<Arc<WebSettings>>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let (number, format) = file
        .rsplit_once('.')
        .and_then(|(n, ext)| Some((n.parse::<u64>().ok()?, ext)))
        .filter(|(_, ext)| matches!(*ext, "csv" | "json"))
        .ok_or_else(|| {
            AppError::BadRequest("Ask for a round as <number>.csv or <number>.json.".into()).json()
        })?;
    let round = views(store.as_ref(), &settings)
        .into_iter()
        .find(|r| r.number == number)
        .ok_or_else(|| AppError::NotFound.json())?;
    if format == "json" {
        return Ok(Json(round).into_response());
    }
    let disposition = format!("attachment; filename=\"pets-round-{number}.csv\"");
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    Ok((headers, csv(&round)).into_response())
}

/// One line per option: the round's number and times, the option, its
/// votes, and the round's voters and pets served.
fn csv(round: &RoundView) -> String {
    let mut out =
        String::from("round,started_at,ended_at,option,name,votes,voters,pets_served\r\n");
    for option in &round.options {
        let fields = [
            round.number.to_string(),
            round.started_at.clone(),
            round.ended_at.clone().unwrap_or_default(),
            option.id.to_owned(),
            option.name.clone(),
            option.votes.to_string(),
            round.voters.to_string(),
            round.pets_served.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A CSV field: quoted when it holds a comma, quote or line break, and kept
/// from being read as a formula by a spreadsheet.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_it_must_and_defuses_formulas() {
        assert_eq!(csv_field("Cats"), "Cats");
        assert_eq!(csv_field("Cats, big"), "\"Cats, big\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("-x,y"), "\"'-x,y\"");
    }

    #[test]
    fn a_round_exports_a_line_per_option() {
        let round = RoundView {
            number: 2,
            options: vec![
                RoundOption {
                    id: "a",
                    name: "Cats".into(),
                    votes: 3,
                },
                RoundOption {
                    id: "b",
                    name: "Dogs, big".into(),
                    votes: 1,
                },
            ],
            voters: 4,
            pets_served: 9,
            started_at: "2026-12-03T10:00:00Z".into(),
            ended_at: None,
        };
        let text = csv(&round);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], "2,2026-12-03T10:00:00Z,,a,Cats,3,4,9");
        assert_eq!(lines[2], "2,2026-12-03T10:00:00Z,,b,\"Dogs, big\",1,4,9");
    }
}
