//! The real `pets` binary as a child process, for tests that need what an
//! in-process app cannot give: its own open-files limit, its memory, a
//! signal (SIGKILL, SIGSTOP).

use std::os::unix::process::CommandExt;

use tokio::process::Child;

/// The real binary on free ports, with `limit` open files (soft and hard).
pub struct Binary {
    pub child: Child,
    pub web: String,
    pub admin: String,
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
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
        let line = loop {
            let line = lines.next_line().await.unwrap().expect("a start-up line");
            if line.contains("pets started") {
                break line;
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let addr = |name: &str| {
            let at = line.find(&format!("{name}=")).expect("address logged") + name.len() + 1;
            line[at..].split_whitespace().next().unwrap().to_owned()
        };
        Self {
            web: addr("web"),
            admin: addr("admin"),
            child,
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
