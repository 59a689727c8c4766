//! Logging: one line per event on standard output, level from `RUST_LOG`,
//! or `info` (`debug` under `DEBUG`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(debug: bool) {
    let default = if debug {
        "debug,hyper=info,reqwest=info"
    } else {
        "info"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        .try_init();
}
