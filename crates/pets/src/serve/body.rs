//! A request's body as the server hands it on, guarded against clients that
//! send it slowly.
//!
//! * **A deadline on the whole body** (`PETS_BODY_TIMEOUT`), counted from the
//!   request's arrival, not from its last byte: a client cannot keep a
//!   request alive by sending one byte now and then.
//! * **A minimum rate** (`PETS_BODY_MIN_RATE` bytes a second, from
//!   [`GRACE`] after the headers): a body that trickles is cut well before
//!   the deadline.
//! * **Gathered as it arrives**: each frame's bytes are copied into one
//!   buffer and the frame dropped at once, so a body sent a byte at a time
//!   holds its own bytes, not the read buffer each byte arrived in (kept
//!   alive by that byte, it was kilobytes per byte). Data is handed on in
//!   chunks of up to [`CHUNK`] bytes, and the rest at the end.
//! * **In flight only once complete**: until its body has arrived, a
//!   request is waiting on its client, not on pets, and its connection may
//!   be closed to make room for another ([`super::slots`]); from then on it
//!   is in flight, and kept.
//!
//! A body cut short this way ends with an error, which the server answers
//! with `408` and closes the connection ([`Outcome::timed_out`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::slots::InFlight;

/// How long after the headers the minimum rate starts to apply.
pub const GRACE: Duration = Duration::from_secs(2);
/// The most gathered before it is handed on.
pub const CHUNK: usize = 16 * 1024;

/// What a guarded body says of its request once the handler is done.
#[derive(Default)]
pub struct Outcome {
    timed_out: AtomicBool,
}

impl Outcome {
    /// Whether the body was cut for arriving too slowly.
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }
}

/// Why a body was cut.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the request's body did not arrive within {0:?}")]
    Deadline(Duration),
    #[error("the request's body arrived slower than {0} bytes a second")]
    TooSlow(u64),
    #[error("the request's body could not be read: {0}")]
    Read(#[from] hyper::Error),
}

/// How a body is guarded.
#[derive(Debug, Clone, Copy)]
pub struct BodyRules {
    /// The whole body must arrive within this of the request's start.
    pub timeout: Duration,
    /// Bytes a second, from [`GRACE`] on; 0 for no minimum.
    pub min_rate: u64,
}

/// The guarded body (see the module's doc).
pub struct GuardedBody<B> {
    inner: B,
    rules: BodyRules,
    started: Instant,
    deadline: Pin<Box<Sleep>>,
    next_check: Pin<Box<Sleep>>,
    received: u64,
    gathered: Vec<u8>,
    trailers: Option<Frame<Bytes>>,
    ended: bool,
    in_flight: Arc<InFlight>,
    outcome: Arc<Outcome>,
}

