//! The benchmark's first table: each concurrency's rows (the pet page,
//! nginx, votes, raw PUTs, the admin results), the ratios the targets are
//! stated in, memory, and each target's verdict.

use std::time::Duration;

use crate::pets::{Resident, SETTLE};
use crate::round::Round;
use crate::wrk;
use crate::PROBES;

/// The vote targets: the ratio to a raw PUT and the p99, by concurrency.
fn vote_targets(connections: u32) -> (f64, f64) {
    if connections >= 256 {
        (3.0, 120.0)
    } else {
        (2.0, 60.0)
    }
}

pub fn report(seconds: u64, rounds: &[Round], txn: Duration, exec_to_healthy: Duration) {
    println!();
    println!(
        "pets benchmark: {} s per row, wrk 2 threads, release build; each cell: req/s, p99 ms, ratio (target)",
        seconds
    );
    println!();
    let header: Vec<String> = rounds
        .iter()
        .map(|r| format!("{} connections", r.connections))
        .collect();
    println!(
        "| {:<30} | {} |",
        "row",
        header
            .iter()
            .map(|h| format!("{h:<44}"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!(
        "| {} |{}",
        "-".repeat(30),
        rounds
            .iter()
            .map(|_| format!(" {} |", "-".repeat(44)))
            .collect::<String>()
    );
    let line = |name: &str, cell: &dyn Fn(&Round) -> String| {
        let cells: Vec<String> = rounds.iter().map(|r| format!("{:<44}", cell(r))).collect();
        println!("| {name:<30} | {} |", cells.join(" | "));
    };
    let figures = |load: &wrk::Report| {
        format!(
            "{:>7.0}/s {:>7.1} ms",
            load.requests_per_second, load.p99_ms
        )
    };
    line("pet page (GET /, cookie)", &|r| {
        let ratio = r.page.requests_per_second / r.nginx.requests_per_second;
        format!("{}  {ratio:.2} x nginx (>= 0.8)", figures(&r.page))
    });
    line("same bytes from nginx", &|r| figures(&r.nginx));
    line("votes (POST /vote)", &|r| {
        let ratio = r.votes.requests_per_second / r.put.requests_per_second;
        format!(
            "{}  {ratio:.2} x PUT (>= {})",
            figures(&r.votes),
            vote_targets(r.connections).0
        )
    });
    line("raw consul PUT, one key", &|r| figures(&r.put));
    line("admin results (/api/results)", &|r| {
        let ratio = r.admin.requests_per_second / r.page.requests_per_second;
        format!("{}  {ratio:.2} x page (>= 0.5)", figures(&r.admin))
    });
    line("votes vs closed-loop bound", &|r| {
        let bound = f64::from(r.connections) / txn.as_secs_f64();
        format!("{:.2} of {bound:.0}/s", r.votes.requests_per_second / bound)
    });
    line("consul CPU per 1,000 votes", &|r| {
        format!("{:.2} s", r.consul_cpu_per_1000_votes)
    });
    line("resident memory, settled", &|r| {
        let m = r.settled;
        format!(
            "{:.1} MiB (heap {:.1}, files {:.1})",
            Resident::mib(m.total_kib),
            Resident::mib(m.heap_kib),
            Resident::mib(m.mapped_kib)
        )
    });
    line("  at each row's end", &|r| {
        let rows: Vec<String> = r
            .at_end
            .iter()
            .map(|(row, m)| format!("{row} {:.1}", Resident::mib(m.total_kib)))
            .collect();
        format!("{} MiB", rows.join(", "))
    });
    println!();
    println!(
        "one Consul transaction, unloaded: {:.2} ms (median of {PROBES}); the closed-loop bound is connections / that",
        txn.as_secs_f64() * 1e3
    );
    println!(
        "exec to healthy /health: {:.1} ms, median of 5 (target <= 200)",
        exec_to_healthy.as_secs_f64() * 1e3
    );
    println!(
        "memory settled: read once pets has idled {:.1} s after the round's last row; heap: anonymous pages (heap, stacks, the allocator's arenas); files: its code and built-in pictures and templates, mapped from the executable and shared with the page cache",
        SETTLE.as_secs_f64()
    );
    for r in rounds {
        println!(
            "{} connections: pets served +{} for {} pages answered 200 ({}); votes counted +{} for {} answered 303 ({}); {} refused (other answers: {}; Consul without a leader at {} of {} looks{})",
            r.connections,
            r.served.0,
            r.served.1,
            if r.pages_exact() { "exact within requests in flight" } else { "LOST" },
            r.counted.0,
            r.counted.1,
            if r.votes_exact() { "exact within requests in flight" } else { "LOST" },
            r.votes.others(303),
            r.votes.besides(303),
            r.leader_looks.1,
            r.leader_looks.0,
            if r.refused_with_a_leader() > 0 { ": REFUSED WITH A LEADER" } else { "" },
        );
    }
    println!("for context, the Python original on this kind of machine: 216 pages/s and 104 votes/s, losing 73% and 70% of them");
    let all = |f: &dyn Fn(&Round) -> bool| verdict(rounds.iter().all(f));
    let first_mib = rounds.first().map_or(0.0, Round::resident_mib);
    println!(
        "targets: page {} | votes {} | vote p99 {} | admin {} | memory {} | start {}",
        all(&|r| r.page.requests_per_second >= 0.8 * r.nginx.requests_per_second),
        all(&|r| r.votes.requests_per_second
            >= vote_targets(r.connections).0 * r.put.requests_per_second),
        all(&|r| r.votes.p99_ms <= vote_targets(r.connections).1),
        all(&|r| r.admin.requests_per_second >= 0.5 * r.page.requests_per_second),
        all(&|r| r.resident_mib() <= 20.0 && r.resident_mib() <= 1.5 * first_mib),
        verdict(exec_to_healthy <= Duration::from_millis(200)),
    );
}

pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

/// A count as people write it: 1,000,000.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
