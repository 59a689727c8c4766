//! Logging: one line per event on standard output, level from `RUST_LOG`,
//! or `info` (`debug` under `DEBUG`); human-readable, or one JSON object a
//! line with `LOG_FORMAT=json` for log shippers.
//!
//! Lines are formatted where they happen and written by a thread of their
//! own ([`lines`]), which writes everything waiting in one go: under load
//! that is one `write` for many requests' lines instead of one each, and a
//! request never waits on the terminal or the log file (`docs/PERFORMANCE.md` says
//! what that cost). No line
//! is dropped: if the writer falls far behind, the request waits for it.
//! Keep the [`LogGuard`] until the process ends; dropping it writes out what
//! is left.
//!
//! Every request has an id ([`access_log`]): the client's `X-Request-Id`
//! when it sends a sensible one, made up otherwise. It is returned in the
//! response and carried by the request's span, so every line logged while
//! handling the request names it.

use std::io::IsTerminal;
use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

mod lines;

/// The request id header, read and returned.
pub const REQUEST_ID: &str = "x-request-id";
/// The longest request id taken from a client.
const MAX_REQUEST_ID: usize = 128;

/// `LOG_FORMAT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// What the logger is set up with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing filter, such as `info` or `warn,pets=debug`.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

/// Keeps the log writer running; dropped, it writes out what is waiting.
#[must_use = "logs written after the guard is dropped are lost"]
pub struct LogGuard(#[allow(dead_code)] Option<lines::Flusher>);

/// Installs the logger for this process; the first call wins.
pub fn init(settings: &LogSettings) -> LogGuard {
    let ansi = std::io::stdout().is_terminal();
    let (writer, guard) =
        lines::start(std::io::stdout()).expect("cannot start the log's writer thread");
    let filter = EnvFilter::new(&settings.filter);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer);
    let installed = match settings.format {
        LogFormat::Text => builder.with_ansi(ansi).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    LogGuard(installed.ok().map(|()| guard))
}

/// Middleware, outermost: gives the request its id, returns it in the
/// response, and logs one line for each answer, with its status and how
/// long it took, inside the request's span (so the line, and every line
/// logged while the request is handled, names the method, path and id).
pub async fn access_log(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .filter(|v| acceptable(v))
        .cloned()
        .unwrap_or_else(new_id);
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id.to_str().unwrap_or("-"),
    );
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "answered"
        );
    });
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// A client's id is used when it is short and made of letters, digits and
/// `-_.:`; anything else could forge or garble log lines.
fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn new_id() -> HeaderValue {
    HeaderValue::from_str(&hex::encode(rand::random::<[u8; 8]>()))
        .expect("hex is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sensible_ids_are_taken_from_clients() {
        for good in ["abc-123", "0f3a.x:y_z"] {
            assert!(acceptable(&HeaderValue::from_static(good)), "{good}");
        }
        let long = "a".repeat(MAX_REQUEST_ID + 1);
        for bad in ["", "a b", "a\"b", "{}", long.as_str()] {
            assert!(!acceptable(&HeaderValue::from_str(bad).unwrap()), "{bad}");
        }
        assert_eq!(new_id().len(), 16);
        assert_eq!(LogFormat::parse("JSON"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("xml"), None);
    }
}
