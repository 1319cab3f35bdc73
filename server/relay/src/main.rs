//! `tacho-relay`: runs the sync relay. Starts with no setup: by default it listens on
//! 127.0.0.1:8787 and keeps its data in a SQLite file under the user's data directory.

use clap::Parser;
use tacho_relay::{AppState, Config, Registration};
use tracing_subscriber::EnvFilter;

/// Command line, each flag with an environment fallback for containers.
#[derive(Debug, Parser)]
#[command(version, about = "Tacho sync relay")]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "TACHO_LISTEN", default_value = "127.0.0.1:8787")]
    listen: String,
    /// `sqlite://…?mode=rwc` or `postgres://…`; defaults to a SQLite file in the data directory.
    #[arg(long, env = "TACHO_DATABASE_URL")]
    database_url: Option<String>,
    /// Who may sign up.
    #[arg(long, env = "TACHO_REGISTRATION", value_enum, default_value_t = Registration::Open)]
    registration: Registration,
    /// Addresses allowed to sign up with `--registration allowlist` (repeat or comma-separate).
    #[arg(
        long = "allow-email",
        env = "TACHO_ALLOW_EMAILS",
        value_delimiter = ','
    )]
    allow_emails: Vec<String>,
    /// Delete the raw GPS points of trips that ended more than this many days ago (checked
    /// hourly); trips keep their distance and ends. Default: keep points forever.
    #[arg(long, env = "TACHO_GPS_RETENTION_DAYS")]
    gps_retention_days: Option<u32>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("TACHO_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mut config = Config::new(
        args.database_url
            .unwrap_or_else(Config::default_database_url),
    );
    config.registration = args.registration;
    config.allow_emails = args
        .allow_emails
        .iter()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    config.gps_retention_days = args.gps_retention_days;
    let state = AppState::new(config).await?;
    if let Some(days) = state.config.gps_retention_days {
        tracing::info!(days, "raw GPS retention enabled");
        tacho_relay::privacy::spawn_retention(
            state.clone(),
            days,
            std::time::Duration::from_secs(3600),
        );
    }
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, backend = ?state.db.backend, "tacho-relay listening");
    tacho_relay::serve(listener, state, tacho_relay::shutdown_signal()).await?;
    Ok(())
}
