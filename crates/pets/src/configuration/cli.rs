//! The command line: `pets [serve]`, `pets load`, `pets paas`,
//! `pets healthcheck`, `pets consul-acl`, each with `--help`, and `pets --version`.
//!
//! Every setting is a flag and an environment variable at once (clap's `env`
//! support), so `pets --help` is the reference for configuration and
//! `--web-port 5001` means exactly what `WEB_PORT=5001` means; a flag given
//! wins over its variable. Each flag's value name is its variable's name, so
//! the help shows both. The sections (`serve`, `store`, `security`, ...) are
//! `clap::Args` structs of their own, read by whichever command needs them.
//!
//! [`from_vars`] parses one section from a lookup of variables instead of the
//! process environment, through the same definitions: tests and embedders
//! never touch the environment, and the variables they pass are read exactly
//! as the real ones are.

use clap::{Args, FromArgMatches, Parser, Subcommand};

use super::consul_acl::ConsulAclArgs;
use super::healthcheck::HealthcheckArgs;
use super::load::LoadArgs;
use super::paas::PaasArgs;
use super::serve::ServeArgs;
use super::ConfigError;

/// pets: Docker Pets in Rust. Vote for a pet on :5000, watch the results
/// and the fleet on the admin console on :7000.
///
/// With no command, serves both sites (`pets serve`). Every option is also
/// an environment variable (shown beside it); nothing is required: with no
/// `DB`, votes live in the process.
#[derive(Debug, Parser)]
#[command(
    name = "pets",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Every option's variable is read when the flag is not given. \
                  More in README.md and docs/CONFIGURATION.md."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

// Made once per process: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the voter site and the admin console (what `pets` alone does).
    Serve(ServeArgs),
    /// Drive synthetic visitors at a deployment at a steady rate, and report
    /// every outcome; with `DB` set, publish each second for the console's
    /// availability meter.
    Load(LoadArgs),
    /// Pets as a Service: a throwaway pets per visitor, each a container on
    /// this Docker engine, on its own subdomain.
    Paas(PaasArgs),
    /// Ask this container's pets whether it is healthy (the image's
    /// HEALTHCHECK): exit 0 only if `/health` answers 200.
    Healthcheck(HealthcheckArgs),
    /// Give Consul pets' least-privilege roles: with the management token,
    /// create or update the web, load and agent policies and a token for each
    /// from the secrets given (a one-shot job at deploy; running it again changes
    /// nothing).
    ConsulAcl(ConsulAclArgs),
}

impl Cli {
    /// The command to run: `pets` alone is `pets serve`.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}

/// Whether a variable set to `value` counts as set. A blank value counts as
/// unset (`WEB_PORT=` is the default port), except for a variable naming a
/// file: `ADMIN_PASSWORD_FILE=` from an unset shell variable must not open
/// the console, so it is read, and refused as empty.
fn counts(variable: &str, value: &str) -> bool {
    !value.trim().is_empty() || variable.ends_with("_FILE")
}

/// Takes blank variables out of this process's environment (see
/// [`counts`]), so that clap, which reads the environment itself, sees them
/// as unset. Called before any thread starts.
fn unset_blank_variables(command: &clap::Command) {
    for arg in command.get_arguments() {
        let Some(name) = arg.get_env().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(value) = std::env::var_os(name) {
            if !counts(name, &value.to_string_lossy()) {
                std::env::remove_var(name);
            }
        }
    }
    for sub in command.get_subcommands() {
        unset_blank_variables(sub);
    }
}

/// Parses section `A` from `var`, looked up by each of its variables' names,
/// as if each variable found had been in the environment (and nothing else
/// were), blank values included (see [`counts`]).
pub fn from_vars<A: Args + FromArgMatches>(
    var: impl Fn(&str) -> Option<String>,
) -> Result<A, ConfigError> {
    let mut command = A::augment_args(clap::Command::new("pets").no_binary_name(true));
    let mut flags = Vec::new();
    let ids: Vec<String> = command
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    for id in ids {
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == id.as_str())
            .expect("the argument just listed");
        let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        let env = env.to_string_lossy().into_owned();
        if let Some(value) = var(&env).filter(|v| counts(&env, v)) {
            flags.push(format!("--{long}={value}"));
        }
        // Only the lookup counts, never the process environment.
        command = command.mut_arg(id, |a| a.env(None::<&str>));
    }
    let matches = command
        .try_get_matches_from(&flags)
        .map_err(|e| ConfigError::from_clap(&e, &A::augment_args(clap::Command::new("pets"))))?;
    A::from_arg_matches(&matches)
        .map_err(|e| ConfigError::from_clap(&e, &A::augment_args(clap::Command::new("pets"))))
}

