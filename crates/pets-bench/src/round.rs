//! One concurrency's rows, all from the same pets, nginx and cluster: the
//! pet page, the same bytes from nginx, votes (with what they cost Consul in
//! CPU), raw Consul PUTs, the admin results, and pets' memory at each
//! row's end and once it has settled, with the counts checked for loss.

use std::net::SocketAddr;

use crate::consul::cpu_during;
use crate::pets::{Pets, Resident};
use crate::wrk::{Load, Report, Wrk};

pub struct Round {
    pub connections: u32,
    pub page: Report,
    pub nginx: Report,
    pub votes: Report,
    pub put: Report,
    pub admin: Report,
    /// pets' resident memory once it has idled after this round's rows.
    pub settled: Resident,
    /// pets' resident memory the moment each row that loads it ends.
    pub at_end: Vec<(&'static str, Resident)>,
    /// Consul's CPU seconds (all three servers) per 1,000 votes accepted.
    pub consul_cpu_per_1000_votes: f64,
    /// Pets served and votes counted, against pages answered 200 and votes 303.
    pub served: (u64, u64),
    pub counted: (u64, u64),
    /// Looks at the cluster during the votes row, and how many found no
    /// leader: a vote refused while every look found one is a failure.
    pub leader_looks: (u64, u64),
}

/// Where each row sends its load.
pub struct Targets<'a> {
    pub pets: &'a Pets,
    pub nginx: SocketAddr,
    /// A raw one-key PUT on the leader.
    pub consul_put: String,
    /// Consul's server processes.
    pub consul_pids: &'a [u32],
    /// Consul's HTTP addresses, for the leader watch.
    pub consul_http: Vec<SocketAddr>,
}

pub fn run(wrk: &Wrk, connections: u32, to: &Targets) -> anyhow::Result<Round> {
    let wrk = wrk.with_connections(connections);
    let cookie = "pets_vote=a";
    let pets = to.pets;
    eprintln!(
        "loading, {} s per row at {connections} connections",
        wrk.seconds()
    );
    let (served_before, _) = pets.counts()?;
    let page = wrk.run(
        "pet page",
        &format!("http://{}/", pets.web),
        Load::Get { cookie },
    )?;
    let mut at_end = vec![("page", pets.resident()?)];
    let (served_after, votes_before) = pets.counts()?;
    let nginx = wrk.run(
        "nginx, same bytes",
        &format!("http://{}/", to.nginx),
        Load::Get { cookie },
    )?;
    let watch = crate::consul::LeaderWatch::start(to.consul_http.clone());
    let (votes, consul_cpu) = cpu_during(to.consul_pids, || {
        wrk.run("votes", &format!("http://{}/vote", pets.web), Load::Vote)
    })?;
    let leader_looks = watch.finish();
    at_end.push(("votes", pets.resident()?));
    let (_, votes_after) = pets.counts()?;
    let put = wrk.run("consul PUT", &to.consul_put, Load::Put)?;
    let admin = wrk.run(
        "admin results",
        &format!("http://{}/api/results", pets.admin),
        Load::Get { cookie: "" },
    )?;
    at_end.push(("admin", pets.resident()?));
    let accepted = votes.count(303);
    Ok(Round {
        at_end,
        connections,
        settled: pets.resident_settled()?,
        consul_cpu_per_1000_votes: consul_cpu * 1000.0 / accepted.max(1) as f64,
        served: (served_after - served_before, page.count(200)),
        counted: (votes_after - votes_before, accepted),
        leader_looks,
        page,
        nginx,
        votes,
        put,
        admin,
    })
}

impl Round {
    /// Page views counted within the requests in flight at the end, and
    /// nothing but 200s.
    pub fn pages_exact(&self) -> bool {
        let (served, pages) = self.served;
        served >= pages
            && served - pages <= u64::from(self.connections)
            && self.page.others(200) == 0
    }

    /// Votes refused (any answer but 303) while the cluster had a leader at
    /// every look: none may be.
    pub fn refused_with_a_leader(&self) -> u64 {
        if self.leader_looks.1 == 0 {
            self.votes.others(303)
        } else {
            0
        }
    }

    /// Votes counted within the requests in flight at the end.
    pub fn votes_exact(&self) -> bool {
        let (counted, accepted) = self.counted;
        counted >= accepted && counted - accepted <= u64::from(self.connections)
    }

    pub fn resident_mib(&self) -> f64 {
        Resident::mib(self.settled.total_kib)
    }
}
