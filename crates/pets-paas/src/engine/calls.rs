//! What both engines do with the Docker API's answers: a refusal in the
//! engine's own words, a removal of what is already gone taken as done.

use super::EngineError;

/// A 404 from a removal means it was already gone.
pub fn gone_is_fine(
    result: Result<(), bollard::errors::Error>,
) -> Result<(), bollard::errors::Error> {
    match result {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        other => other,
    }
}

/// The engine's answer to `action`, as an [`EngineError`].
pub fn refused(action: &'static str) -> impl Fn(bollard::errors::Error) -> EngineError {
    move |e| match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => {
            EngineError::Refused { action, message }
        }
        other => EngineError::Unreachable(other.to_string()),
    }
}
