//! Carries out a schedule on the rig, window by window, and records when
//! each fault went on and when it healed, with the node it fell on (the
//! Consul leader's, found when its window opened).

use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::faults::{stopped_or_gone, Hands};
use super::schedule::{Fault, Window};
use crate::prod::Consul;
use crate::rig::Lab;

/// A window as it happened.
#[derive(Clone, Debug)]
pub struct Applied {
    pub kind: &'static str,
    /// The faults as done: "node2 isolated + Consul leader (node3) paused".
    pub what: String,
    /// The node the (first) fault fell on.
    pub node: Option<usize>,
    /// After the run's start.
    pub from: Duration,
    pub healed: Duration,
    /// Nodes killed: the node, the last heal before, and the kill.
    pub kills: Vec<(usize, Duration, Duration)>,
}

/// Runs every window; blocking (call it with `spawn_blocking`). `runtime`
/// asks Consul who leads.
pub fn windows(
    lab: &Arc<Lab>,
    hands: &Hands,
    schedule: &[Window],
    began: Instant,
    runtime: &tokio::runtime::Handle,
) -> Vec<Applied> {
    let mut applied: Vec<Applied> = Vec::new();
    for window in schedule {
        let last_healed = applied.last().map_or(Duration::ZERO, |w| w.healed);
        if let Some(wait) = window.at.checked_sub(began.elapsed()) {
            sleep(wait);
        }
        let from = began.elapsed();
        let mut what = Vec::new();
        let mut kills = Vec::new();
        let mut node = None;
        // What happens next in the window, by when after its start: each
        // fault healed at its own time, a moving majority moved at half.
        let mut steps = Vec::new();
        for (fault, lasts) in &window.faults {
            let (done, on) = apply(lab, hands, *fault, runtime);
            eprintln!("nemesis {:>6.1}s: {done}", began.elapsed().as_secs_f64());
            node = node.or(on);
            what.push(done);
            match fault {
                Fault::Kill(n) => kills.push((*n, last_healed, began.elapsed())),
                Fault::MoveMajority(_, to) => steps.push((*lasts / 2, Step::Move(*to))),
                _ => {}
            }
            steps.push((*lasts, Step::Heal(*fault)));
        }
        steps.sort_by_key(|(at, _)| *at);
        for (at, step) in steps {
            if let Some(wait) = (from + at).checked_sub(began.elapsed()) {
                sleep(wait);
            }
            let done = match step {
                Step::Move(to) => hands
                    .heal_network()
                    .and_then(|()| hands.isolate(to))
                    .map(|()| format!("the majority moves: node{to} isolated")),
                Step::Heal(fault) => heal(hands, fault).map(|()| format!("{fault}: healed")),
            };
            let done = done.unwrap_or_else(|e| panic!("nemesis: {e}"));
            eprintln!("nemesis {:>6.1}s: {done}", began.elapsed().as_secs_f64());
        }
        hands.heal_all();
        let healed = began.elapsed();
        applied.push(Applied {
            kind: window.kind(),
            what: what.join(" + "),
            node,
            from,
            healed,
            kills,
        });
    }
    applied
}

/// A step within a window.
enum Step {
    Move(usize),
    Heal(Fault),
}

/// Heals one fault (a window holds at most one cut and one pause).
fn heal(hands: &Hands, fault: Fault) -> Result<(), String> {
    match fault {
        Fault::Isolate(_) | Fault::OneWay(..) | Fault::MoveMajority(..) => hands.heal_network(),
        Fault::PauseLeader | Fault::PausePets(_) => hands.thaw(),
        Fault::Kill(_) => hands.revive(),
    }
}

/// Applies one fault; what was done, and the node it fell on.
fn apply(
    lab: &Arc<Lab>,
    hands: &Hands,
    fault: Fault,
    runtime: &tokio::runtime::Handle,
) -> (String, Option<usize>) {
    let result = match fault {
        Fault::Isolate(n) | Fault::MoveMajority(n, _) => hands.isolate(n),
        Fault::OneWay(from, to) => hands.cut(from, to),
        Fault::Kill(n) => {
            hands.kill(n);
            Ok(())
        }
        Fault::PausePets(n) => return pause_pets(hands, fault, n),
        Fault::PauseLeader => {
            return match runtime.block_on(leader(lab)) {
                Ok((n, _)) if hands.killed(n) => (
                    format!("{fault}: it is on node{n}, which is down; skipped"),
                    None,
                ),
                Ok((n, container)) => match hands.freeze(n, &container) {
                    Ok(()) => (format!("Consul leader (node{n}) paused"), Some(n)),
                    // Its task may have just been replaced.
                    Err(e) => (
                        format!("{fault}: pausing it on node{n} failed ({e}); skipped"),
                        None,
                    ),
                },
                Err(e) => (format!("{fault}: no leader to pause ({e}); skipped"), None),
            };
        }
    };
    if let Err(e) = result {
        panic!("nemesis: {fault}: {e}");
    }
    (fault.to_string(), fault.node())
}

/// Pauses pets's task on node `n`. Swarm may stop the task between the
/// lookup and the pause (as it does when a health check fails): then the
/// node's running task is looked up once more, and the pause is skipped if
/// that fails too. Any other failure of `docker pause` fails the run.
fn pause_pets(hands: &Hands, fault: Fault, n: usize) -> (String, Option<usize>) {
    let mut stopped = String::new();
    for attempt in 0..2 {
        if attempt > 0 {
            sleep(Duration::from_secs(1));
        }
        let Some(container) = hands.task_container(n, "web") else {
            return (format!("{fault}: no pets task there, skipped"), None);
        };
        match hands.freeze(n, &container) {
            Ok(()) => return (fault.to_string(), Some(n)),
            Err(e) if stopped_or_gone(&e) => stopped = e,
            Err(e) => panic!("nemesis: {fault}: {e}"),
        }
    }
    (
        format!("{fault}: its task stopped as it was paused ({stopped}); skipped"),
        None,
    )
}

/// The node of the Consul server that leads, and its task's container.
async fn leader(lab: &Arc<Lab>) -> Result<(usize, String), String> {
    let db = crate::steps::tasks(lab, "db").await?;
    let mut said = None;
    for (_, task) in &db {
        if let Ok(address) = Consul::leader(task).await {
            if !address.is_empty() {
                said = Some(address);
                break;
            }
        }
    }
    let said = said.ok_or("no server names a leader")?;
    let ip = said.split(':').next().unwrap_or_default();
    for (node, task) in &db {
        if let Ok((_, address)) = Consul::who(task).await {
            if address == ip {
                return Ok((*node, task.id.clone()));
            }
        }
    }
    Err(format!("no Consul task at {said}"))
}
