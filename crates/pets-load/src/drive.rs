//! Sends the requests: one every `1/rate` seconds on a fixed schedule
//! (open loop), each for the next visitor in turn and the next address in
//! turn. A visitor with no vote yet votes (`POST /vote`, keeping the cookies
//! the answer sets), then mostly looks at their pet (`GET /`), voting again
//! now and then (`--vote-share`). A visitor never has two votes in flight (a
//! vote due meanwhile is a page view instead), so the order of their votes
//! is the order the store committed them, and the last vote each visitor
//! had accepted in each round (the answer's `pets-round`) is what that
//! round must count. Runs for `--duration`, or until Ctrl-C or SIGTERM, then
//! waits briefly for requests in flight and reports.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use reqwest::header::{COOKIE, SET_COOKIE};
use tokio::sync::Semaphore;
use tokio::time::{interval, Instant, MissedTickBehavior};

use pets_store::MeterPublisher;

use crate::options::LoadOptions;
use crate::publish::Publisher;
use crate::report::{self, Report, RoundTally};
use crate::tally::{AnsweredBy, Counts, Outcome};
use crate::targets::{Addresses, Clients, Endpoint};
use pets_store::sync::Locked;

/// How long one request may take before it counts as a timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests in flight at most; beyond, a request due is counted as
/// `overload` (the driver, not the target, could not keep up).
pub const MAX_IN_FLIGHT: usize = 10_000;
/// How long the end waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(6);

#[derive(Default)]
struct Visitor {
    /// The cookies the vote's answer set, sent with every later request.
    cookies: Option<String>,
    /// True while a vote of theirs is in flight.
    voting: bool,
    /// Their last accepted vote in each round (the pet's index).
    last_in_round: BTreeMap<u64, usize>,
}

/// The pet options, in order.
const PETS: [&str; 3] = ["a", "b", "c"];

