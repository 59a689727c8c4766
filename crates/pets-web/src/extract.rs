//! Request bodies parsed with errors people can read: a form or JSON that
//! does not parse becomes a 400 page (or JSON), one over the size limit a 413.

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, AppError};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// `axum::Form`, answering bad input with an [`AppError`] page.
pub struct FormInput<T>(pub T);

impl<S, T> FromRequest<S> for FormInput<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(rejection) => Err(form_error(rejection)),
        }
    }
}

fn form_error(rejection: FormRejection) -> AppError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            AppError::BadRequest("Send the form as application/x-www-form-urlencoded.".into())
        }
        _ => AppError::BadRequest(format!(
            "The form could not be read: {}",
            rejection.body_text()
        )),
    }
}

/// `axum::Json`, answering bad input with a JSON error.
pub struct JsonInput<T>(pub T);

impl<S, T> FromRequest<S> for JsonInput<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_error(rejection).json()),
        }
    }
}

fn json_error(rejection: JsonRejection) -> AppError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge,
        _ => AppError::BadRequest(format!(
            "The JSON could not be read: {}",
            rejection.body_text()
        )),
    }
}
