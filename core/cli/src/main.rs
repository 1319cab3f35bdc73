//! `tacho`: drives the Tacho core on a local database, for people at a
//! terminal and for scripts (`--json` on every command).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use tacho_core::{Core, CoreConfig, CoreError};

mod account;
mod args;
mod commands;
mod connectors;
mod edit;
mod hooks;
mod output;
mod time;
mod trips;

use args::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
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
        // The reader went away (`| head`): stop quietly, as other Unix tools do.
        Err(err) if err.downcast_ref::<output::StdoutClosed>().is_some() => ExitCode::SUCCESS,
        Err(err) => {
            output::print_error(&err, json);
            ExitCode::from(exit_code(&err))
        }
    }
}

/// A command line clap refused (or `--help`/`--version`). With `--json` anywhere before `--`,
/// the error is `{"error":{"code":"usage","message","usage"}}` on stderr, like every other
/// error under `--json`; the exit code is clap's (2) either way.
fn usage_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    let informational = matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !json || informational {
        // Help on stdout (exit 0), errors on stderr (exit 2); a closed pipe is not an error here.
        let _ = err.print();
        return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
    }
    let text = err.render().to_string();
    let mut paragraphs = text.split("\n\n").map(str::trim);
    // One line: clap lists missing arguments on lines of their own.
    let message = paragraphs
        .next()
        .unwrap_or_default()
        .trim_start_matches("error:")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let usage = paragraphs.find_map(|p| p.strip_prefix("Usage:").map(str::trim));
    let body = serde_json::json!({
        "error": { "code": "usage", "message": message, "usage": usage }
    });
    eprintln!("{body}");
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}

async fn run(mut cli: Cli) -> anyhow::Result<()> {
    let db = cli
        .db
        .clone()
        .unwrap_or_else(|| default_db_path(cli.data_dir.as_deref()));
    cli.db = Some(db.clone());
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

/// `tacho.db` in `--data-dir`/`TACHO_DATA_DIR`, else `$XDG_DATA_HOME/tacho/tacho.db` (or the
/// platform's data dir).
fn default_db_path(data_dir: Option<&Path>) -> PathBuf {
    match data_dir {
        Some(dir) => dir.join("tacho.db"),
        None => dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("tacho")
            .join("tacho.db"),
    }
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
        .with_ansi(colour(&std::io::stderr()))
        .init();
}

/// Colours in log lines only on a terminal, and never with `NO_COLOR` set (no-color.org).
fn colour(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Exit codes scripts can branch on: 1 other, 3 bad input, 4 not found,
/// 5 conflict or locked period, 6 storage, 7 sign-in, 8 network.
fn exit_code(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<CoreError>() {
        Some(CoreError::BadInput { .. } | CoreError::Import(_)) => 3,
        Some(CoreError::NotFound { .. }) => 4,
        Some(
            CoreError::Conflict { .. } | CoreError::InUse { .. } | CoreError::LockedPeriod { .. },
        ) => 5,
        Some(CoreError::Storage { .. }) => 6,
        Some(CoreError::Auth { .. }) => 7,
        Some(CoreError::Network { .. }) => 8,
        _ => match err.downcast_ref::<args::InputError>() {
            Some(_) => 3,
            None => 1,
        },
    }
}