impl<B> GuardedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    /// Guards `inner`, which arrived now; `in_flight` is marked once it has
    /// all arrived (at once, for a body that is already complete).
    pub fn new(
        inner: B,
        rules: BodyRules,
        in_flight: Arc<InFlight>,
        outcome: Arc<Outcome>,
    ) -> Self {
        let started = Instant::now();
        if inner.is_end_stream() {
            in_flight.mark();
        }
        Self {
            inner,
            rules,
            started,
            deadline: Box::pin(tokio::time::sleep_until(started + rules.timeout)),
            next_check: Box::pin(tokio::time::sleep_until(started + GRACE)),
            received: 0,
            gathered: Vec::new(),
            trailers: None,
            ended: false,
            in_flight,
            outcome,
        }
    }

    fn cut(&mut self, error: BodyError) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.outcome.timed_out.store(true, Ordering::Relaxed);
        self.ended = true;
        self.gathered = Vec::new();
        Poll::Ready(Some(Err(error)))
    }

    fn take_gathered(&mut self) -> Frame<Bytes> {
        Frame::data(Bytes::from(std::mem::take(&mut self.gathered)))
    }

    /// Whether the body is behind its minimum rate now.
    fn behind(&self, now: Instant) -> bool {
        let counted = now.saturating_duration_since(self.started + GRACE);
        self.rules.min_rate > 0
            && (self.received as f64) < self.rules.min_rate as f64 * counted.as_secs_f64()
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes, Error = hyper::Error> + Unpin,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                if !this.gathered.is_empty() {
                    return Poll::Ready(Some(Ok(this.take_gathered())));
                }
                return Poll::Ready(this.trailers.take().map(Ok));
            }
            if this.deadline.as_mut().poll(cx).is_ready() {
                return this.cut(BodyError::Deadline(this.rules.timeout));
            }
            if this.next_check.as_mut().poll(cx).is_ready() {
                let now = Instant::now();
                if this.behind(now) {
                    return this.cut(BodyError::TooSlow(this.rules.min_rate));
                }
                this.next_check
                    .as_mut()
                    .reset(now + Duration::from_millis(250));
                continue;
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                None => {
                    this.ended = true;
                    this.in_flight.mark();
                }
                Some(Err(e)) => {
                    this.ended = true;
                    this.gathered = Vec::new();
                    return Poll::Ready(Some(Err(BodyError::Read(e))));
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        this.received += data.len() as u64;
                        this.gathered.extend_from_slice(&data);
                        drop(data);
                        if this.gathered.len() >= CHUNK {
                            return Poll::Ready(Some(Ok(this.take_gathered())));
                        }
                    }
                    Err(trailers) => {
                        this.ended = true;
                        this.in_flight.mark();
                        this.trailers = Some(trailers);
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.gathered.is_empty() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.inner.size_hint();
        let held = self.gathered.len() as u64;
        hint.set_lower(hint.lower() + held);
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper + held);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tokio::sync::mpsc;

    /// A body fed by the test, a frame at a time.
    struct Fed(mpsc::Receiver<Bytes>);

    impl Body for Fed {
        type Data = Bytes;
        type Error = hyper::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
            self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
        }
    }

    fn guarded(rules: BodyRules) -> (mpsc::Sender<Bytes>, GuardedBody<Fed>, Arc<Outcome>) {
        let (tx, rx) = mpsc::channel(1024);
        let outcome = Arc::new(Outcome::default());
        let body = GuardedBody::new(
            Fed(rx),
            rules,
            Arc::new(InFlight::default()),
            outcome.clone(),
        );
        (tx, body, outcome)
    }

    const RULES: BodyRules = BodyRules {
        timeout: Duration::from_secs(10),
        min_rate: 100,
    };

    #[tokio::test(start_paused = true)]
    async fn a_body_sent_in_time_arrives_whole_in_one_piece() {
        let (tx, body, outcome) = guarded(RULES);
        let sender = tokio::spawn(async move {
            for byte in b"name=Ada&vote=a" {
                tx.send(Bytes::copy_from_slice(&[*byte])).await.unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let mut body = body;
        let mut frames = Vec::new();
        while let Some(frame) = body.frame().await {
            frames.push(frame.unwrap().into_data().unwrap());
        }
        sender.await.unwrap();
        assert_eq!(frames, [Bytes::from_static(b"name=Ada&vote=a")]);
        assert!(!outcome.timed_out());
        assert!(body.in_flight.is_marked());
    }

    #[tokio::test(start_paused = true)]
    async fn a_byte_now_and_then_does_not_outlive_the_deadline() {
        let rules = BodyRules {
            min_rate: 0,
            ..RULES
        };
        let (tx, body, outcome) = guarded(rules);
        let started = Instant::now();
        tokio::spawn(async move {
            while tx.send(Bytes::from_static(b"x")).await.is_ok() {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        let error = body.collect().await.expect_err("cut");
        assert!(matches!(error, BodyError::Deadline(_)), "{error}");
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        assert!(outcome.timed_out());
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_below_the_minimum_rate_is_cut_early() {
        let (tx, body, outcome) = guarded(RULES);
        let started = Instant::now();
        let in_flight = body.in_flight.clone();
        tokio::spawn(async move {
            // 50 bytes a second against a minimum of 100.
            while tx.send(Bytes::from_static(b"x")).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let error = body.collect().await.expect_err("cut");
        assert!(matches!(error, BodyError::TooSlow(100)), "{error}");
        let took = started.elapsed();
        assert!(took > GRACE && took < Duration::from_secs(5), "{took:?}");
        assert!(outcome.timed_out());
        assert!(
            !in_flight.is_marked(),
            "never in flight: its body never came"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn large_bodies_go_on_in_chunks() {
        let (tx, body, _) = guarded(RULES);
        tokio::spawn(async move {
            for _ in 0..40 {
                tx.send(Bytes::from(vec![b'x'; 1000])).await.unwrap();
            }
        });
        let mut body = body;
        let mut sizes = Vec::new();
        while let Some(frame) = body.frame().await {
            sizes.push(frame.unwrap().into_data().unwrap().len());
        }
        assert_eq!(sizes.iter().sum::<usize>(), 40_000);
        assert!(sizes.iter().all(|&s| s <= CHUNK + 1000), "{sizes:?}");
        assert_eq!(sizes.len(), 3, "{sizes:?}");
    }
}
