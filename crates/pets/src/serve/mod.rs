//! Serving one port with hyper directly, hardened for the open internet.
//!
//! Every connection gets a deadline for its request headers (counted from
//! when it opens or goes idle, so it is also the keep-alive idle timeout),
//! limits on the size and number of its headers, and each request's body a
//! deadline, a minimum rate and bounded memory ([`body`]).
//! The port holds a bounded number of connections ([`slots`]), the oldest
//! idle one making room for a new one. The accept loop never stops: a failed
//! accept, even for want of file descriptors, waits a moment and goes on.
//! On stop, connections finish the request in flight and close. Before
//! that, a [`Phase::Closing`] may come first: the port still accepts and
//! answers, but every connection closes after its next answer, so clients
//! that keep connections alive come back through name resolution, and find
//! the replicas that are not stopping.
//!
//! The accept loop runs on the main runtime; each connection it admits is
//! served, its whole life, on one of the [`event_loops`]: threads with an
//! event loop each, like nginx's workers.

pub mod body;
mod event_loops;
mod slots;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use self::body::{BodyRules, GuardedBody, Outcome};
use self::slots::{Slots, Ticket};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

pub use self::event_loops::EventLoops;
pub use self::slots::{connections_that_fit, RESERVE};

/// The pause after a failed accept (say, no file descriptor left) before
/// the next: long enough not to spin, short enough that a health check
/// waiting in the backlog is answered well within its timeout.
const ACCEPT_RETRY: Duration = Duration::from_millis(20);
/// A failed accept is logged at most this often.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(5);
/// How long requests in flight may take to finish at shutdown.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(6);
/// Connections the kernel may hold for the accept loop. A crowd connecting
/// at once (10,000 keep-alive clients in the benchmark) overflows a short
/// queue, and a connection dropped there waits a second for its SYN to be
/// sent again. The kernel caps this at `net.core.somaxconn` (4,096 by
/// default); `TcpListener::bind` (std's and tokio's) asks for 128.
const BACKLOG: u32 = 8_192;

/// A listening socket on `addr`, with [`BACKLOG`] and the address reusable
/// at once after a restart, as `TcpListener::bind` does.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// What each port allows; see docs/SECURITY.md's settings table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `PETS_HEADER_TIMEOUT`: to receive a request's headers, from when the
    /// connection opens or goes idle.
    pub header_timeout: Duration,
    /// `PETS_BODY_TIMEOUT`: to receive a request's whole body.
    pub body_timeout: Duration,
    /// `PETS_BODY_MIN_RATE`: bytes a second a body must keep up, from
    /// [`body::GRACE`] after its headers; 0 for no minimum.
    pub body_min_rate: u64,
    /// `PETS_MAX_CONNECTIONS`: connections held open per port.
    pub max_connections: usize,
    /// `PETS_MAX_HEADER_BYTES`: the request line and headers together.
    pub max_header_bytes: usize,
    /// `PETS_MAX_HEADERS`: how many headers one request may carry.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            body_min_rate: 256,
            max_connections: 1024,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
        }
    }
}

/// Where a port is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Serving,
    /// Still accepting and answering, one request per connection.
    Closing,
    /// Not accepting; connections finish their request in flight.
    Stopped,
}

/// Serves `router` on `listener` until `phase` reaches
/// [`Phase::Stopped`], then waits for the connections to finish. Each
/// connection is served on one of `loops`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut phase: watch::Receiver<Phase>,
    loops: Arc<EventLoops>,
) {
    let slots = Slots::new(limits.max_connections);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(limits.max_headers)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size((limits.max_header_bytes * 2).max(8192));
    let mut one_shot = builder.clone();
    one_shot.keep_alive(false);
    let (builder, one_shot) = (Arc::new(builder), Arc::new(one_shot));
    let rules = BodyRules {
        timeout: limits.body_timeout,
        min_rate: limits.body_min_rate,
    };
    let mut connections = JoinSet::new();
    let mut last_logged: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = reached(&mut phase, Phase::Stopped) => break,
        };
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                if last_logged.is_none_or(|at| at.elapsed() >= ACCEPT_LOG_EVERY) {
                    tracing::warn!(error = %e, "cannot accept a connection; retrying");
                    last_logged = Some(Instant::now());
                }
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let Some(ticket) = slots.admit() else {
            tracing::debug!(%peer, "every connection busy: refused");
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Taken off this runtime's poller, to be registered with the loop's.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "connection lost before it was served");
                continue;
            }
        };
        let closing = *phase.borrow() >= Phase::Closing;
        let connection = Connection {
            builder: if closing { &one_shot } else { &builder }.clone(),
            router: router.clone(),
            rules,
            ticket: Arc::new(ticket),
            peer,
            // One opened while closing closes after its answer by itself.
            close_at: if closing {
                Phase::Stopped
            } else {
                Phase::Closing
            },
        };
        let phase = phase.clone();
        loops.spawn(&mut connections, async move {
            match TcpStream::from_std(stream) {
                Ok(stream) => connection.run(stream, phase).await,
                Err(e) => tracing::warn!(%peer, error = %e, "cannot serve a connection"),
            }
        });
    }
    // Closed now, not after the drain: connections the kernel would queue
    // meanwhile (up to the backlog) are refused at once instead of reset
    // after their requests were sent.
    drop(listener);
    while connections.join_next().await.is_some() {}
}