/// Runs the load and returns its report; with a `publisher`, each second
/// also goes to the store for the console's availability meter.
pub async fn run(options: LoadOptions, publisher: Option<MeterPublisher>) -> Report {
    let publisher = publisher.map(|p| Publisher::start(p, options.target_list()));
    let clients = Clients::new(REQUEST_TIMEOUT, options.ca_cert.clone());
    let addresses =
        Addresses::follow(options.targets.clone(), options.resolve.clone(), clients).await;
    let visitors: Arc<Vec<Mutex<Visitor>>> =
        Arc::new((0..options.voters).map(|_| Mutex::default()).collect());
    let second = Arc::new(Mutex::new(Counts::default()));
    let mut total = Counts::default();
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let started = Instant::now();
    let stop = stop_signal();
    tokio::pin!(stop);
    let mut ticks = interval(Duration::from_secs_f64(1.0 / f64::from(options.rate)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut seconds = interval(Duration::from_secs(1));
    seconds.tick().await;
    let mut n: u64 = 0;
    let end = options.duration.map(|d| started + d);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if end.is_some_and(|end| Instant::now() >= end) {
                    break;
                }
                let visitor = (n % options.voters as u64) as usize;
                n += 1;
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    lock(&second).record(&Outcome::Failed("overload".into()), Duration::ZERO);
                    continue;
                };
                let job = Job {
                    addresses: addresses.clone(),
                    visitors: visitors.clone(),
                    visitor,
                    vote_share: options.vote_share,
                    second: second.clone(),
                };
                tokio::spawn(async move {
                    job.send().await;
                    drop(slot);
                });
            }
            _ = seconds.tick() => {
                let done = std::mem::take(&mut *lock(&second));
                report::second(options.json, started.elapsed().as_secs(), &done, addresses.count());
                if let Some(publisher) = &publisher {
                    publisher.second(&done);
                }
                total.add(&done);
            }
            _ = &mut stop => break,
        }
    }
    // Requests in flight finish (or time out) before the report.
    let drained = Instant::now() + DRAIN;
    while slots.available_permits() < MAX_IN_FLIGHT && Instant::now() < drained {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last = std::mem::take(&mut *lock(&second));
    if let Some(publisher) = publisher {
        publisher.finish(&last).await;
    }
    total.add(&last);
    let voters = visitors
        .iter()
        .filter(|v| lock(v).cookies.is_some())
        .count() as u64;
    let mut rounds: BTreeMap<u64, RoundTally> = BTreeMap::new();
    for visitor in visitors.iter() {
        for (&round, &pet) in &lock(visitor).last_in_round {
            let tally = rounds.entry(round).or_default();
            tally.voters += 1;
            tally.votes[pet] += 1;
        }
    }
    Report {
        total,
        elapsed: started.elapsed(),
        voters,
        rounds,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.locked()
}

struct Job {
    addresses: Addresses,
    visitors: Arc<Vec<Mutex<Visitor>>>,
    visitor: usize,
    vote_share: f64,
    second: Arc<Mutex<Counts>>,
}

impl Job {
    async fn send(self) {
        let started = Instant::now();
        let (outcome, by, addr) = self.exchange().await;
        lock(&self.second).record_at(&outcome, &by, addr, started.elapsed());
    }

    /// What the request came to, who answered it, and the address it went to.
    async fn exchange(&self) -> (Outcome, AnsweredBy, Option<SocketAddr>) {
        let Some(endpoint) = self.addresses.next() else {
            return (
                Outcome::Failed("no_address".into()),
                AnsweredBy::default(),
                None,
            );
        };
        let (cookies, vote) = {
            let mut visitor = lock(&self.visitors[self.visitor]);
            let wants = visitor.cookies.is_none() || rand::rng().random_bool(self.vote_share);
            let vote = wants && !visitor.voting;
            visitor.voting |= vote;
            (visitor.cookies.clone(), vote)
        };
        let pet = rand::rng().random_range(0..PETS.len());
        let (outcome, by) = self
            .send_as_visitor(&endpoint, cookies, vote.then_some(pet))
            .await;
        if vote {
            lock(&self.visitors[self.visitor]).voting = false;
        }
        (outcome, by, Some(endpoint.addr))
    }

    /// One request: a vote for `pet`, or with none a look at the pet page.
    async fn send_as_visitor(
        &self,
        endpoint: &Endpoint,
        cookies: Option<String>,
        pet: Option<usize>,
    ) -> (Outcome, AnsweredBy) {
        let vote = pet.is_some();
        let (client, base) = (&endpoint.client, &endpoint.base);
        let request = if let Some(pet) = pet {
            let name = format!("visitor {}", self.visitor);
            client
                .post(format!("{base}/vote"))
                .form(&[("name", name.as_str()), ("vote", PETS[pet])])
        } else {
            client.get(format!("{base}/"))
        };
        let request = match &cookies {
            Some(cookies) => request.header(COOKIE, cookies),
            None => request,
        };
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let by = AnsweredBy::from_headers(response.headers());
                if let Some(pet) = pet.filter(|_| status.as_u16() == 303) {
                    let round = response
                        .headers()
                        .get("pets-round")
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                    let set: Vec<String> = response
                        .headers()
                        .get_all(SET_COOKIE)
                        .iter()
                        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
                        .collect();
                    let mut visitor = lock(&self.visitors[self.visitor]);
                    if !set.is_empty() {
                        visitor.cookies = Some(merge_cookies(visitor.cookies.as_deref(), &set));
                    }
                    if let Some(round) = round {
                        visitor.last_in_round.insert(round, pet);
                    }
                    return (Outcome::VoteAccepted, by);
                }
                // Read the body, so the time is the whole answer's.
                let _ = response.bytes().await;
                let outcome = match status.as_u16() {
                    200 if !vote => Outcome::PageOk,
                    200..=399 => Outcome::OtherOk,
                    code => Outcome::Failed(format!("http_{code}")),
                };
                (outcome, by)
            }
            Err(e) => (Outcome::Failed(kind(&e).into()), AnsweredBy::default()),
        }
    }
}

/// The cookies a visitor holds once an answer set `set` (`name=value`
/// each) over those it held: a cookie set again replaces the old one.
fn merge_cookies(held: Option<&str>, set: &[String]) -> String {
    let name = |c: &str| c.split('=').next().unwrap_or("").trim().to_owned();
    let mut cookies: Vec<String> = held
        .unwrap_or("")
        .split("; ")
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    for new in set {
        cookies.retain(|c| name(c) != name(new));
        cookies.push(new.clone());
    }
    cookies.join("; ")
}

/// The kind of a failed exchange.
fn kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        return "timeout";
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "refused",
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    "reset"
                }
                std::io::ErrorKind::TimedOut => "timeout",
                _ => "other",
            };
        }
        source = e.source();
    }
    if error.is_connect() {
        "refused"
    } else {
        "other"
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_set_again_replace_the_old_ones() {
        let first = merge_cookies(None, &["pets_voter=v1".into(), "pets_vote=a.1".into()]);
        assert_eq!(first, "pets_voter=v1; pets_vote=a.1");
        let later = merge_cookies(Some(&first), &["pets_vote=b.2".into()]);
        assert_eq!(later, "pets_voter=v1; pets_vote=b.2");
    }
}
