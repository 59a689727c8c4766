//! The voter site's own settings (the ballot's names, the version, the
//! pictures) and who this replica is in the fleet.

use std::path::PathBuf;

use clap::Args;

use super::parse;

/// What the pages show.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "The site")]
pub struct SiteArgs {
    /// The first name on the ballot.
    #[arg(long, env = "OPTION_A", value_name = "OPTION_A", default_value = "Cats",
          value_parser = parse::text)]
    pub option_a: String,
    /// The second name on the ballot.
    #[arg(long, env = "OPTION_B", value_name = "OPTION_B", default_value = "Dogs",
          value_parser = parse::text)]
    pub option_b: String,
    /// The third name on the ballot.
    #[arg(long, env = "OPTION_C", value_name = "OPTION_C", default_value = "Whales",
          value_parser = parse::text)]
    pub option_c: String,
    /// Shown on every page; `2.0` switches to the night colours; `broken`
    /// fails its health check 20 s after start.
    #[arg(long, env = "PETS_VERSION", value_name = "PETS_VERSION", default_value = "1.0",
          value_parser = parse::text)]
    pub pets_version: String,
    /// `option_a/`, `option_b/`, `option_c/` folders here replace the
    /// built-in pictures.
    #[arg(long, env = "PICTURES_DIR", value_name = "PICTURES_DIR",
          default_value = "/pictures", value_parser = parse::path)]
    pub pictures_dir: PathBuf,
    /// `on`: templates and static files are read from PETS_WEB_ROOT on
    /// every request, and logs are at debug level.
    #[arg(long, env = "DEBUG", value_name = "DEBUG", default_value = "off",
          num_args = 0..=1, default_missing_value = "on", action = clap::ArgAction::Set, value_parser = parse::switch)]
    pub debug: bool,
    /// Where DEBUG reads templates and static files from.
    #[arg(long, env = "PETS_WEB_ROOT", value_name = "PETS_WEB_ROOT", default_value = "web",
          value_parser = parse::path)]
    pub web_root: PathBuf,
    /// The voter site's address as the room reaches it, such as
    /// https://pets.example.com/ behind a router: the console's join panel
    /// shows it as a QR code. Unset: the address the console was opened at,
    /// with WEB_PORT.
    #[arg(long, env = "PETS_PUBLIC_URL", value_name = "PETS_PUBLIC_URL",
          value_parser = pets_web::PublicUrl::parse)]
    pub public_url: Option<pets_web::PublicUrl>,
    /// When this pets will be removed (Unix seconds), for a throwaway
    /// instance of Pets as a Service; every page counts down.
    #[arg(long, env = "PETS_EXPIRES_AT", value_name = "PETS_EXPIRES_AT",
          value_parser = parse::whole)]
    pub expires_at: Option<u64>,
    /// A file holding a later end (Unix seconds), read at each page.
    #[arg(long, env = "PETS_EXPIRES_AT_FILE", value_name = "PETS_EXPIRES_AT_FILE",
          value_parser = parse::path)]
    pub expires_at_file: Option<PathBuf>,
}

/// Who this replica is; the stacks fill these from Swarm's templates.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Who this replica is")]
pub struct IdentityArgs {
    /// The name shown as "processed by container" (default: the system's
    /// host name).
    #[arg(long, env = "HOSTNAME", value_name = "HOSTNAME", value_parser = parse::text)]
    pub hostname: Option<String>,
    /// The Swarm node (`{{.Node.Hostname}}`).
    #[arg(long, env = "PETS_NODE", value_name = "PETS_NODE", value_parser = parse::text)]
    pub node: Option<String>,
    /// The service (`{{.Service.Name}}`).
    #[arg(long, env = "PETS_SERVICE", value_name = "PETS_SERVICE", value_parser = parse::text)]
    pub service: Option<String>,
    /// The task's slot (`{{.Task.Slot}}`).
    #[arg(long, env = "PETS_TASK_SLOT", value_name = "PETS_TASK_SLOT",
          value_parser = parse::text)]
    pub task_slot: Option<String>,
    /// The task's name (`{{.Task.Name}}`).
    #[arg(long, env = "PETS_TASK_NAME", value_name = "PETS_TASK_NAME",
          value_parser = parse::text)]
    pub task_name: Option<String>,
}

impl IdentityArgs {
    /// HOSTNAME, or the system's host name.
    pub fn hostname(&self) -> String {
        self.hostname.clone().unwrap_or_else(system_hostname)
    }
}

fn system_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length, and gethostname writes at
    // most that many bytes.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
        .filter(|h| ok && !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
