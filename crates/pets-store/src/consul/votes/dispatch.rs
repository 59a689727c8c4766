//! The dispatcher: hands waiting ballots to free lanes, in groups.
//!
//! A lane gets every ballot waiting (up to what one transaction may hold),
//! when [`Pace`] says a group should start: once the voters just answered
//! are back, and while no other group is in flight unless that one is
//! stuck. So the busier Consul is, the larger the groups. A voter with a
//! group in flight waits for it, so one voter's ballots commit in order.
//! Ballots never sent are refused safely: past their deadline, or at once
//! while every lane is tied up in failures that have lasted longer than an
//! election takes, or while the cluster has been without a leader for that
//! long. An idle lane that owes an undo is sent to pay it, and the
//! dispatcher does not finish while one is owed.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::consul::votes::ballots::{Group, Pending};
use crate::consul::votes::lane::Lane;
use crate::consul::votes::outage::Outage;
use crate::consul::votes::pace::Pace;
use crate::domain::VoterId;

/// How often the queue is swept for expired ballots and owed undos, even
/// when nothing arrives.
const SWEEP: Duration = Duration::from_millis(100);

/// Refuses the ballots that will not be sent: all of them when `give_up`,
/// else those past their deadline. Ballots wait in arrival order, so the
/// oldest are at the front: between sweeps only the front is looked at,
/// so a crowd arriving one by one costs one look each, not a pass over
/// everyone waiting; a sweep looks at every one.
fn refuse_expired(waiting: &mut VecDeque<Pending>, now: Instant, give_up: bool, sweep: bool) {
    if give_up || sweep {
        let (refused, kept): (VecDeque<Pending>, VecDeque<Pending>) = waiting
            .drain(..)
            .partition(|p| give_up || p.deadline <= now);
        *waiting = kept;
        refused.into_iter().for_each(Pending::refuse);
        return;
    }
    while let Some(oldest) = waiting.pop_front() {
        if oldest.deadline > now {
            waiting.push_front(oldest);
            break;
        }
        oldest.refuse();
    }
}

/// A lane back from its group: the voters it held, and how many ballots
/// it answered.
struct Finished {
    lane: Lane,
    voters: Vec<VoterId>,
    asked: usize,
}

/// Runs until the queue closes or `closing` is cancelled, and then until
/// every ballot is answered and no lane owes an undo.
pub async fn dispatch(
    mut queue: mpsc::Receiver<Pending>,
    mut idle: Vec<Lane>,
    outage: Outage,
    closing: CancellationToken,
) {
    let (done, mut finished) = mpsc::unbounded_channel::<Finished>();
    let mut waiting: VecDeque<Pending> = VecDeque::new();
    let mut in_flight: HashSet<VoterId> = HashSet::new();
    let mut busy = 0usize;
    let mut open = true;
    let mut sweep = tokio::time::interval(SWEEP);
    let mut pace = Pace::default();
    let mut swept = false;
    loop {
        let look = pace.next_look(waiting.len(), Instant::now());
        tokio::select! {
            pending = queue.recv(), if open => match pending {
                Some(pending) => waiting.push_back(pending),
                None => open = false,
            },
            _ = closing.cancelled(), if open => open = false,
            Some(Finished { lane, voters, asked }) = finished.recv() => {
                busy -= 1;
                pace.ended(lane.index, asked);
                idle.push(lane);
                for voter in voters {
                    in_flight.remove(&voter);
                }
            }
            _ = sweep.tick() => swept = true,
            _ = tokio::time::sleep_until(look.unwrap_or(Instant::now())), if look.is_some() => {}
        }
        while let Ok(pending) = queue.try_recv() {
            waiting.push_back(pending);
        }
        let now = Instant::now();
        let give_up = (outage.lasting(now) && idle.is_empty()) || outage.leaderless_too_long(now);
        refuse_expired(&mut waiting, now, give_up, std::mem::take(&mut swept));
        pace.waiting(!waiting.is_empty(), now);
        while pace.may_start(waiting.len(), now) {
            let Some(mut lane) = idle.pop() else { break };
            let group = Group::take(&mut waiting, &in_flight);
            if group.entries.is_empty() {
                idle.push(lane);
                break;
            }
            let (voters, asked) = (group.voters(), group.asked());
            in_flight.extend(voters.iter().copied());
            pace.started(lane.index, now);
            pace.waiting(!waiting.is_empty(), now);
            let done = done.clone();
            busy += 1;
            tokio::spawn(async move {
                lane.commit(group).await;
                let _ = done.send(Finished {
                    lane,
                    voters,
                    asked,
                });
            });
        }
        while let Some(at) = idle.iter().position(Lane::undo_due) {
            let mut lane = idle.swap_remove(at);
            let done = done.clone();
            busy += 1;
            tokio::spawn(async move {
                lane.pay_debts().await;
                let _ = done.send(Finished {
                    lane,
                    voters: Vec::new(),
                    asked: 0,
                });
            });
        }
        if !open && waiting.is_empty() && busy == 0 && idle.iter().all(|l| l.owed.is_empty()) {
            return;
        }
    }
}
