//! The dev stack's releases, the end of the Swarm test: a rolling update to
//! 2.0 under `pets load` that fails no request, the meter's bars moving from
//! 1.0 to 2.0, the console's fleet on the new version only, and `broken`
//! rolled back by Swarm itself.

use std::collections::BTreeMap;
use std::time::Duration;

use pets_testkit::holds;

use crate::stack::{tasks, update_state, Stack, Task};
use crate::support::{
    docker, eventually, http, image_update_args, no_request_failed, page, report_voters,
    try_docker, try_get_json,
};
use crate::swarm::{running_web_tasks, votes};

/// A rolling update to 2.0 under `pets load`, the stack's `load` service
/// scaled to 1, as the lab does it: the console's availability meter moves,
/// and once the driver stops, its figures (on the console and in its report)
/// say how many requests failed: the target is none. The tally gains exactly
/// the driver's voters.
pub(crate) async fn a_rolling_update_under_load_fails_no_request(tally: [u64; 3]) {
    let load = Stack::service("load");
    docker(&["service", "scale", "--detach", &format!("{load}=1")]);
    let web = running_web_tasks(2).await;
    let meter_at = |task: &Task| format!("http://{}:7000/api/meter", task.ip);
    let moving = eventually(Duration::from_secs(90), "the meter moving", || async {
        holds(try_get_json(&meter_at(&web[0])).await?, |m| {
            m["rate"].as_u64() >= Some(20) && m["drivers"][0]["running"] == true
        })
    })
    .await;
    eprintln!("the meter, before the update: {}", moving["summary"]);
    let before = versions_by_second(&moving);
    assert!(
        !before.is_empty() && before.iter().all(|s| only(s, "1.0")),
        "before the update every second is all 1.0: {before:?}"
    );
    // Blocks until the update converges: off the runtime's threads.
    tokio::task::spawn_blocking(|| {
        let update = image_update_args("pets:2.0", &Stack::service("web"), true);
        docker(&update.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    // Traffic on 2.0 alone for a while, then the driver stops and reports.
    // SIGTERM to its container, as `docker service scale` would send, but
    // the stopped container (and so its report) stays until the scale to 0.
    tokio::time::sleep(Duration::from_secs(5)).await;
    the_console_shows_the_versions_shift(&running_web_tasks(2).await[0]).await;
    let filter = format!("label=com.docker.swarm.service.name={load}");
    let driver_container = docker(&["ps", "-q", "--filter", &filter]);
    docker(&["kill", "--signal", "TERM", driver_container.trim()]);
    let report = eventually(Duration::from_secs(30), "the driver's report", || async {
        holds(try_docker(&["logs", driver_container.trim()])?, |l| {
            l.contains(" voters)")
        })
    })
    .await;
    let web = running_web_tasks(2).await;
    let meter = eventually(
        Duration::from_secs(30),
        "the driver's last figures",
        || async {
            holds(try_get_json(&meter_at(&web[1])).await?, |m| {
                m["drivers"][0]["running"] == false
            })
        },
    )
    .await;
    docker(&["service", "scale", "--detach", &format!("{load}=0")]);
    if meter["drivers"][0]["failed"].as_u64() != Some(0) {
        explain_failures();
    }
    no_request_failed("rolling update 1.0 -> 2.0 under pets load", &meter, &report);
    the_versions_shift_from_old_to_new(&meter, &report);
    for task in &web {
        let page = page(task, "/vote").await;
        assert!(page.contains("version 2.0") && page.contains("theme-night"));
    }
    let voters = report_voters(&report);
    let expected = tally.iter().sum::<u64>() + voters;
    let url = format!("http://{}:7000/api/results", web[0].ip);
    eventually(
        Duration::from_secs(5),
        "every vote before and during the update counted, once",
        || async {
            holds(
                votes(&try_get_json(&url).await?).iter().sum::<u64>(),
                |&n| n == expected,
            )
        },
    )
    .await;
}

/// The meter's version split at the end of the update: no second in the
/// window failed (no red mark), the last seconds are all 2.0, and when the
/// window still holds the whole run (it is 5 minutes), its first seconds are
/// all 1.0 and 2.0 first answered after them. The driver's report names
/// every success's version: 1.0 and 2.0 both, adding up to its `ok`.
fn the_versions_shift_from_old_to_new(meter: &serde_json::Value, report: &str) {
    let fails = meter["chart"]["fails"].as_array().map_or(0, Vec::len);
    assert_eq!(
        fails, 0,
        "no second with a failure: {}",
        meter["chart"]["fails"]
    );
    let seconds = versions_by_second(meter);
    eprintln!(
        "the meter's versions, second by second: {}",
        seconds
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let last = &seconds[seconds.len().saturating_sub(5)..];
    assert!(
        last.len() == 5 && last.iter().all(|s| only(s, "2.0")),
        "the last seconds are all 2.0: {last:?}"
    );
    let whole_run = meter["requests"] == meter["drivers"][0]["requests"];
    if whole_run {
        let first = &seconds[..5.min(seconds.len())];
        assert!(
            first.iter().all(|s| only(s, "1.0")),
            "the first seconds are all 1.0: {first:?}"
        );
        let first_new = seconds.iter().position(|s| s.contains_key("2.0"));
        let last_old = seconds.iter().rposition(|s| s.contains_key("1.0"));
        assert!(
            matches!((last_old, first_new), (Some(old), Some(new)) if old + 1 >= new),
            "1.0 gives way to 2.0"
        );
    }
    let line = |name: &str| {
        report
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(name))
            .unwrap_or_else(|| panic!("the report has a `{name}` line: {report}"))
            .trim()
            .to_owned()
    };
    let by_version: BTreeMap<String, u64> = line("by version")
        .split("  ")
        .filter_map(|part| {
            let (version, n) = part.trim().split_once(": ")?;
            Some((version.to_owned(), n.parse().ok()?))
        })
        .collect();
    let ok: u64 = line("ok")
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("the report's ok count");
    assert!(
        by_version.len() == 2 && by_version.values().all(|&n| n > 0),
        "the report splits the run into 1.0 and 2.0: {by_version:?}"
    );
    assert!(by_version.contains_key("1.0") && by_version.contains_key("2.0"));
    assert_eq!(
        by_version.values().sum::<u64>(),
        ok,
        "every success named its version"
    );
}

/// Each second with successes in the meter's window, oldest first: its
/// successful requests by version, from the chart's segments (one per
/// second and version, with its count) and the versions' shades.
fn versions_by_second(meter: &serde_json::Value) -> Vec<BTreeMap<String, u64>> {
    let names: BTreeMap<u64, String> = meter["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| Some((v["shade"].as_u64()?, v["version"].as_str()?.to_owned())))
        .collect();
    let mut seconds: BTreeMap<u64, BTreeMap<String, u64>> = BTreeMap::new();
    for segment in meter["chart"]["segments"].as_array().into_iter().flatten() {
        let (Some(x), Some(shade), Some(n)) = (
            segment["x"].as_u64(),
            segment["shade"].as_u64(),
            segment["n"].as_u64(),
        ) else {
            panic!("a segment with x, shade and n: {segment}");
        };
        let version = names
            .get(&shade)
            .cloned()
            .unwrap_or(format!("shade {shade}"));
        *seconds.entry(x).or_default().entry(version).or_default() += n;
    }
    seconds.into_values().collect()
}

/// Whether a second's successes all came from `version`.
fn only(second: &BTreeMap<String, u64>, version: &str) -> bool {
    second.keys().all(|v| v == version) && second.contains_key(version)
}

/// After the update to 2.0 the console's fleet shows two 2.0 replicas: the
/// 1.0 cards left as their tasks stopped.
pub(crate) async fn the_fleet_shows_the_new_version_only() {
    let web = running_web_tasks(2).await;
    let url = format!("http://{}:7000/api/fleet", web[0].ip);
    eventually(Duration::from_secs(30), "only 2.0 in the fleet", || async {
        let fleet = try_get_json(&url).await?;
        let versions: Vec<String> = fleet["replicas"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["version"].as_str().map(str::to_owned))
            .collect();
        holds(versions, |v| v == &["2.0", "2.0"])
    })
    .await;
}

/// An update to `broken` looks fine at first (its task answers `/health`
/// with 200), then fails its health check 20 s after start, inside the
/// update's monitor period, and Swarm rolls it back by itself, to 2.0.
pub(crate) async fn broken_rolls_itself_back() {
    let update = image_update_args("pets:broken", &Stack::service("web"), false);
    docker(&update.iter().map(String::as_str).collect::<Vec<_>>());
    let client = http();
    eventually(Duration::from_secs(90), "a healthy broken task", || async {
        for task in tasks("web")? {
            let base = format!("http://{}:5000", task.ip);
            let Ok(vote) = client.get(format!("{base}/vote")).send().await else {
                continue;
            };
            let page = vote.text().await.unwrap_or_default();
            let health = client.get(format!("{base}/health")).send().await;
            if page.contains("version broken") && health.is_ok_and(|h| h.status() == 200) {
                return Ok(());
            }
        }
        Err("no broken task answering 200 yet".to_owned())
    })
    .await;
    let state = eventually(Duration::from_secs(240), "automatic rollback", || async {
        holds(update_state("web"), |s| {
            matches!(s.as_str(), "rollback_completed" | "rollback_paused")
        })
    })
    .await;
    assert_eq!(state, "rollback_completed");
    let image = docker(&[
        "service",
        "inspect",
        "-f",
        "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
        &Stack::service("web"),
    ]);
    assert!(image.starts_with("pets:2.0"), "back on 2.0: {image}");
    let web = running_web_tasks(2).await;
    assert!(page(&web[0], "/vote").await.contains("version 2.0"));
}

/// Prints what the web tasks warned of and what Consul said about its
/// leader, so that a failed request during the update can be traced to its
/// cause in the test's output.
fn explain_failures() {
    for (service, wanted) in [
        ("web", &["WARN", "ERROR"][..]),
        ("db", &["leader", "election", "Failed", "ERROR"][..]),
    ] {
        // Tasks log to both streams: read both. `docker service logs` can
        // hang on a task whose logs are gone: give it 30 s, not the run.
        let logs = std::process::Command::new("timeout")
            .args(["30", "docker", "service", "logs", "--raw"])
            .arg(Stack::service(service))
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr)
            })
            .unwrap_or_else(|e| format!("cannot run docker: {e}"));
        let lines: Vec<&str> = logs
            .lines()
            .filter(|l| wanted.iter().any(|w| l.contains(w)))
            .collect();
        eprintln!("{service}'s logs, {wanted:?} lines, the last 40:");
        for line in &lines[lines.len().saturating_sub(40)..] {
            eprintln!("  {line}");
        }
    }
}

/// The console in Chromium just after the update, traffic still running:
/// the meter's bars in 1.0's colour, then 2.0's, both in its legend, and no
/// red. The screenshot is the README's.
async fn the_console_shows_the_versions_shift(task: &Task) {
    let browser = pets_testkit::browser::Browser::start().await;
    browser
        .client
        .goto(&format!("http://{}:7000/", task.ip))
        .await
        .unwrap();
    let count = |css: &'static str| {
        let browser = &browser;
        async move {
            let script = format!("return document.querySelectorAll('{css}').length");
            browser.eval(&script).await.as_u64().unwrap_or(0)
        }
    };
    eventually(Duration::from_secs(10), "both versions' bars", || async {
        let shades = browser
            .eval(
                "return new Set(Array.from(document.querySelectorAll('#meter-segments rect'))\
                 .map(r => r.getAttribute('class'))).size",
            )
            .await;
        holds(shades.as_u64().unwrap_or(0), |&n| n >= 2)
    })
    .await;
    let legend = browser.text("#meter-versions").await;
    assert!(
        legend.contains("version 1.0") && legend.contains("version 2.0"),
        "{legend}"
    );
    assert_eq!(count("#meter-fails rect").await, 0, "no failed second");
    browser
        .client
        .execute("document.getElementById('meter').scrollIntoView()", vec![])
        .await
        .unwrap();
    browser.screenshot("admin-meter-rollout.png").await;
    browser.close().await;
}
