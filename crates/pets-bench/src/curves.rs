//! The benchmark's curves: how cost grows with the fleet, the voters in
//! the store and the clients connected, each a table whose rows carry their
//! targets and verdicts.

use crate::connections::ConnectionsCurve;
use crate::fleet;
use crate::pets::Resident;
use crate::report::{thousands, verdict};
use crate::voters::VotersCurve;

pub fn fleet(fleet: &fleet::FleetRow) {
    println!(
        "\nHow the idle fleet costs Consul (over its own {:.1}% of one core) and memory:",
        fleet.baseline_core_share * 100.0
    );
    println!("| fleet | Consul CPU over its own | per replica | pets RSS in all | per replica |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for point in &fleet.curve {
        let share = fleet.pets_core_share(point);
        let rss = Resident::mib(point.resident_kib);
        println!(
            "| {} | {:.2}% | {:.3}% | {:.0} MiB | {:.1} MiB |",
            match point.replicas {
                1 => "1 replica".to_owned(),
                n => format!("{n} replicas"),
            },
            share * 100.0,
            share * 100.0 / point.replicas as f64,
            rss,
            rss / point.replicas as f64,
        );
    }
    let largest = fleet.largest();
    let per = |p: &fleet::IdlePoint| fleet.pets_core_share(p) / p.replicas as f64;
    // The cost per replica must not grow with the fleet: the largest
    // fleet's per replica against the middle one's, with room for noise.
    let middle = &fleet.curve[fleet.curve.len() / 2];
    let flat = per(largest) <= per(middle) * 1.5 + 0.0002;
    let t = &fleet.load.total;
    println!(
        "{} replicas under pets load at {:.0}/s: {} of {} requests failed, p99 {:.1} ms; votes counted +{} for {} voters, pets served +{} for {} pages ({})",
        largest.replicas,
        t.requests as f64 / fleet.load.elapsed.as_secs_f64(),
        t.failed,
        t.requests,
        t.latency().p99,
        fleet.counted,
        fleet.load.voters,
        fleet.served,
        t.pages_ok,
        if fleet.exact() { "exact" } else { "LOST" },
    );
    println!(
        "targets: {} idle replicas under 10% of a core {} ({:.2}%); cost per replica not growing with the fleet (at {} at most 1.5 x at {}) {}; 0 failed under load {}",
        largest.replicas,
        verdict(fleet.pets_core_share(largest) < 0.10),
        fleet.pets_core_share(largest) * 100.0,
        largest.replicas,
        middle.replicas,
        verdict(flat),
        verdict(t.failed == 0),
    );
}

pub fn voters(curve: &VotersCurve) {
    let empty = curve.empty();
    println!("\nHow the store's voters cost (each a real first vote through pets, one in ten changing it; rows at 64 connections):");
    println!("| store | filled at | votes | vs empty | results | vs empty | pets RSS settled | Consul keys | Consul bytes | Consul RSS | new replica to exact tally |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for p in &curve.points {
        let filled = p.filled.as_ref().map_or("-".to_owned(), |f| {
            format!(
                "{:.0}/s{}",
                f.votes_per_second(),
                if f.exact() { "" } else { " LOST" }
            )
        });
        println!(
            "| {} voters | {filled} | {:.0}/s p99 {:.1} ms | {:.2} x | {:.0}/s | {:.2} x | {:.1} MiB | {} | {:.1} MiB | {:.0} MiB | {:.2} s |",
            thousands(p.voters),
            p.votes.requests_per_second,
            p.votes.p99_ms,
            p.votes.requests_per_second / empty.votes.requests_per_second,
            p.admin.requests_per_second,
            p.admin.requests_per_second / empty.admin.requests_per_second,
            Resident::mib(p.resident.total_kib),
            thousands(p.kv.keys),
            p.kv.bytes as f64 / f64::from(1 << 20),
            Resident::mib(p.consul_kib),
            p.first_tally.as_secs_f64(),
        );
    }
    for (p, f) in curve
        .points
        .iter()
        .filter_map(|p| p.filled.as_ref().map(|f| (p, f)))
    {
        println!(
            "filling to {} voters: {} first votes and {} changes accepted in {:.1} s, other answers {:?}; tally {:?} -> {:?} ({})",
            thousands(p.voters),
            f.sent.first_accepted,
            f.sent.changes_accepted,
            f.sent.took.as_secs_f64(),
            f.sent.others,
            f.before,
            f.after,
            if f.exact() { "exact" } else { "LOST" },
        );
    }
    let s = &curve.snapshot;
    println!(
        "consul snapshot save: {:.1} MiB in {:.2} s; restore {:.2} s; a new replica read {:?} after it, {:?} before ({})",
        s.bytes as f64 / f64::from(1 << 20),
        s.save.as_secs_f64(),
        s.restore.as_secs_f64(),
        s.after,
        s.before,
        if s.identical() { "identical" } else { "DIFFERENT" },
    );
    let rest = &curve.points[1..];
    let all = |f: &dyn Fn(&crate::voters::VoterPoint) -> bool| verdict(rest.iter().all(f));
    println!(
        "targets: votes at least 0.9 x the empty store's {} | results rate at least 0.9 x {} | pets RSS within 2 MiB of the empty store's {} | no vote refused while filling {} | counts exact and the snapshot's tally identical {}",
        all(&|p| p.votes.requests_per_second >= 0.9 * empty.votes.requests_per_second),
        all(&|p| p.admin.requests_per_second >= 0.9 * empty.admin.requests_per_second),
        all(&|p| p.resident.total_kib <= empty.resident.total_kib + 2048),
        all(&|p| p.filled.as_ref().is_none_or(|f| f.sent.others.is_empty())),
        verdict(curve.exact()),
    );
}

