//! Errors as people see them: a page that says what went wrong on the site
//! and console, JSON under `/api`. The pages are built without the template
//! engine so that reporting an error can never fail in turn.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("The request body is larger than 16 KiB.")]
    TooLarge,
    #[error("{0}")]
    Forbidden(String),
    #[error("Please log in to see the results.")]
    LoginRequired,
    #[error("There is nothing at this address.")]
    NotFound,
    #[error("{0}")]
    Misdirected(String),
    #[error("{0}")]
    Conflict(String),
    #[error("Too many failed logins from your address. Try again in {0} seconds.")]
    TooManyAttempts(u64),
    #[error(
        "Too many failed logins on this service in the last minute. Try again in {0} seconds."
    )]
    LoginsPaused(u64),
    #[error("{0}")]
    Unavailable(String),
    /// Sent on, and no word back in time: it may have been done.
    #[error("{0}")]
    Unconfirmed(String),
    #[error("{0} Send it again, all at once.")]
    BodyTooSlow(String),
    #[error("Too many new voters from your address in the last minute. Try again in {0} seconds.")]
    TooManyNewVoters(u64),
    #[error("Something went wrong on our side: {0}")]
    Internal(String),
}

impl From<crate::templates::TemplateError> for AppError {
    fn from(e: crate::templates::TemplateError) -> Self {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        Self::Internal(message)
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::LoginRequired => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Misdirected(_) => StatusCode::MISDIRECTED_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyAttempts(_) | Self::LoginsPaused(_) | Self::TooManyNewVoters(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unconfirmed(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::BodyTooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "That did not work",
            Self::TooLarge => "Too much data",
            Self::Forbidden(_) => "Refused",
            Self::LoginRequired => "Login required",
            Self::NotFound => "Not found",
            Self::Misdirected(_) => "Wrong address",
            Self::Conflict(_) => "Already changed",
            Self::TooManyAttempts(_) | Self::LoginsPaused(_) | Self::TooManyNewVoters(_) => {
                "Slow down"
            }
            Self::Unavailable(_) => "Not recorded",
            Self::Unconfirmed(_) => "Not confirmed",
            Self::BodyTooSlow(_) => "Too slow",
            Self::Internal(_) => "Server error",
        }
    }

    /// The same error, answered as JSON.
    pub fn json(self) -> ApiError {
        ApiError(self)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let status = self.status();
        let mut response = (status, axum::response::Html(error_page(&self))).into_response();
        if let Self::TooManyAttempts(seconds)
        | Self::LoginsPaused(seconds)
        | Self::TooManyNewVoters(seconds) = self
        {
            if let Ok(v) = seconds.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

/// An error for the JSON API.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        (status, Json(json!({ "error": self.0.to_string() }))).into_response()
    }
}

fn error_page(error: &AppError) -> String {
    let back = match error {
        AppError::LoginRequired | AppError::TooManyAttempts(_) | AppError::LoginsPaused(_) => {
            "/login"
        }
        _ => "/",
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · pets</title><link rel="stylesheet" href="/static/css/pets.css"></head>
<body class="theme-day"><main class="card error">
<h1>{title}</h1>
<p class="message" role="alert">{message}</p>
<p><a class="button" href="{back}">Back</a></p>
</main></body></html>
"#,
        title = error.title(),
        message = escape(&error.to_string()),
    )
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `fallback`: an unknown address.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_escape_what_they_repeat() {
        let page = error_page(&AppError::BadRequest("<script>x</script>".into()));
        assert!(page.contains("&lt;script&gt;"));
        assert!(!page.contains("<script>x"));
    }

    /// Not recorded and not confirmed are different promises, told apart
    /// by status and by title.
    #[test]
    fn an_unconfirmed_vote_is_a_504_not_a_503() {
        let unconfirmed = AppError::Unconfirmed("Your vote could not be confirmed".into());
        assert_eq!(unconfirmed.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(error_page(&unconfirmed).contains("Not confirmed"));
        let refused = AppError::Unavailable("Your vote was not recorded".into());
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(error_page(&refused).contains("Not recorded"));
    }
}
