//! The nemesis's report: for each kind of fault window (and the time
//! between windows), the votes sent, how they were answered, and how soon
//! after the heal a vote through the node the fault fell on was accepted
//! again. Printed as a Markdown table, as `docs/RELIABILITY.md` keeps it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::checker::Unknowns;
use super::clients::{Outcome, Sent, VoterLog};
use super::run::Applied;

#[derive(Default)]
struct Row {
    windows: usize,
    sent: u64,
    accepted: u64,
    refused: u64,
    unknown: u64,
    undelivered: u64,
    /// The longest wait, over the windows of this kind, from a heal to the
    /// first vote accepted through the node the fault fell on.
    recovery: Option<Duration>,
    /// Windows after which no vote went through that node again before the
    /// next window (its tasks had moved).
    moved: usize,
}

const BETWEEN: &str = "between faults";

pub fn table(logs: &[VoterLog], applied: &[Applied]) -> String {
    let votes: Vec<&Sent> = logs
        .iter()
        .flat_map(|l| &l.sent)
        .filter(|s| s.choice.is_some())
        .collect();
    let mut rows: BTreeMap<&str, Row> = BTreeMap::new();
    for (i, window) in applied.iter().enumerate() {
        let row = rows.entry(window.kind).or_default();
        row.windows += 1;
        let next = applied.get(i + 1).map_or(Duration::MAX, |w| w.from);
        let back = votes
            .iter()
            .filter(|s| s.outcome == Outcome::Done && (window.healed..next).contains(&s.at))
            .filter(|s| window.node.is_none_or(|n| s.node == n))
            .map(|s| s.at - window.healed)
            .min();
        match back {
            Some(back) => row.recovery = row.recovery.max(Some(back)),
            None => row.moved += 1,
        }
    }
    for vote in &votes {
        let kind = applied
            .iter()
            .find(|w| w.from <= vote.at && vote.at < w.healed)
            .map_or(BETWEEN, |w| w.kind);
        let row = rows.entry(kind).or_default();
        row.sent += 1;
        match vote.outcome {
            Outcome::Done => row.accepted += 1,
            Outcome::Refused(_) | Outcome::Odd(_) => row.refused += 1,
            Outcome::Unknown => row.unknown += 1,
            Outcome::Undelivered => row.undelivered += 1,
        }
    }
    let mut out = String::from(
        "| fault window | windows | votes sent | accepted | refused | unknown | not delivered | share accepted | first accepted after the heal (worst) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let mut total = Row::default();
    for (kind, row) in &rows {
        out += &line(kind, row);
        total.sent += row.sent;
        total.accepted += row.accepted;
        total.refused += row.refused;
        total.unknown += row.unknown;
        total.undelivered += row.undelivered;
        total.windows += row.windows;
    }
    out += &line("all", &total);
    out
}

fn line(kind: &str, row: &Row) -> String {
    let windows = match kind {
        BETWEEN => "".to_owned(),
        _ => row.windows.to_string(),
    };
    let mut recovery = match (kind, row.recovery) {
        (BETWEEN | "all", _) => "".to_owned(),
        (_, Some(d)) => format!("{:.1} s", d.as_secs_f64()),
        (_, None) => "-".to_owned(),
    };
    if row.moved > 0 && kind != "all" {
        recovery += &format!(" ({} moved away)", row.moved);
    }
    let share = match row.sent {
        0 => "".to_owned(),
        n => format!("{:.1} %", 100.0 * row.accepted as f64 / n as f64),
    };
    format!(
        "| {kind} | {windows} | {} | {} | {} | {} | {} | {share} | {recovery} |\n",
        row.sent, row.accepted, row.refused, row.unknown, row.undelivered
    )
}

/// The pages, and how the unknown votes came out.
pub fn summary(logs: &[VoterLog], unknowns: &Unknowns, unflushed: u64) -> String {
    let pages: Vec<&Sent> = logs
        .iter()
        .flat_map(|l| &l.sent)
        .filter(|s| s.choice.is_none())
        .collect();
    let count = |f: &dyn Fn(&Outcome) -> bool| pages.iter().filter(|s| f(&s.outcome)).count();
    format!(
        "pages: {} fetched, {} served, {} refused, {} unknown, {} not delivered; {unflushed} \
         served by a node before it was killed (may be lost unflushed)\nvotes whose answer never \
         came: {} in their voter's final record, {} not (never committed, or overwritten by a \
         later vote)",
        pages.len(),
        count(&|o| *o == Outcome::Done),
        count(&|o| matches!(o, Outcome::Refused(_) | Outcome::Odd(_))),
        count(&|o| *o == Outcome::Unknown),
        count(&|o| *o == Outcome::Undelivered),
        unknowns.kept,
        unknowns.not_kept
    )
}
