//! The voter site's side of faults: middleware that puts the latency and
//! errors in force on this replica into its pages. Health and the fault
//! switches are left alone, so the health check only follows health.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::faults::Faults;

/// Middleware: the latency and errors in force.
pub async fn inject(State(faults): State<Arc<Faults>>, request: Request, next: Next) -> Response {
    let latency = faults.latency_ms();
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let percent = faults.error_percent();
    if percent > 0 && rand::random_range(0..100) < percent {
        return AppError::Internal(format!(
            "an injected fault answers {percent}% of requests on this replica with an error"
        ))
        .into_response();
    }
    next.run(request).await
}
