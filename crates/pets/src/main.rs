//! `pets`: serve the voter site and the admin console; `pets healthcheck`:
//! ask the running one whether it is healthy; `pets load`: drive synthetic
//! visitors at it (see `pets-load`), publishing what it measures through
//! the store named by `DB`, if any, for the console's availability meter;
//! `pets paas`: Pets as a Service, a throwaway pets per visitor (see
//! `pets-paas`).

use std::process::ExitCode;

use pets::configuration::{driver_store_from_env, StoreSettings};
use pets::startup::shutdown_signal;
use pets::{telemetry, Application, Settings};

/// The allocator's options are set before `main`, and before anything is
/// allocated: mimalloc reserves its first arena with the first allocation,
/// and the options for it must be in place by then.
#[used]
#[unsafe(link_section = ".init_array")]
static CONFIGURE_ALLOCATOR: extern "C" fn() = {
    extern "C" fn configure() {
        pets::memory::configure_allocator();
    }
    configure
};

#[tokio::main]
async fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("healthcheck") => return pets::healthcheck::run(),
        Some("load") => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            return load(&args).await;
        }
        Some("paas") => return paas().await,
        Some("--version") => {
            println!("pets {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!(
                "pets: unknown argument `{other}`; usage: pets [healthcheck | load ... | paas | --version]"
            );
            return ExitCode::from(2);
        }
        None => {}
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("pets: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let _logs = telemetry::init(settings.web.debug, settings.log_format);
    tokio::spawn(pets::memory::return_freed_memory());
    let stop = shutdown_signal();
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped(stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `pets load ...`: exit status 2 for a bad command line or environment.
async fn load(args: &[String]) -> ExitCode {
    let options = match pets_load::LoadOptions::parse(args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let publisher = match driver_store_from_env() {
        Ok(StoreSettings::Memory) => None,
        Ok(StoreSettings::Consul(settings)) => match pets_store::MeterPublisher::new(&settings) {
            Ok(publisher) => Some(publisher),
            Err(e) => {
                eprintln!("pets load: cannot set up the Consul client: {e}");
                return ExitCode::from(2);
            }
        },
        Err(e) => {
            eprintln!("pets load: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(publisher) = &publisher {
        eprintln!(
            "pets load: publishing to the store as {} for the console's meter",
            publisher.driver()
        );
    }
    let json = options.json;
    let report = pets_load::run(options, publisher).await;
    pets_load::report::finish(json, &report);
    ExitCode::SUCCESS
}

/// `pets paas`: exit status 2 for a bad environment, 1 if it cannot start.
async fn paas() -> ExitCode {
    let settings = match pets_paas::PaasSettings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("pets paas: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let format = std::env::var("LOG_FORMAT").ok();
    let Some(format) = format.as_deref().map_or(
        Some(telemetry::LogFormat::Text),
        telemetry::LogFormat::parse,
    ) else {
        eprintln!("pets paas: cannot start: LOG_FORMAT is text or json");
        return ExitCode::from(2);
    };
    let _logs = telemetry::init(false, format);
    let app = match pets::paas::PaasApp::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("pets paas cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    app.run_until_stopped(shutdown_signal()).await;
    ExitCode::SUCCESS
}
