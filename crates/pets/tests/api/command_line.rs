//! The real binary's command line, as a new user meets it: every command's
//! `--help` answers at once and binds nothing, and a setting that cannot
//! work stops start-up with its variable's name.

use std::net::TcpListener;
use std::process::Output;
use std::time::{Duration, Instant};

/// Runs `pets args` with `env`, at most 5 s, and how long it took.
fn pets(args: &[&str], env: &[(&str, &str)]) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pets"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "`pets {}` still running after 5 s: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (child.wait_with_output().unwrap(), started.elapsed())
}

#[test]
fn every_command_has_help_that_binds_nothing() {
    let port = pets_testkit::free_port().to_string();
    // Each command pointed at `port`: had it started serving, the port
    // would be held, and the command would still be running.
    let env = [
        ("WEB_PORT", port.as_str()),
        ("ADMIN_PORT", "0"),
        ("PAAS_PORT", port.as_str()),
        ("PETS_BIND", "127.0.0.1"),
        ("PAAS_BIND", "127.0.0.1"),
    ];
    for (args, says) in [
        (
            vec!["--help"],
            vec![
                "serve",
                "load",
                "paas",
                "healthcheck",
                "consul-acl",
                "WEB_PORT",
                "DB",
            ],
        ),
        (vec!["-h"], vec!["Usage: pets"]),
        (
            vec!["serve", "--help"],
            vec!["WEB_PORT", "ADMIN_PASSWORD_FILE"],
        ),
        (
            vec!["load", "--help"],
            vec!["--target", "--rate", "--voters", "--duration"],
        ),
        (
            vec!["paas", "--help"],
            vec!["PAAS_PORT", "PAAS_TTL", "PAAS_IMAGE"],
        ),
        (vec!["healthcheck", "--help"], vec!["WEB_PORT", "/health"]),
        (
            vec!["consul-acl", "--help"],
            vec!["PETS_CONSUL_WEB_TOKEN_FILE", "CONSUL_HTTP_TOKEN_FILE"],
        ),
        (vec!["help", "load"], vec!["--vote-share"]),
    ] {
        let (output, took) = pets(&args, &env);
        let out = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "pets {args:?}: {output:?}");
        assert!(took < Duration::from_secs(1), "pets {args:?} took {took:?}");
        for word in says {
            assert!(out.contains(word), "pets {args:?} mentions {word}: {out}");
        }
        TcpListener::bind(format!("127.0.0.1:{port}"))
            .unwrap_or_else(|e| panic!("pets {args:?} left port {port} held: {e}"));
    }
    let (output, _) = pets(&["--version"], &[]);
    assert!(output.status.success());
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.starts_with("pets "), "{out}");
}

#[test]
fn a_setting_that_cannot_work_stops_start_up_naming_it() {
    for (args, env, variable) in [
        (vec![], vec![("WEB_PORT", "70000")], "WEB_PORT"),
        (vec!["--web-port", "70000"], vec![], "WEB_PORT"),
        (vec!["paas"], vec![("PAAS_TTL", "forever")], "PAAS_TTL"),
        (vec!["paas"], vec![("PAAS_IMAGE", "pets:1.0")], "PAAS_IMAGE"),
        (
            vec!["paas"],
            vec![("PAAS_IMAGE", "Not An Image")],
            "PAAS_IMAGE",
        ),
        (
            vec![],
            vec![("ADMIN_PASSWORD_FILE", "")],
            "ADMIN_PASSWORD_FILE",
        ),
        (vec![], vec![("DB", "db:notaport")], "DB"),
        (vec!["healthcheck"], vec![("WEB_PORT", "x")], "WEB_PORT"),
        (vec!["consul-acl"], vec![], "DB"),
        (
            vec!["consul-acl"],
            vec![("DB", "db")],
            "CONSUL_HTTP_TOKEN_FILE",
        ),
        (
            vec!["consul-acl"],
            vec![("PETS_CONSUL_WEB_TOKEN_FILE", "/proc/self/status")],
            "PETS_CONSUL_WEB_TOKEN_FILE",
        ),
    ] {
        let (output, took) = pets(&args, &env);
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{env:?}: {err}");
        assert!(took < Duration::from_secs(1), "{env:?} took {took:?}");
        assert!(
            err.contains(&format!("{variable}: ")),
            "{args:?} {env:?} names {variable}: {err}"
        );
    }
    // A blank variable is unset, as it always was: the default port is
    // asked (and answers or not), not refused as a setting.
    let (output, _) = pets(&["healthcheck"], &[("WEB_PORT", " ")]);
    assert_ne!(output.status.code(), Some(2), "{output:?}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("WEB_PORT"));
    let (output, _) = pets(&["load"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--target"));
}
