//! The nemesis's schedule: fault windows drawn from a seed, so that
//! `PETS_NEMESIS_SEED` replays a run. Each window applies one fault (or two
//! at once) for a few seconds, heals it, and leaves a quiet gap for the
//! cluster to recover before the next.
//!
//! Nodes are named by index (1 to 3). The Consul leader and the pets
//! replica to pause are found when their window opens: which server leads
//! is the cluster's business, not the seed's.

use std::fmt;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One fault, as the schedule names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The node cut off from the other two, both ways; it keeps its own
    /// clients (this machine still reaches its tasks).
    Isolate(usize),
    /// Packets from the first node to the second dropped; the other way
    /// still flows.
    OneWay(usize, usize),
    /// The Consul leader's process frozen, then thawed.
    PauseLeader,
    /// The pets replica on this node frozen, then thawed.
    PausePets(usize),
    /// The node's power cut, then back.
    Kill(usize),
    /// The first node isolated for the first half, then the second node for
    /// the rest: the majority moves.
    MoveMajority(usize, usize),
}

impl Fault {
    /// The kind, as the report's rows name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Isolate(_) => "node isolated",
            Self::OneWay(..) => "one-way cut",
            Self::PauseLeader => "Consul leader paused",
            Self::PausePets(_) => "pets replica paused",
            Self::Kill(_) => "node killed",
            Self::MoveMajority(..) => "majority moved",
        }
    }

    /// The node the fault falls on, if the schedule knows it (the last one
    /// isolated, for a moving majority).
    pub fn node(&self) -> Option<usize> {
        match *self {
            Self::Isolate(n) | Self::OneWay(n, _) | Self::PausePets(n) | Self::Kill(n) => Some(n),
            Self::MoveMajority(_, n) => Some(n),
            Self::PauseLeader => None,
        }
    }

    fn network(&self) -> bool {
        matches!(
            self,
            Self::Isolate(_) | Self::OneWay(..) | Self::MoveMajority(..) | Self::Kill(_)
        )
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Isolate(n) => write!(f, "node{n} isolated"),
            Self::OneWay(from, to) => write!(f, "node{from} -> node{to} cut"),
            Self::PauseLeader => write!(f, "Consul leader paused"),
            Self::PausePets(n) => write!(f, "pets on node{n} paused"),
            Self::Kill(n) => write!(f, "node{n} killed"),
            Self::MoveMajority(a, b) => write!(f, "node{a} isolated, then node{b}"),
        }
    }
}

/// One window: its faults, each from `at` (after the run's start) for its
/// own time, then `quiet` with none from the end of the longest.
#[derive(Clone, Debug)]
pub struct Window {
    pub at: Duration,
    pub faults: Vec<(Fault, Duration)>,
    pub quiet: Duration,
}

impl Window {
    /// The row of the report: a single fault's kind, or "two at once".
    pub fn kind(&self) -> &'static str {
        match self.faults.as_slice() {
            [(one, _)] => one.kind(),
            _ => "two at once",
        }
    }

    /// How long its longest fault holds.
    pub fn lasts(&self) -> Duration {
        self.faults
            .iter()
            .map(|(_, d)| *d)
            .max()
            .unwrap_or_default()
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|(fault, lasts)| format!("{fault} for {:.1}s", lasts.as_secs_f64()))
            .collect();
        write!(
            f,
            "{:>6.1}s  {}, then {:.0}s quiet",
            self.at.as_secs_f64(),
            faults.join(" + "),
            self.quiet.as_secs_f64()
        )
    }
}

/// The windows of a run of `length`, drawn from `seed`.
pub fn draw(seed: u64, length: Duration) -> Vec<Window> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut windows = Vec::new();
    // A few seconds of votes before the first fault.
    let mut at = Duration::from_secs(10);
    while at < length {
        let first = one(&mut rng);
        let mut faults = vec![(first, lasts(&mut rng, first))];
        if rng.random_bool(1.0 / 7.0) {
            let second = second_for(&mut rng, first);
            faults.push((second, lasts(&mut rng, second)));
        }
        let window = Window {
            at,
            faults,
            quiet: Duration::from_secs(rng.random_range(12..=20)),
        };
        at += window.lasts() + window.quiet;
        windows.push(window);
    }
    windows
}

fn node(rng: &mut StdRng) -> usize {
    rng.random_range(1..=3)
}

fn other(rng: &mut StdRng, than: usize) -> usize {
    let step = rng.random_range(1..=2);
    (than - 1 + step) % 3 + 1
}

fn one(rng: &mut StdRng) -> Fault {
    match rng.random_range(0..6) {
        0 => Fault::Isolate(node(rng)),
        1 => {
            let from = node(rng);
            Fault::OneWay(from, other(rng, from))
        }
        2 => Fault::PauseLeader,
        3 => Fault::PausePets(node(rng)),
        4 => Fault::Kill(node(rng)),
        _ => {
            let first = node(rng);
            Fault::MoveMajority(first, other(rng, first))
        }
    }
}

/// A second fault to overlap `first`: a pause when the first cuts or kills
/// a node (on another node for pets; whichever server leads for Consul),
/// and a cut on another node when the first is a pause (a pause of the
/// Consul leader: on any node, since who leads is known only when the
/// window opens).
fn second_for(rng: &mut StdRng, first: Fault) -> Fault {
    let elsewhere = |rng: &mut StdRng| match first.node() {
        Some(n) => other(rng, n),
        None => node(rng),
    };
    if first.network() {
        if rng.random_bool(0.5) {
            Fault::PauseLeader
        } else {
            Fault::PausePets(elsewhere(rng))
        }
    } else {
        let n = elsewhere(rng);
        if rng.random_bool(0.5) {
            Fault::Isolate(n)
        } else {
            Fault::OneWay(n, other(rng, n))
        }
    }
}

/// How long a fault holds. A frozen pets stays under its health check's
/// patience (two missed probes, 5 s apart), so Swarm does not replace it
/// while it is frozen.
fn lasts(rng: &mut StdRng, fault: Fault) -> Duration {
    let millis = match fault {
        Fault::PausePets(_) => rng.random_range(2_000..=5_000),
        Fault::PauseLeader => rng.random_range(3_000..=8_000),
        Fault::Kill(_) => rng.random_range(8_000..=15_000),
        Fault::MoveMajority(..) => rng.random_range(10_000..=16_000),
        Fault::Isolate(_) | Fault::OneWay(..) => rng.random_range(5_000..=15_000),
    };
    Duration::from_millis(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_its_schedule_and_two_at_once_never_share_a_node() {
        let length = Duration::from_secs(1800);
        let drawn = |seed| {
            draw(seed, length)
                .iter()
                .map(Window::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(drawn(7), drawn(7));
        assert_ne!(drawn(7), drawn(8));
        for seed in 0..50 {
            for window in draw(seed, length) {
                if let [(a, _), (b, _)] = window.faults.as_slice() {
                    assert!(!(a.network() && b.network()), "{window}");
                    if let (Some(x), Some(y)) = (a.node(), b.node()) {
                        assert_ne!(x, y, "{window}");
                    }
                }
            }
        }
    }
}
