//! The typed parsers every section of the command line shares: a port, a
//! duration in seconds, a whole number within bounds, a switch, a list of
//! networks or host names, and a secret file.
//!
//! Each takes the text of a flag or its environment variable (the two are
//! the same setting, see [`super::cli`]) and either returns the value or
//! says what is wrong with it; the caller names the variable. Surrounding
//! whitespace is ignored everywhere, so a value copied with a trailing space
//! or a Windows line ending still reads.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;

/// A TCP port; `0` asks the system for a free one.
pub fn port(raw: &str) -> Result<u16, String> {
    let raw = raw.trim();
    raw.parse()
        .map_err(|_| format!("`{raw}` is not a port number (0 to 65535)"))
}

/// An IP address to listen on.
pub fn address(raw: &str) -> Result<IpAddr, String> {
    let raw = raw.trim();
    raw.parse()
        .map_err(|_| format!("`{raw}` is not an IP address"))
}

/// A whole number from `min` to `max`.
pub fn bounded(min: u64, max: u64) -> impl Fn(&str) -> Result<u64, String> + Clone {
    move |raw: &str| {
        let raw = raw.trim();
        raw.parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| format!("`{raw}` is not a whole number from {min} to {max}"))
    }
}

/// A whole number, any size.
pub fn whole(raw: &str) -> Result<u64, String> {
    let raw = raw.trim();
    raw.parse()
        .map_err(|_| format!("`{raw}` is not a whole number"))
}

/// Seconds, with or without a trailing `s`, fractions allowed, more than
/// zero and at most `max`.
pub fn seconds(max: f64) -> impl Fn(&str) -> Result<Duration, String> + Clone {
    move |raw: &str| {
        let raw = raw.trim();
        match raw.trim_end_matches('s').parse::<f64>() {
            Ok(s) if s > 0.0 && s <= max => Ok(Duration::from_secs_f64(s)),
            _ => Err(format!(
                "`{raw}` is not a number of seconds (above 0, at most {max})"
            )),
        }
    }
}

/// Like [`seconds`], but zero is allowed: "not at all".
pub fn seconds_or_zero(max: f64) -> impl Fn(&str) -> Result<Duration, String> + Clone {
    move |raw: &str| {
        let raw = raw.trim();
        match raw.trim_end_matches('s').parse::<f64>() {
            Ok(s) if (0.0..=max).contains(&s) => Ok(Duration::from_secs_f64(s)),
            _ => Err(format!("`{raw}` is not a number of seconds (0 to {max})")),
        }
    }
}

/// `on`/`off`, and the usual spellings of yes and no.
pub fn switch(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        other => Err(format!("`{other}` is neither on nor off")),
    }
}

/// Text that must not be blank.
pub fn text(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("it is empty".into());
    }
    Ok(raw.to_owned())
}

/// A path (to a file or folder).
pub fn path(raw: &str) -> Result<PathBuf, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("it is set but empty: name a file, or unset it".into());
    }
    Ok(PathBuf::from(raw))
}

/// Comma-separated addresses or CIDR blocks, such as `10.0.0.0/8,192.168.1.1`.
pub fn networks(raw: &str) -> Result<Networks, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("`{s}` is not an address or a CIDR block such as 10.0.0.0/8"))
        })
        .collect::<Result<_, _>>()
        .map(Networks)
}

/// A list of networks, as one value of the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks(pub Vec<IpNet>);

/// Comma-separated host names, lowercased.
pub fn hosts(raw: &str) -> Result<Hosts, String> {
    let hosts: Vec<String> = raw
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    if let Some(bad) = hosts.iter().find(|h| !valid_domain(h)) {
        return Err(format!("`{bad}` is not a host name"));
    }
    Ok(Hosts(hosts))
}

/// A list of host names, as one value of the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hosts(pub Vec<String>);

pub use pets_web::valid_domain;

/// A secret read from a file, such as a Swarm secret under `/run/secrets`.
///
/// The one rule for every secret file: the secret is the file's first line,
/// without its line ending. A file that cannot be read, is empty, or whose
/// first line is blank is refused, so a console never opens by accident and
/// a token never goes out as an empty string.
#[derive(Clone)]
pub struct SecretFile {
    pub path: PathBuf,
    pub secret: SecretString,
}

impl std::fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Reads a [`SecretFile`].
pub fn secret_file(raw: &str) -> Result<SecretFile, String> {
    let path = path(raw)?;
    let shown = path.display();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if text.trim().is_empty() {
        return Err(format!(
            "`{shown}` is empty; its first line must hold the secret"
        ));
    }
    let first = text.lines().next().unwrap_or("");
    if first.trim().is_empty() {
        return Err(format!(
            "the first line of `{shown}` is blank; the secret must be on the first line"
        ));
    }
    Ok(SecretFile {
        secret: SecretString::from(first),
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn numbers_and_durations() {
        assert_eq!(port(" 5000 "), Ok(5000));
        assert!(port("70000").unwrap_err().contains("70000"));
        assert_eq!(bounded(1, 10)("10"), Ok(10));
        assert!(bounded(1, 10)("0").is_err());
        assert_eq!(seconds(60.0)("2.5s"), Ok(Duration::from_millis(2500)));
        assert!(seconds(60.0)("0").is_err());
        assert!(seconds(60.0)("61").is_err());
        assert_eq!(seconds_or_zero(60.0)("0"), Ok(Duration::ZERO));
        assert!(seconds_or_zero(60.0)("-1").is_err());
    }

    #[test]
    fn switches_lists_and_hosts() {
        assert_eq!(switch("ON"), Ok(true));
        assert_eq!(switch("no"), Ok(false));
        assert!(switch("maybe").is_err());
        assert_eq!(networks("10.0.0.0/8, 192.168.1.1").unwrap().0.len(), 2);
        assert!(networks("everyone").is_err());
        assert_eq!(
            hosts("Pets.Example.com,admin.example.com").unwrap().0,
            ["pets.example.com", "admin.example.com"]
        );
        assert!(hosts("evil.com/x").is_err());
    }

    /// The one rule for a secret file, pinned: the first line without its
    /// line ending; empty files and blank first lines are refused.
    #[test]
    fn a_secret_is_the_first_line_of_its_file() {
        let dir = std::env::temp_dir().join(format!("pets-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        let read = |contents: &str| {
            std::fs::write(&file, contents).unwrap();
            secret_file(file.to_str().unwrap())
        };
        for (contents, secret) in [
            ("hunter2", "hunter2"),
            ("hunter2\n", "hunter2"),
            ("hunter2\r\n", "hunter2"),
            ("hunter2\nignored\n", "hunter2"),
            ("two words \n", "two words "),
        ] {
            let read = read(contents).unwrap();
            assert_eq!(read.secret.expose_secret(), secret, "{contents:?}");
            assert!(!format!("{read:?}").contains("hunter2"), "Debug hides it");
        }
        for (contents, says) in [("", "empty"), (" \n", "empty"), ("\nhunter2\n", "blank")] {
            let e = read(contents).unwrap_err();
            assert!(e.contains(says), "{contents:?}: {e}");
        }
        assert!(secret_file("/nonexistent/secret")
            .unwrap_err()
            .contains("/nonexistent/secret"));
    }
}