pub fn connections(curve: &ConnectionsCurve) {
    println!(
        "\nHow connections cost (keep-alive clients on the pet page; pets' cap PETS_MAX_CONNECTIONS={}, open files {}):",
        crate::connections::CAP,
        curve.open_files
    );
    println!("| clients | pets page | nginx, same bytes | ratio | socket errors (pets, nginx) | pets RSS at end | per connection | settled | slowest /health |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for p in &curve.points {
        println!(
            "| {} connections | {:.0}/s p99 {:.1} ms | {:.0}/s p99 {:.1} ms | {:.2} x | {}, {} | {:.1} MiB | {:.1} KiB | {:.1} MiB | {:.0} ms{} |",
            thousands(u64::from(p.connections)),
            p.page.requests_per_second,
            p.page.p99_ms,
            p.nginx.requests_per_second,
            p.nginx.p99_ms,
            p.ratio(),
            p.page.socket_errors,
            p.nginx.socket_errors,
            Resident::mib(p.at_end.total_kib),
            p.kib_per_connection(&curve.idle),
            Resident::mib(p.settled.total_kib),
            p.health_worst.as_secs_f64() * 1e3,
            if p.health_failed > 0 {
                format!(", {} failed", p.health_failed)
            } else {
                String::new()
            },
        );
    }
    let largest = curve.points.last().expect("at least one point");
    println!(
        "pets idle before the rows: {:.1} MiB",
        Resident::mib(curve.idle.total_kib)
    );
    println!(
        "targets: page at least 0.8 x nginx at {} {} ({:.2} x) | RSS at most 64 MiB at {} {} ({:.1} MiB) | /health within 1 s throughout {} | every page 200 {}",
        thousands(u64::from(largest.connections)),
        verdict(largest.ratio() >= 0.8),
        largest.ratio(),
        thousands(u64::from(largest.connections)),
        verdict(largest.at_end.total_kib <= 64 * 1024),
        Resident::mib(largest.at_end.total_kib),
        verdict(curve.points.iter().all(|p| p.health_failed == 0
            && p.health_worst < std::time::Duration::from_secs(1))),
        verdict(curve.points.iter().all(|p| p.page.others(200) == 0)),
    );
}

/// The three curves as SVG charts in `dir`, captioned with `date`.
pub fn charts(
    dir: &std::path::Path,
    date: &str,
    fleet: &fleet::FleetRow,
    voters: &VotersCurve,
    connections: &ConnectionsCurve,
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    use crate::charts::{draw, Chart};
    std::fs::create_dir_all(dir)?;
    let empty = voters.empty();
    let charts = [
        Chart {
            name: "cost-replicas",
            caption: format!("An idle fleet's cost to Consul ({date})"),
            x_label: "pets replicas",
            y_label: "Consul CPU over its own, % of a core",
            points: fleet
                .curve
                .iter()
                .map(|p| (p.replicas as f64, fleet.pets_core_share(p) * 100.0))
                .collect(),
            target: 10.0,
            target_label: "target: under 10% at 64".into(),
            evenly_spaced: false,
        },
        Chart {
            name: "cost-voters",
            caption: format!("Votes a second as the store fills ({date})"),
            x_label: "distinct voters in the store",
            y_label: "votes/s, x the empty store's",
            points: voters
                .points
                .iter()
                .map(|p| {
                    let ratio = p.votes.requests_per_second / empty.votes.requests_per_second;
                    (p.voters as f64, ratio)
                })
                .collect(),
            target: 0.9,
            target_label: "target: at least 0.9 x".into(),
            evenly_spaced: false,
        },
        Chart {
            name: "cost-connections",
            caption: format!("The pet page against nginx by clients ({date})"),
            x_label: "keep-alive clients",
            y_label: "pages/s, x nginx's",
            points: connections
                .points
                .iter()
                .map(|p| (f64::from(p.connections), p.ratio()))
                .collect(),
            target: 0.8,
            target_label: "target: at least 0.8 x at 10,000".into(),
            evenly_spaced: true,
        },
        Chart {
            name: "cost-connections-memory",
            caption: format!("pets' memory by clients ({date})"),
            x_label: "keep-alive clients",
            y_label: "resident MiB at the row's end",
            points: connections
                .points
                .iter()
                .map(|p| (f64::from(p.connections), Resident::mib(p.at_end.total_kib)))
                .collect(),
            target: 64.0,
            target_label: "target: at most 64 MiB at 10,000".into(),
            evenly_spaced: true,
        },
    ];
    charts.iter().map(|chart| draw(dir, chart)).collect()
}