struct Connection {
    builder: Arc<http1::Builder>,
    router: Router,
    rules: BodyRules,
    ticket: Arc<Ticket>,
    peer: SocketAddr,
    /// The phase at which this connection is told to close once idle.
    close_at: Phase,
}

impl Connection {
    async fn run(self, stream: TcpStream, mut phase: watch::Receiver<Phase>) {
        let Self {
            builder,
            router,
            rules,
            ticket,
            peer,
            close_at,
        } = self;
        let requests = ticket.clone();
        let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let in_flight = Arc::new(requests.request());
            let outcome = Arc::new(Outcome::default());
            let (mut parts, body) = request.into_parts();
            parts.extensions.insert(ConnectInfo(peer));
            let body = GuardedBody::new(body, rules, in_flight.clone(), outcome.clone());
            let api = parts.uri.path().starts_with("/api/");
            let request = http::Request::from_parts(parts, axum::body::Body::new(body));
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await;
                drop(in_flight);
                if outcome.timed_out() {
                    tracing::info!(%peer, "request refused: its body arrived too slowly");
                    return Ok(too_slow(api));
                }
                response
            }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
            }
            // Dropping the connection closes it: it was idle.
            _ = ticket.evicted() => tracing::debug!(%peer, "idle connection closed to make room"),
            // Closes once idle: at once, or after the answer in flight.
            _ = reached(&mut phase, close_at) => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
        }
    }
}

/// The answer to a request whose body was cut for arriving too slowly: a
/// page, or JSON under `/api/`, and the connection closed after it.
fn too_slow(api: bool) -> axum::response::Response {
    use axum::response::IntoResponse;
    let error = pets_web::AppError::BodyTooSlow("The request's body arrived too slowly.".into());
    let mut response = if api {
        error.json().into_response()
    } else {
        error.into_response()
    };
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}

/// One of something (a request in flight, a connection on a loop) counted
/// in a shared figure while it lives.
pub struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Waits for `servers` (told [`Phase::Stopped`]) to finish their requests
/// in flight, for at most [`DRAIN_TIMEOUT`]; past it, cancels them, which
/// drops their connections and so closes every one still open, with a
/// warning saying so.
pub async fn drain(mut servers: JoinHandle<()>) {
    if tokio::time::timeout(DRAIN_TIMEOUT, &mut servers)
        .await
        .is_ok()
    {
        return;
    }
    tracing::warn!("requests still open after {DRAIN_TIMEOUT:?}; closing them");
    servers.abort();
    let _ = servers.await;
}

/// Completes once `phase` reaches `at` (or its sender is gone).
async fn reached(phase: &mut watch::Receiver<Phase>, at: Phase) {
    let _ = phase.wait_for(|&p| p >= at).await.is_ok();
}

/// `limits` for a process about to serve two ports: its open-files limit
/// raised as far as it goes, and the connection cap lowered, with a warning,
/// if the ports could not hold that many within it. Both servers of `pets`
/// and the one of `pets paas` start this way.
pub fn fit_to_open_files(mut limits: Limits) -> Limits {
    let open_files = pets_web::open_files::raise_open_files_limit();
    let fit = connections_that_fit(open_files);
    if limits.max_connections > fit {
        tracing::warn!(
            asked = limits.max_connections,
            open_files,
            "PETS_MAX_CONNECTIONS lowered to {fit} per port to fit the open-files limit"
        );
        limits.max_connections = fit;
    }
    limits
}
