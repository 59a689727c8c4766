//! `pets load`: its flags, read into [`LoadOptions`], and the store it
//! publishes its figures to (the same section as `pets serve`'s).

use std::time::Duration;

use clap::Args;
use pets_load::options::{CaCert, LoadOptions, Resolve, Target, MAX_RATE};

use super::parse;
use super::site::IdentityArgs;
use super::store::{replica_name, StoreArgs, StoreSettings};
use super::ConfigError;

/// Everything `pets load` reads.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Where to send visitors: http://host:port or https://host base URLs,
    /// comma-separated or repeated. A name is looked up again every 3 s and
    /// the load spread over every address behind it (`tasks.web:5000`
    /// reaches each Swarm task).
    #[arg(long, value_name = "URL", required = true, value_delimiter = ',',
          value_parser = Target::parse)]
    pub target: Vec<Target>,
    /// The addresses of a target's host and port, instead of looking the
    /// name up, as curl takes them: pets.example.com:443:10.0.0.2,10.0.0.3
    /// sends to each in turn, naming pets.example.com (Host and TLS). Repeat
    /// for more hosts.
    #[arg(long, value_name = "HOST:PORT:ADDRS", value_parser = Resolve::parse)]
    pub resolve: Vec<Resolve>,
    /// A CA certificate (PEM) to trust for https targets, beside the usual
    /// roots: a lab's own CA.
    #[arg(long, value_name = "FILE", value_parser = CaCert::read)]
    pub ca_cert: Option<CaCert>,
    /// Requests a second, sent on schedule whether or not earlier ones
    /// answered.
    #[arg(long, value_name = "N", default_value = "50",
          value_parser = rate)]
    pub rate: u64,
    /// Synthetic visitors, each with its own cookies.
    #[arg(long, value_name = "N", default_value = "100",
          value_parser = parse::bounded(1, 1_000_000))]
    pub voters: u64,
    /// How long to run (30s, 5m, 1h); unset: until Ctrl-C or SIGTERM.
    #[arg(long, value_name = "D", value_parser = pets_load::options::duration)]
    pub duration: Option<Duration>,
    /// The share of a voter's requests that are votes once they have voted.
    #[arg(long, value_name = "P", default_value = "0.1", value_parser = share)]
    pub vote_share: f64,
    /// One JSON object a second and a final report, instead of the live line
    /// and table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

impl LoadArgs {
    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            targets: self.target.clone(),
            resolve: self.resolve.clone(),
            ca_cert: self.ca_cert.clone(),
            rate: self.rate as u32,
            voters: self.voters as usize,
            duration: self.duration,
            vote_share: self.vote_share,
            json: self.json,
        }
    }

    /// The store to publish to, as `load-<host>`.
    pub fn store(&self) -> Result<StoreSettings, ConfigError> {
        let host = self.identity.hostname();
        self.store.settings(&replica_name(&format!("load-{host}")))
    }
}

fn rate(raw: &str) -> Result<u64, String> {
    parse::bounded(1, MAX_RATE.into())(raw.trim().trim_end_matches("/s"))
}

fn share(raw: &str) -> Result<f64, String> {
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| format!("`{}` is not a share between 0 and 1", raw.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::cli::{try_parse_from, Command};

    fn parse(args: &[&str]) -> Result<LoadOptions, String> {
        let mut all = vec!["pets", "load"];
        all.extend_from_slice(args);
        match try_parse_from(all)
            .map_err(|e| e.to_string())?
            .into_command()
        {
            Command::Load(load) => Ok(load.options()),
            other => panic!("not load: {other:?}"),
        }
    }

    #[test]
    fn options_parse_with_defaults() {
        let options = parse(&[
            "--target",
            "http://tasks.web:5000,127.0.0.1:5001",
            "--rate=200/s",
            "--duration",
            "2m",
            "--json",
        ])
        .unwrap();
        assert_eq!(
            options.targets,
            [
                Target {
                    host: "tasks.web".into(),
                    port: 5000,
                    tls: false
                },
                Target {
                    host: "127.0.0.1".into(),
                    port: 5001,
                    tls: false
                }
            ]
        );
        assert_eq!(options.rate, 200);
        assert_eq!(options.duration, Some(Duration::from_secs(120)));
        assert!(options.json);
        assert_eq!(options.voters, 100);
        let twice = parse(&["--target", "a:1", "--target", "b:2"]).unwrap();
        assert_eq!(twice.targets.len(), 2);
        let routed = parse(&[
            "--target",
            "https://pets.example.com",
            "--resolve",
            "pets.example.com:443:10.0.0.2,10.0.0.3",
        ])
        .unwrap();
        assert!(routed.targets[0].tls);
        assert_eq!(routed.resolve[0].addrs.len(), 2);
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        for (args, expected) in [
            (vec![], "--target <URL>"),
            (vec!["--target"], "a value is required"),
            (vec!["--target", "ftp://x:1"], "http://host:port"),
            (
                vec!["--target", "x:1", "--resolve", "x:1"],
                "host:port:address",
            ),
            (
                vec!["--target", "x:1", "--ca-cert", "/no/such.pem"],
                "cannot read",
            ),
            (vec!["--target", "x:1", "--rate", "0"], "from 1 to"),
            (vec!["--target", "x:1", "--duration", "soon"], "30s or 5m"),
            (
                vec!["--target", "x:1", "--vote-share", "2"],
                "between 0 and 1",
            ),
            (
                vec!["--target", "x:1", "--speed", "9"],
                "unexpected argument",
            ),
        ] {
            let error = parse(&args).unwrap_err();
            assert!(error.contains(expected), "{args:?}: {error}");
        }
    }
}
