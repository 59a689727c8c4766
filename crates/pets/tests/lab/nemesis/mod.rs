//! The nemesis: partitions, pauses and kills at random on the lab's three
//! nodes, against the prod stack, with voters voting through every node the
//! whole time, and a checker that holds pets to "a 303 means counted"
//! afterwards. `docs/RELIABILITY.md` says what it found.
//!
//! The schedule is drawn from a seed ([`schedule`]), printed first;
//! `PETS_NEMESIS_SEED` replays it and `PETS_NEMESIS_MINUTES` sets its length
//! (5 by default, what CI runs). The faults are done by [`faults`], the
//! votes and pages sent by [`clients`], and [`checker`] compares what they
//! were told with what Consul and every replica hold once the cluster has
//! healed and [`SETTLE`] has passed.

mod checker;
mod clients;
mod faults;
mod reads;
mod report;
mod run;
mod schedule;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::prod::Prod;
use crate::rig::Lab;
use crate::steps::{deploy, node_loss, web_tasks};
use crate::support::{local_images, workspace};

/// Voters at a time, each with their own cookies.
const VOTERS: usize = 60;
/// Once Consul's three servers are healthy voters and three web tasks
/// answer, how long pets has to settle every count (an undo owed, pages not
/// flushed, a watch not yet woken) before the checker reads: the window
/// `docs/RELIABILITY.md` names.
pub const SETTLE: Duration = Duration::from_secs(30);
/// How long the nemesis waits for autopilot to call every Consul server
/// healthy before it reports that and goes on ([`recovered`]).
const HEALTHY_WITHIN: Duration = Duration::from_secs(180);
/// Where the last run's report is kept, under the workspace.
const REPORT: &str = "target/nemesis-report.md";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nemesis_partitions_pauses_and_kills_at_random() {
    local_images();
    let seed: u64 = setting("PETS_NEMESIS_SEED").unwrap_or_else(|| rand::random::<u32>().into());
    let minutes: f64 = setting("PETS_NEMESIS_MINUTES").unwrap_or(5.0);
    let length = Duration::from_secs_f64(minutes * 60.0);
    let schedule = schedule::draw(seed, length);
    eprintln!(
        "nemesis: seed {seed} (PETS_NEMESIS_SEED={seed} replays it), {minutes} minutes, {} windows:",
        schedule.len()
    );
    for window in &schedule {
        eprintln!("  {window}");
    }
    let lab = Arc::new(tokio::task::spawn_blocking(Lab::start).await.unwrap());
    let prod = Prod::deploy(&lab);
    deploy::the_prod_stack_deploys_one_per_node(&lab, &prod).await;
    let hands = {
        let lab = lab.clone();
        Arc::new(
            tokio::task::spawn_blocking(move || faults::Hands::on(lab))
                .await
                .unwrap(),
        )
    };

    let began = Instant::now();
    let end = schedule
        .last()
        .map_or(length, |w| w.at + w.lasts() + w.quiet);
    let clients = clients::Clients::start(&lab, VOTERS, began, end + Duration::from_secs(120));
    let applied = {
        let (lab, hands, schedule) = (lab.clone(), hands.clone(), schedule.clone());
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || run::windows(&lab, &hands, &schedule, began, &runtime))
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: the nemesis failed: {e}"))
    };
    if let Some(quiet) = end.checked_sub(began.elapsed()) {
        tokio::time::sleep(quiet).await;
    }
    let logs = clients.stop().await;
    eprintln!(
        "nemesis: {} windows in {:.0?}; waiting for the cluster to recover",
        applied.len(),
        began.elapsed()
    );

    let healed = Instant::now();
    let unhealthy = match tokio::spawn(recovered(lab.clone())).await {
        Ok(unhealthy) => unhealthy,
        Err(failed) => {
            eprintln!(
                "seed {seed}: the cluster did not recover:\n{}",
                describe(&hands).await
            );
            std::panic::resume_unwind(failed.into_panic());
        }
    };
    if let Some(why) = &unhealthy {
        eprintln!("seed {seed}: {why}\n{}", describe(&hands).await);
    }
    eprintln!(
        "nemesis: recovered {:.1?} after the last quiet; settling for {SETTLE:?}",
        healed.elapsed()
    );
    tokio::time::sleep(SETTLE).await;
    let records = reads::records(&lab).await;
    let consoles = reads::consoles(&lab, &prod).await;
    let kills: Vec<(usize, Duration, Duration)> =
        applied.iter().flat_map(|w| w.kills.clone()).collect();
    let unflushed = checker::unflushed_at_kills(&logs, &kills);
    let verdict = checker::check(&logs, &records, &consoles, unflushed);

    let mut text = format!(
        "nemesis report: seed {seed}, {minutes} minutes, {VOTERS} voters\n\n{}\n",
        report::table(&logs, &applied)
    );
    for window in &applied {
        text += &format!(
            "  {:>6.1}s to {:>6.1}s: {}\n",
            window.from.as_secs_f64(),
            window.healed.as_secs_f64(),
            window.what
        );
    }
    for console in &consoles {
        text += &format!(
            "node{}'s console: {:?}, {} pets served\n",
            console.node, console.tally, console.served
        );
    }
    text += &format!("{} voter records in Consul\n", records.len());
    if let Some(why) = &unhealthy {
        text += &format!("\n**Consul did not fully recover**: {why}\n");
    }
    if let Ok(unknowns) = &verdict {
        text += &report::summary(&logs, unknowns, unflushed);
    }
    eprintln!("\n{text}");
    // The suite prints it after the tests (a passing test's output is not shown).
    let _ = std::fs::write(workspace().join(REPORT), &text);
    if let Err(breaches) = verdict {
        panic!(
            "seed {seed} (PETS_NEMESIS_SEED={seed} replays it): {} breaches of the promise:\n{}",
            breaches.len(),
            breaches.join("\n")
        );
    }

    // Settled means settled: nothing moves after the window.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let again = reads::consoles(&lab, &prod).await;
    for (before, after) in consoles.iter().zip(&again) {
        assert_eq!(
            (before.tally, before.served),
            (after.tally, after.served),
            "seed {seed}: node{}'s console still moved 5 s after the settle window",
            before.node
        );
    }
    drop(hands);
}

