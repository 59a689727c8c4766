//! Waiting for something to become true, the one way every test does it.
//!
//! A probe answers either a value (done) or why not yet. A probe never fails
//! the test itself: a docker command that fails because a network or task is
//! not there yet is a "not yet" like any other. Only the deadline fails the
//! test, and its message carries the last reason the probe gave.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often a probe is asked again.
const POLL: Duration = Duration::from_millis(250);

/// What a probe may answer: `Some`/`Ok` is done; `None`/`Err` is not yet.
pub trait Attempt {
    type Value;
    fn attempt(self) -> Result<Self::Value, String>;
}

impl<T> Attempt for Option<T> {
    type Value = T;
    fn attempt(self) -> Result<T, String> {
        self.ok_or_else(|| "not yet".to_owned())
    }
}

impl<T, E: Display> Attempt for Result<T, E> {
    type Value = T;
    fn attempt(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// `value` if `check` holds for it, else "not yet" naming the value seen.
pub fn holds<T: std::fmt::Debug>(value: T, check: impl FnOnce(&T) -> bool) -> Result<T, String> {
    if check(&value) {
        Ok(value)
    } else {
        Err(format!("last seen {value:?}"))
    }
}

/// Asks `probe` every 250 ms until it answers a value, and returns it. After
/// `limit`, fails the test with `what` and the probe's last reason.
pub async fn eventually<A, F, Fut>(limit: Duration, what: &str, mut probe: F) -> A::Value
where
    A: Attempt,
    F: FnMut() -> Fut,
    Fut: Future<Output = A>,
{
    let started = Instant::now();
    loop {
        let last = match probe().await.attempt() {
            Ok(value) => return value,
            Err(why) => why,
        };
        assert!(
            started.elapsed() < limit,
            "{what}: not within {limit:?} ({last})"
        );
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_probe_that_errs_first_is_asked_again() {
        let calls = AtomicU32::new(0);
        let value = eventually(Duration::from_secs(5), "third time", || async {
            match calls.fetch_add(1, Ordering::Relaxed) {
                0 | 1 => Err("no network yet"),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(value, 2);
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "never: not within 1s (last seen 7)")]
    async fn the_deadline_names_the_last_reason() {
        eventually(Duration::from_secs(1), "never", || async {
            holds(7, |v| *v == 8)
        })
        .await;
    }
}
