//! The real `pets` binary as a child process, for tests that need what an
//! in-process app cannot give: its own open-files limit, its memory, a
//! signal (SIGKILL, SIGSTOP), its log as a person reads it.

use std::os::unix::process::CommandExt;

use tokio::io::AsyncBufReadExt;
use tokio::process::Child;
use tokio::sync::mpsc;

/// The real binary on free ports, with `limit` open files (soft and hard).
pub struct Binary {
    pub child: Child,
    pub web: String,
    pub admin: String,
    /// What it wrote before its start-up line, that line, and then every
    /// line as it comes (kept for whoever reads them).
    pub early: Vec<String>,
    pub started: String,
    pub lines: mpsc::UnboundedReceiver<String>,
}

impl Binary {
    pub async fn start(env: &[(&str, &str)], open_files: Option<u64>) -> Self {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pets"));
        command
            .env("WEB_PORT", "0")
            .env("ADMIN_PORT", "0")
            .env("PETS_BIND", "127.0.0.1")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped());
        if let Some(limit) = open_files {
            // SAFETY: setrlimit is async-signal-safe and touches only its argument.
            unsafe {
                command.pre_exec(move || {
                    let rlimit = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit);
                    Ok(())
                });
            }
        }
        let mut child = tokio::process::Command::from(command)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let (sender, mut lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                let _ = sender.send(line);
            }
        });
        let mut early = Vec::new();
        let started = loop {
            let next = tokio::time::timeout(std::time::Duration::from_secs(30), lines.recv());
            let line = next
                .await
                .unwrap_or_else(|_| panic!("no start-up line within 30 s; before it: {early:?}"))
                .expect("a start-up line");
            if line.contains("pets started") {
                break line;
            }
            early.push(line);
        };
        Self {
            web: address(&started, "web"),
            admin: address(&started, "admin"),
            child,
            early,
            started,
            lines,
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        let pid = self.child.id().expect("still running") as i32;
        // SAFETY: signalling our own child.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id().unwrap())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    }
}

/// An address the start-up line names, as text (`web=…`) or JSON
/// (`"web":"…"`).
fn address(line: &str, name: &str) -> String {
    for key in [format!("{name}="), format!("\"{name}\":\"")] {
        if let Some(at) = line.find(&key) {
            let rest = &line[at + key.len()..];
            return rest
                .split(|c: char| c.is_whitespace() || c == '"')
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    }
    panic!("no {name} address in the start-up line: {line}")
}