fn setting<T: std::str::FromStr>(name: &str) -> Option<T> {
    let raw = std::env::var(name).ok()?;
    Some(
        raw.parse()
            .unwrap_or_else(|_| panic!("{name}={raw} is not a number")),
    )
}

/// Consul serving (a leader, its three servers voting) and three web tasks
/// answering: what the checker needs. Autopilot's "healthy" (every server in
/// touch with the leader and caught up, what the lab's node-loss step waits
/// for) is waited for up to [`HEALTHY_WITHIN`], then reported rather than
/// required: the nemesis judges pets' promise, not how soon Consul 1.8
/// settles after a run of kills. Returns why Consul was not healthy.
async fn recovered(lab: Arc<Lab>) -> Option<String> {
    let started = Instant::now();
    let mut unhealthy = None;
    loop {
        match node_loss::consul_healthy(&lab).await {
            Ok(consul) => {
                eprintln!("nemesis: Consul: {consul}");
                break;
            }
            Err(why) if started.elapsed() >= HEALTHY_WITHIN => {
                let serving = pets_testkit::eventually(
                    Duration::from_secs(120),
                    "Consul with a leader and three voters",
                    || node_loss::consul_serving(&lab),
                )
                .await;
                unhealthy = Some(format!(
                    "autopilot did not call all three servers healthy within {HEALTHY_WITHIN:?} \
                     ({why}); Consul serves ({serving}), so the checker goes on"
                ));
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    web_tasks(&lab, 3).await;
    unhealthy
}

/// The nemesis's rules and the Consul servers' logs, read off the rig.
async fn describe(hands: &Arc<faults::Hands>) -> String {
    let hands = hands.clone();
    tokio::task::spawn_blocking(move || hands.describe())
        .await
        .unwrap_or_default()
}
