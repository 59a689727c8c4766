//! The open connections of one port, and which one makes room for another.
//!
//! A port holds at most `cap` connections. When a new one arrives at the
//! cap, the oldest connection with no request in flight is told to close and
//! the new one takes its place: a connection that only holds a socket open
//! (idle keep-alive, a slowloris sending headers byte by byte, a request
//! whose body is still trickling in, an event stream a browser will reopen
//! by itself) never keeps a new visitor, or the orchestrator's health check,
//! out. A request is in flight ([`InFlight::mark`]) once its body has
//! arrived: from then on it waits on pets, not on its client. Only when every connection is busy with
//! a request does a new one go into a small reserve, and past that it is
//! refused. So the port never holds more than `cap + RESERVE` sockets, and
//! the process never runs out of file descriptors on its own account.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Notify;

use super::Counted;
use pets_store::sync::Locked;

/// Connections admitted past the cap while every other one is busy.
pub const RESERVE: usize = 16;

pub struct Slots {
    cap: usize,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next: u64,
    /// By age: the lowest id is the oldest.
    open: BTreeMap<u64, Shared>,
}

#[derive(Clone, Default)]
struct Shared {
    busy: Arc<AtomicUsize>,
    evicted: Arc<Notify>,
}

/// A connection's place in the table; gives it up when dropped.
pub struct Ticket {
    id: u64,
    slots: Arc<Slots>,
    shared: Shared,
}

impl Slots {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            table: Mutex::default(),
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.locked()
    }

    /// A place for a new connection, making room if needed; `None` when
    /// every place and the reserve are busy.
    pub fn admit(self: &Arc<Self>) -> Option<Ticket> {
        let mut table = self.table();
        if table.open.len() >= self.cap {
            let idle = table
                .open
                .iter()
                .find(|(_, s)| s.busy.load(Ordering::Relaxed) == 0)
                .map(|(&id, _)| id);
            match idle {
                Some(id) => {
                    if let Some(evicted) = table.open.remove(&id) {
                        evicted.evicted.notify_one();
                    }
                }
                None if table.open.len() >= self.cap + RESERVE => return None,
                None => {}
            }
        }
        let id = table.next;
        table.next += 1;
        let shared = Shared::default();
        table.open.insert(id, shared.clone());
        Some(Ticket {
            id,
            slots: self.clone(),
            shared,
        })
    }

    /// Connections holding a place now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.table().open.len()
    }
}

/// One request on a connection: counted in flight, so its connection is
/// kept, from [`InFlight::mark`] until it is dropped.
#[derive(Default)]
pub struct InFlight {
    busy: Arc<AtomicUsize>,
    counted: OnceLock<Counted>,
}

impl InFlight {
    /// Counts the request in flight (once, however often called).
    pub fn mark(&self) {
        self.counted.get_or_init(|| Counted::new(&self.busy));
    }

    pub fn is_marked(&self) -> bool {
        self.counted.get().is_some()
    }
}

impl Ticket {
    /// A request arriving on this connection, not yet in flight.
    pub fn request(&self) -> InFlight {
        InFlight {
            busy: self.shared.busy.clone(),
            counted: OnceLock::new(),
        }
    }

    /// A request arriving and in flight at once.
    #[cfg(test)]
    fn busy(&self) -> InFlight {
        let request = self.request();
        request.mark();
        request
    }

    /// Completes when this connection must close to make room.
    pub async fn evicted(&self) {
        self.shared.evicted.notified().await
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.slots.table().open.remove(&self.id);
    }
}

/// The connections each of two ports may hold so that both, with their
/// reserves, fit in `open_files` with room for Consul and the rest.
pub fn connections_that_fit(open_files: u64) -> usize {
    let spare = open_files.saturating_sub(128) / 2;
    (spare as usize).saturating_sub(RESERVE).max(16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn two_ports_and_their_reserves_fit_in_the_limit() {
        for open_files in [1_024, 20_000, 65_536] {
            let each = connections_that_fit(open_files) as u64;
            assert!(
                2 * (each + RESERVE as u64) + 128 <= open_files,
                "{open_files}"
            );
        }
        assert_eq!(connections_that_fit(20_000), 9_920);
        assert_eq!(connections_that_fit(0), 16, "never below 16");
    }

    #[tokio::test]
    async fn the_oldest_idle_connection_makes_room() {
        let slots = Slots::new(2);
        let first = slots.admit().unwrap();
        let second = slots.admit().unwrap();
        let _busy = first.busy();
        let third = slots.admit().expect("room made");
        assert_eq!(slots.open(), 2);
        // The second (idle) was told to close, not the first (busy).
        tokio::time::timeout(Duration::from_millis(100), second.evicted())
            .await
            .expect("the idle one is evicted");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), first.evicted())
                .await
                .is_err(),
            "the busy one stays"
        );
        drop(third);
        assert_eq!(slots.open(), 1);
    }

    #[tokio::test]
    async fn a_request_still_receiving_its_body_makes_room_too() {
        let slots = Slots::new(1);
        let first = slots.admit().unwrap();
        let receiving = first.request();
        let _second = slots.admit().expect("room made");
        tokio::time::timeout(Duration::from_millis(100), first.evicted())
            .await
            .expect("the one waiting on its client is evicted");
        receiving.mark();
        drop(receiving);
    }

    #[test]
    fn when_all_are_busy_a_reserve_then_a_refusal() {
        let slots = Slots::new(1);
        let first = slots.admit().unwrap();
        let _busy = first.busy();
        let _reserve: Vec<(Ticket, InFlight)> = (0..RESERVE)
            .map(|_| {
                let ticket = slots.admit().unwrap();
                let guard = ticket.busy();
                (ticket, guard)
            })
            .collect();
        assert_eq!(slots.open(), 1 + RESERVE);
        assert!(slots.admit().is_none(), "past the reserve: refused");
        drop(_busy);
        assert!(slots.admit().is_some(), "an idle one makes room again");
    }
}
