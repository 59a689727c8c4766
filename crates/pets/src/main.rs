//! `pets`: the command line ([`pets::configuration::cli`]) dispatched to
//! what each command runs: `pets serve` (the default) the two sites,
//! `pets healthcheck` the container's health check, `pets load` the traffic
//! driver (`pets-load`), `pets paas` Pets as a Service (`pets-paas`),
//! `pets consul-acl` Consul's roles for pets ([`pets::consul_acl`]).

use std::process::ExitCode;

use pets::configuration::load::LoadArgs;
use pets::configuration::paas::PaasArgs;
use pets::configuration::{parse_or_exit, Command, ServeArgs, StoreSettings};
use pets::startup::shutdown_signal;
use pets::{telemetry, Application, Settings};

/// The allocator's options are set before `main`, and before anything is
/// allocated: mimalloc reserves its first arena with the first allocation,
/// and the options for it must be in place by then.
#[used]
#[unsafe(link_section = ".init_array")]
static CONFIGURE_ALLOCATOR: extern "C" fn() = {
    extern "C" fn configure() {
        pets::allocator::configure_allocator();
    }
    configure
};

fn main() -> ExitCode {
    // Parsed before the runtime starts: `--help` and a bad setting exit
    // without a thread started or a port bound.
    let command = parse_or_exit();
    if let Command::Healthcheck(args) = &command {
        return pets::healthcheck::run(args.web_port);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pets: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match command {
            Command::Serve(args) => serve(args).await,
            Command::Load(args) => load(args).await,
            Command::Paas(args) => paas(args).await,
            Command::ConsulAcl(args) => pets::consul_acl::run(args).await,
            Command::Healthcheck(_) => unreachable!("answered above"),
        }
    })
}

/// `pets serve`: exit status 2 for a setting that cannot work, 1 if it
/// cannot start or fails.
async fn serve(args: ServeArgs) -> ExitCode {
    let settings = match Settings::from_args(args) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("pets: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let _logs = telemetry::init(&settings.logs);
    tokio::spawn(pets::allocator::return_freed_memory());
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

/// `pets load`: exit status 2 for a setting that cannot work.
async fn load(args: LoadArgs) -> ExitCode {
    let publisher = match args.store() {
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
    let options = args.options();
    let json = options.json;
    let report = pets_load::run(options, publisher).await;
    pets_load::report::finish(json, &report);
    ExitCode::SUCCESS
}

/// `pets paas`: exit status 1 if it cannot start.
async fn paas(args: PaasArgs) -> ExitCode {
    let _logs = telemetry::init(&args.telemetry.settings(false));
    let app = match pets::paas::PaasApp::build(args.service.settings()).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("pets paas cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    app.run_until_stopped(shutdown_signal()).await;
    ExitCode::SUCCESS
}