impl ConfigError {
    /// A value clap refused, as the variable it came from and the problem;
    /// anything else (an unknown flag, `--help`) as clap says it.
    pub fn from_clap(error: &clap::Error, command: &clap::Command) -> Self {
        use clap::error::{ContextKind, ContextValue, ErrorKind};
        let invalid_arg = match error.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(arg)) => Some(arg.clone()),
            _ => None,
        };
        let variable = invalid_arg.as_deref().and_then(|shown| {
            let long = shown.strip_prefix("--")?.split([' ', '=']).next()?;
            variable_of(command, long)
        });
        match (error.kind(), variable) {
            (ErrorKind::ValueValidation, Some(variable)) => {
                let problem = std::error::Error::source(error)
                    .map(ToString::to_string)
                    .unwrap_or_else(|| error.to_string());
                ConfigError { variable, problem }
            }
            _ => ConfigError {
                variable: "the command line".into(),
                problem: error.to_string().trim().to_owned(),
            },
        }
    }
}

/// The environment variable behind `--long`, anywhere in `command`.
fn variable_of(command: &clap::Command, long: &str) -> Option<String> {
    command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .or_else(|| {
            command
                .get_subcommands()
                .find_map(|sub| variable_of(sub, long))
        })
}

/// What the process should do, from its real arguments and environment:
/// a command to run, or an exit (help, version, a bad command line, a
/// setting that cannot work) with its message already printed.
pub fn parse_or_exit() -> Command {
    use clap::CommandFactory;
    unset_blank_variables(&Cli::command());
    match Cli::try_parse() {
        Ok(cli) => cli.into_command(),
        Err(error) => {
            let command = Cli::command();
            match error.kind() {
                clap::error::ErrorKind::ValueValidation => {
                    let problem = ConfigError::from_clap(&error, &command);
                    eprintln!("pets: cannot start: {problem}");
                    std::process::exit(2);
                }
                _ => error.exit(),
            }
        }
    }
}

/// Parsed matches of the whole command line, for tests of the parser.
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    Cli::try_parse_from(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn pets_alone_serves_and_commands_are_found() {
        let cli = try_parse_from(["pets"]).unwrap();
        assert!(matches!(cli.into_command(), Command::Serve(_)));
        let cli = try_parse_from(["pets", "--web-port", "5001"]).unwrap();
        let Command::Serve(serve) = cli.into_command() else {
            panic!("serve")
        };
        assert_eq!(serve.listen.web_port, 5001);
        let cli = try_parse_from(["pets", "load", "--target", "127.0.0.1:5000"]).unwrap();
        assert!(matches!(cli.into_command(), Command::Load(_)));
        for help in [
            vec!["pets", "--help"],
            vec!["pets", "serve", "--help"],
            vec!["pets", "load", "--help"],
            vec!["pets", "paas", "--help"],
            vec!["pets", "healthcheck", "--help"],
        ] {
            let e = try_parse_from(&help).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp, "{help:?}");
        }
    }

    #[test]
    fn every_setting_is_a_flag_and_a_variable() {
        fn check(command: &clap::Command) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") || arg.is_positional() {
                    continue;
                }
                if command.get_name() == "load" && arg.get_env().is_none() {
                    // pets load's own flags predate the variables; the store
                    // it publishes to is read like pets' own.
                    continue;
                }
                let env = arg
                    .get_env()
                    .unwrap_or_else(|| panic!("--{id} has a variable"));
                let shown = arg.get_value_names().map(|v| v[0].to_string());
                if arg.get_num_args().is_some_and(|n| n.takes_values()) {
                    assert_eq!(shown.as_deref(), env.to_str(), "--{id} shows its variable");
                }
            }
            for sub in command.get_subcommands() {
                check(sub);
            }
        }
        check(&Cli::command());
    }
}
