//! Event loops of their own for connections, one thread each, as many as
//! the process may use cores.
//!
//! Each accepted connection is handed to one lane, the one holding the
//! fewest connections, and lives its whole life there: its socket is
//! registered with that lane's poller, its requests are handled on that
//! lane's thread, and the tasks its handlers spawn run there too. A lane is
//! a single-threaded tokio runtime, so a request that becomes ready is run
//! by the thread that saw it become ready: no hand-over to another worker,
//! no stealing, no waking a parked thread to run it. That hand-over was
//! what set pets apart from nginx's one-loop-per-worker on the pet page
//! (`docs/PERFORMANCE.md`).
//!
//! The store's background work (watches, the vote dispatcher, flushes)
//! stays on the main runtime, which lanes reach through the same channels
//! and locks as before. Dropping [`Lanes`] stops every lane; connections
//! still open on one are closed.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// The lanes of one process; see the module's documentation.
pub struct Lanes {
    lanes: Vec<Lane>,
}

struct Lane {
    handle: Handle,
    /// Connections this lane holds now.
    held: Arc<AtomicUsize>,
    /// Dropped, stops the lane's thread.
    _stop: oneshot::Sender<()>,
}

impl Lanes {
    /// One lane per core this process may use (`available_parallelism`,
    /// which counts a container's CPU quota), at least one.
    pub fn start() -> std::io::Result<Self> {
        let count = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_count(count)
    }

    /// `count` lanes, at least one.
    pub fn with_count(count: usize) -> std::io::Result<Self> {
        let lanes = (0..count.max(1))
            .map(Lane::start)
            .collect::<std::io::Result<_>>()?;
        Ok(Self { lanes })
    }

    /// Runs `connection` in `set` on the lane holding the fewest
    /// connections, counted there until it ends. `connection` runs with the
    /// lane's runtime as its context, so a socket it registers is polled by
    /// the lane.
    pub fn spawn<F>(&self, set: &mut JoinSet<()>, connection: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let lane = self
            .lanes
            .iter()
            .min_by_key(|lane| lane.held.load(Ordering::Relaxed))
            .expect("there is at least one lane");
        lane.held.fetch_add(1, Ordering::Relaxed);
        let held = Held(lane.held.clone());
        set.spawn_on(
            async move {
                let _held = held;
                connection.await;
            },
            &lane.handle,
        );
    }
}

impl Lane {
    fn start(index: usize) -> std::io::Result<Self> {
        let runtime = Builder::new_current_thread().enable_all().build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("pets-lane-{index}"))
            .spawn(move || {
                // Ends when the sender is dropped; the runtime, dropped
                // here, cancels what is left on it.
                let _ = runtime.block_on(stopped);
            })?;
        Ok(Self {
            handle,
            held: Arc::new(AtomicUsize::new(0)),
            _stop: stop,
        })
    }
}

/// One connection counted against its lane while it lives.
struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_go_to_the_least_held_lane_and_run_on_its_thread() {
        let lanes = Lanes::with_count(2).unwrap();
        let (release, released) = tokio::sync::watch::channel(false);
        let mut threads = Vec::new();
        let mut set = JoinSet::new();
        for _ in 0..4 {
            let mut released = released.clone();
            let (name_tx, name_rx) = oneshot::channel();
            lanes.spawn(&mut set, async move {
                let _ = name_tx.send(std::thread::current().name().map(str::to_owned));
                let _ = released.wait_for(|&r| r).await;
            });
            threads.push(name_rx.await.unwrap().unwrap());
        }
        threads.sort();
        assert_eq!(
            threads,
            ["pets-lane-0", "pets-lane-0", "pets-lane-1", "pets-lane-1"]
        );
        release.send(true).unwrap();
        while let Some(ended) = set.join_next().await {
            ended.unwrap();
        }
        let held: Vec<usize> = lanes
            .lanes
            .iter()
            .map(|lane| lane.held.load(Ordering::Relaxed))
            .collect();
        assert_eq!(held, [0, 0], "a connection that ended is no longer held");
    }

    #[tokio::test]
    async fn dropping_the_lanes_closes_what_they_hold() {
        let lanes = Lanes::with_count(1).unwrap();
        let mut set = JoinSet::new();
        lanes.spawn(&mut set, std::future::pending());
        drop(lanes);
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), set.join_next())
            .await
            .expect("the lane stopped");
        assert!(ended.unwrap().unwrap_err().is_cancelled());
    }
}
