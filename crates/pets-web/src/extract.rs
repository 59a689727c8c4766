//! Request bodies parsed with errors people can read: a form or JSON that
//! does not parse becomes a 400 page (or JSON), one over the size limit a 413.

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, AppError};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// `axum::Form`, answering bad input with an [`AppError`] page. Media types
/// are case-insensitive, so the content type is lowered first (axum's own
/// check is not), which is why this one is not derived like [`JsonInput`].
pub struct FormInput<T>(pub T);

impl<S, T> FromRequest<S> for FormInput<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(mut req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let lowered = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
            .and_then(|v| HeaderValue::from_str(&v).ok());
        if let Some(lowered) = lowered {
            req.headers_mut().insert(header::CONTENT_TYPE, lowered);
        }
        let axum::Form(value) = axum::Form::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// `axum::Json`, answering bad input with a JSON error.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct JsonInput<T>(pub T);

impl From<FormRejection> for AppError {
    fn from(rejection: FormRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                AppError::BadRequest("Send the form as application/x-www-form-urlencoded.".into())
            }
            _ => {
                tracing::debug!(detail = %rejection.body_text(), "unreadable form");
                AppError::BadRequest(
                    "The form could not be read: send each field once, as text.".into(),
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let error = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                AppError::BadRequest("Send JSON, with the content type application/json.".into())
            }
            _ => {
                tracing::debug!(detail = %rejection.body_text(), "unreadable JSON");
                AppError::BadRequest(
                    "The JSON could not be read: check its syntax, its fields and their types."
                        .into(),
                )
            }
        };
        error.json()
    }
}
