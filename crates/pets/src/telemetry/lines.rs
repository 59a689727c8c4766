//! The log's writer: lines are appended to a buffer in memory where they
//! are logged, and a thread of its own writes the buffer out, all of it in
//! one `write`, then lingers a moment so that under load the next batch has
//! gathered before it looks again.
//!
//! A line costs the request that logs it a lock and a copy, and nothing
//! else: the writer thread is woken only when it is waiting for lines, which
//! under load it never is (it is writing or lingering), where a queue with a
//! wake-up per line parks and unparks its writer for every line
//! (`docs/PERFORMANCE.md` measures both). No line is dropped: when
//! [`MAX_WAITING`] bytes wait, a request that logs waits for the writer.
//! An idle process's writer sleeps until a line comes.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use pets_store::sync::Locked;
use tracing_subscriber::fmt::MakeWriter;

/// Bytes of lines that may wait before a request that logs waits too:
/// about five thousand access lines.
pub const MAX_WAITING: usize = 1024 * 1024;
/// How long the writer lets lines gather after writing a batch.
pub const LINGER: Duration = Duration::from_millis(5);
/// A buffer grown past this by a burst is given back after its batch.
const KEEP_CAPACITY: usize = 64 * 1024;

struct Pending {
    lines: Vec<u8>,
    /// The writer waits for lines, and must be woken for the next.
    writer_waiting: bool,
    stopping: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    /// Signalled for the writer: lines came, or the process is stopping.
    lines_came: Condvar,
    /// Signalled for requests waiting for room: a batch was taken.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A thread that panicked while holding the lock left whole lines
        // (a line is appended in one `extend`), so go on with them.
        self.pending.locked()
    }
}

/// Where the log's formatter writes: cloned into the subscriber.
#[derive(Clone)]
pub struct Lines(Arc<Shared>);

/// Writes out what is left, and stops the writer, when dropped.
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread, writing to `out`.
pub fn start(out: impl Write + Send + 'static) -> std::io::Result<(Lines, Flusher)> {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending {
            lines: Vec::new(),
            writer_waiting: false,
            stopping: false,
        }),
        lines_came: Condvar::new(),
        room: Condvar::new(),
    });
    let writer = shared.clone();
    let thread = std::thread::Builder::new()
        .name("pets-log".into())
        .spawn(move || write_out(&writer, out))?;
    Ok((
        Lines(shared.clone()),
        Flusher {
            shared,
            thread: Some(thread),
        },
    ))
}

/// The writer thread: takes everything waiting, writes it, lingers.
fn write_out(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        {
            let mut pending = shared.lock();
            while pending.lines.is_empty() && !pending.stopping {
                pending.writer_waiting = true;
                pending = shared
                    .lines_came
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if pending.lines.is_empty() {
                return; // stopping, and everything is written
            }
            std::mem::swap(&mut pending.lines, &mut batch);
        }
        shared.room.notify_all();
        // Nowhere to report a failed write to but the log itself.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        if batch.capacity() > KEEP_CAPACITY {
            batch.shrink_to(KEEP_CAPACITY);
        }
        std::thread::sleep(LINGER);
    }
}

impl Lines {
    fn append(&self, line: &[u8]) {
        let mut pending = self.0.lock();
        while pending.lines.len() >= MAX_WAITING && !pending.stopping {
            pending = self
                .0
                .room
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        pending.lines.extend_from_slice(line);
        if std::mem::take(&mut pending.writer_waiting) {
            self.0.lines_came.notify_one();
        }
    }
}

/// What one event's formatted line is written through.
pub struct LineWriter<'a>(&'a Lines);

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.0.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(self)
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.lines_came.notify_one();
        self.shared.room.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read while the writer holds a clone.
    #[derive(Clone, Default)]
    struct Shelf(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Shelf {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(bytes.to_vec());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_the_flusher_is_dropped() {
        let shelf = Shelf::default();
        let (lines, flusher) = start(shelf.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let lines = lines.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        let mut writer = lines.make_writer();
                        writer.write_all(format!("{t} {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(flusher);
        let writes = shelf.0.lock().unwrap().clone();
        let text = String::from_utf8(writes.concat()).unwrap();
        let mut next = [0; 4];
        for line in text.lines() {
            let (t, i) = line.split_once(' ').unwrap();
            let t: usize = t.parse().unwrap();
            assert_eq!(
                i.parse::<usize>().unwrap(),
                next[t],
                "thread {t}'s lines in order"
            );
            next[t] += 1;
        }
        assert_eq!(next, [2_000; 4], "no line lost");
        assert!(
            writes.len() < 8_000,
            "lines are written in batches, not one write each ({} writes)",
            writes.len()
        );
    }

    #[test]
    fn a_request_waits_for_room_rather_than_dropping_a_line() {
        // An output that takes its time: the buffer fills and the logging
        // threads wait for it, and still every byte arrives.
        #[derive(Clone, Default)]
        struct Slow(Arc<Mutex<usize>>);
        impl Write for Slow {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                std::thread::sleep(Duration::from_millis(20));
                *self.0.lock().unwrap() += bytes.len();
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let slow = Slow::default();
        let (lines, flusher) = start(slow.clone()).unwrap();
        let line = vec![b'x'; 64 * 1024];
        for _ in 0..40 {
            lines.make_writer().write_all(&line).unwrap();
            assert!(lines.0.lock().lines.len() <= MAX_WAITING + line.len());
        }
        drop(flusher);
        assert_eq!(*slow.0.lock().unwrap(), 40 * line.len());
    }

    #[test]
    fn an_idle_writer_is_woken_by_the_next_line() {
        let shelf = Shelf::default();
        let (lines, _flusher) = start(shelf.clone()).unwrap();
        for i in 0..3 {
            // Long enough for the writer to be waiting again.
            std::thread::sleep(LINGER * 4);
            lines.make_writer().write_all(b"line\n").unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while shelf.0.lock().unwrap().len() <= i {
                assert!(std::time::Instant::now() < deadline, "line {i} not written");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}
