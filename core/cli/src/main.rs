//! `tacho`: drives the Tacho core on a local database, for people at a
//! terminal and for scripts (`--json` on every command).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tacho_core::{Core, CoreConfig, CoreError};

mod args;
mod commands;
mod hooks;
mod output;
mod time;

use args::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: can't start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output::print_error(&err, json);
            ExitCode::from(exit_code(&err))
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let db = cli.db.clone().unwrap_or_else(default_db_path);
    let mut config = CoreConfig::new(db);
    config.time_zone = cli.tz.clone();
    if let Some(name) = cli.device_name.clone() {
        config.device_name = name;
    }
    if let Some(grace) = cli.grace_minutes {
        config.detector.grace = chrono::Duration::minutes(grace);
    }
    let core = Core::open(config).await?;
    commands::dispatch(&core, cli).await
}

/// `$XDG_DATA_HOME/tacho/tacho.db` (or the platform's data dir).
fn default_db_path() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("tacho")
        .join("tacho.db")
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TACHO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Exit codes scripts can branch on: 1 other, 3 bad input, 4 not found,
/// 5 conflict or locked period, 6 storage, 7 sign-in, 8 network.
fn exit_code(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<CoreError>() {
        Some(CoreError::BadInput { .. } | CoreError::Import(_)) => 3,
        Some(CoreError::NotFound { .. }) => 4,
        Some(CoreError::Conflict { .. } | CoreError::LockedPeriod { .. }) => 5,
        Some(CoreError::Storage { .. }) => 6,
        Some(CoreError::Auth { .. }) => 7,
        Some(CoreError::Network { .. }) => 8,
        _ => match err.downcast_ref::<args::InputError>() {
            Some(_) => 3,
            None => 1,
        },
    }
}
