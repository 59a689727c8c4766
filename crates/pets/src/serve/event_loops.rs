//! Event loops of their own for connections, one thread each, as many as
//! the process may use cores.
//!
//! Each accepted connection is handed to one loop, the one holding the
//! fewest connections, and lives its whole life there: its socket is
//! registered with that loop's poller, its requests are handled on that
//! loop's thread, and the tasks its handlers spawn run there too. A loop is
//! a single-threaded tokio runtime, so a request that becomes ready is run
//! by the thread that saw it become ready: no hand-over to another worker,
//! no stealing, no waking a parked thread to run it; nginx, the
//! benchmark's yardstick, has one event loop per worker process too.
//!
//! A connection handed over waits in the loop's queue for tasks from other
//! threads, which the loop reads every [`NEWCOMERS_EVERY`] turns, so a crowd
//! arriving at once does not wait behind the connections already busy.
//! Handing a connection over costs its socket a second registration, once
//! per connection, not per request (`docs/PERFORMANCE.md` measures both). The store's background
//! work (watches, the vote dispatcher, flushes) stays on the main runtime,
//! which the loops reach through the same channels and locks as before.
//! Dropping [`EventLoops`] stops every loop; connections still open on one
//! are closed.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::Counted;

/// How often, in tasks run, a loop takes the next task handed to it from
/// another thread (a connection just accepted, or an answer from the main
/// runtime) before the tasks already running on it. Tokio's 31 let a
/// crowd's established connections keep a newcomer waiting: right after
/// 10,000 clients connected, a new connection's `/health` took over a
/// second (`docs/PERFORMANCE.md`).
const NEWCOMERS_EVERY: u32 = 4;

/// The loops of one process; see the module's documentation.
pub struct EventLoops {
    loops: Vec<EventLoop>,
}

struct EventLoop {
    handle: Handle,
    /// Connections this loop holds now.
    held: Arc<AtomicUsize>,
    /// Dropped, stops the loop's thread.
    _stop: oneshot::Sender<()>,
}

impl EventLoops {
    /// One loop per core this process may use (`available_parallelism`,
    /// which counts a container's CPU quota), at least one.
    pub fn start() -> std::io::Result<Self> {
        let count = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_count(count)
    }

    /// `count` loops, at least one.
    pub fn with_count(count: usize) -> std::io::Result<Self> {
        let loops = (0..count.max(1))
            .map(EventLoop::start)
            .collect::<std::io::Result<_>>()?;
        Ok(Self { loops })
    }

    /// Runs `connection` in `set` on the loop holding the fewest
    /// connections, counted there until it ends. `connection` runs with the
    /// loop's runtime as its context, so a socket it registers is polled by
    /// the loop.
    pub fn spawn<F>(&self, set: &mut JoinSet<()>, connection: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let chosen = self
            .loops
            .iter()
            .min_by_key(|each| each.held.load(Ordering::Relaxed))
            .expect("there is at least one loop");
        let held = Counted::new(&chosen.held);
        set.spawn_on(
            async move {
                let _held = held;
                connection.await;
            },
            &chosen.handle,
        );
    }
}

impl EventLoop {
    fn start(index: usize) -> std::io::Result<Self> {
        let runtime = Builder::new_current_thread()
            .enable_all()
            .global_queue_interval(NEWCOMERS_EVERY)
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("pets-loop-{index}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_go_to_the_least_held_loop_and_run_on_its_thread() {
        let loops = EventLoops::with_count(2).unwrap();
        let (release, released) = tokio::sync::watch::channel(false);
        let mut threads = Vec::new();
        let mut set = JoinSet::new();
        for _ in 0..4 {
            let mut released = released.clone();
            let (name_tx, name_rx) = oneshot::channel();
            loops.spawn(&mut set, async move {
                let _ = name_tx.send(std::thread::current().name().map(str::to_owned));
                let _ = released.wait_for(|&r| r).await;
            });
            threads.push(name_rx.await.unwrap().unwrap());
        }
        threads.sort();
        assert_eq!(
            threads,
            ["pets-loop-0", "pets-loop-0", "pets-loop-1", "pets-loop-1"]
        );
        release.send(true).unwrap();
        while let Some(ended) = set.join_next().await {
            ended.unwrap();
        }
        let held: Vec<usize> = loops
            .loops
            .iter()
            .map(|each| each.held.load(Ordering::Relaxed))
            .collect();
        assert_eq!(held, [0, 0], "a connection that ended is no longer held");
    }

    #[tokio::test]
    async fn connections_handed_over_in_a_crowd_start_without_waiting_for_the_busy_ones() {
        let loops = EventLoops::with_count(1).unwrap();
        let mut set = JoinSet::new();
        let ticks = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        // Established connections that always have work: each yields and
        // goes again, counting the loop's turns.
        for _ in 0..200 {
            let (ticks, stopped) = (ticks.clone(), stopped.clone());
            loops.spawn(&mut set, async move {
                while !*stopped.borrow() {
                    ticks.fetch_add(1, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            });
        }
        while ticks.load(Ordering::Relaxed) < 1_000 {
            tokio::task::yield_now().await;
        }
        // The loop held still (a task blocking its thread) while a crowd of
        // newcomers is handed over, so they all wait from the same turn;
        // each then says how many turns the busy ones took before it ran.
        let (held_tx, held) = std::sync::mpsc::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        loops.spawn(&mut set, async move {
            let _ = held_tx.send(());
            let _ = released.recv();
        });
        held.recv().unwrap();
        let handed = ticks.load(Ordering::Relaxed);
        let crowd = 100;
        let (ran_tx, mut ran) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..crowd {
            let (ticks, ran_tx) = (ticks.clone(), ran_tx.clone());
            loops.spawn(&mut set, async move {
                let _ = ran_tx.send(ticks.load(Ordering::Relaxed) - handed);
            });
        }
        release.send(()).unwrap();
        let mut longest = 0;
        for _ in 0..crowd {
            longest = longest.max(ran.recv().await.unwrap());
        }
        stop.send(true).unwrap();
        while set.join_next().await.is_some() {}
        // One newcomer every NEWCOMERS_EVERY turns, the rest busy ones:
        // about 300 for the last; tokio's default of 31 makes it 3,000.
        assert!(
            longest < crowd * NEWCOMERS_EVERY as usize * 2,
            "a newcomer waited {longest} turns"
        );
    }

    #[tokio::test]
    async fn dropping_the_loops_closes_what_they_hold() {
        let loops = EventLoops::with_count(1).unwrap();
        let mut set = JoinSet::new();
        loops.spawn(&mut set, std::future::pending());
        drop(loops);
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), set.join_next())
            .await
            .expect("the loop stopped");
        assert!(ended.unwrap().unwrap_err().is_cancelled());
    }
}
