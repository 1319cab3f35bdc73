//! `tacho-relay`: runs the sync relay. Starts with no setup: by default it listens on
//! 127.0.0.1:8787 and keeps its data in a SQLite file under the user's data directory.
//! `tacho-relay secrets rotate` re-seals stored third-party secrets under the newest master key.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tacho_relay::jobs::RunnerConfig;
use tacho_relay::limits::{ClassLimit, RateLimits};
use tacho_relay::secrets::MasterKeys;
use tacho_relay::{AppState, Config, Db, Registration};
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc: the relay allocates and frees many small JSON values per
/// op across threads, and glibc's arenas spent about a quarter of the push path there (perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command line, each flag with an environment fallback for containers.
#[derive(Debug, Parser)]
#[command(version, about = "Tacho sync relay")]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on.
    #[arg(long, env = "TACHO_LISTEN", default_value = "127.0.0.1:8787")]
    listen: String,
    /// `sqlite://PATH` or `postgres://…`; defaults to `relay.db` in the data directory.
    #[arg(long, env = "TACHO_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Directory of the default SQLite database (`relay.db`), created 0700 if missing
    /// [default: $XDG_DATA_HOME/tacho, else ~/.local/share/tacho]. Ignored with --database-url.
    #[arg(long, env = "TACHO_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
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
    /// Master keys sealing third-party secrets, newest first: `v2:<base64 32 bytes>,v1:<…>`.
    /// Without a key (here or in --master-key-file) the relay refuses to store such secrets.
    #[arg(long, env = "TACHO_MASTER_KEYS", hide_env_values = true, global = true)]
    master_keys: Option<String>,
    /// File holding the master keys in the same format (mode 0600); used if TACHO_MASTER_KEYS is unset.
    #[arg(long, env = "TACHO_MASTER_KEY_FILE", global = true)]
    master_key_file: Option<PathBuf>,
    /// Origins allowed by CORS (repeat or comma-separate), e.g. `https://app.example.org`.
    /// Default: none, no CORS headers.
    #[arg(
        long = "cors-origin",
        env = "TACHO_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// Send Strict-Transport-Security (set when clients reach the relay through TLS).
    #[arg(long, env = "TACHO_HSTS")]
    hsts: bool,
    /// Longest a request may take, in seconds (must exceed the 30 s long-poll).
    #[arg(long, env = "TACHO_REQUEST_TIMEOUT_S", default_value_t = 60)]
    request_timeout_s: u64,
    /// Longest time a connection may take to send a request's headers, in seconds (also the
    /// idle time of a kept-alive connection); then it is closed.
    #[arg(long, env = "TACHO_HEADER_READ_TIMEOUT_S", default_value_t = tacho_relay::config::DEFAULT_HEADER_READ_TIMEOUT_S)]
    header_read_timeout_s: u64,
    /// Most connections one peer IP address may hold open at once (0 = no limit). Behind a
    /// reverse proxy every connection comes from the proxy: raise it or set 0 there.
    #[arg(long, env = "TACHO_MAX_CONNECTIONS_PER_IP", default_value_t = tacho_relay::config::DEFAULT_MAX_CONNECTIONS_PER_IP)]
    max_connections_per_ip: u32,
    /// Requests per hour without a valid token, per peer IP address (0 = no limit).
    #[arg(long, env = "TACHO_LIMIT_ANONYMOUS", default_value_t = 100)]
    limit_anonymous: u32,
    /// Authenticated requests per hour per account (0 = no limit).
    #[arg(long, env = "TACHO_LIMIT_AUTHENTICATED", default_value_t = 1000)]
    limit_authenticated: u32,
    /// Approval actions per hour per account (0 = no limit).
    #[arg(long, env = "TACHO_LIMIT_APPROVALS", default_value_t = 10)]
    limit_approvals: u32,
    /// Exports per hour per account (0 = no limit).
    #[arg(long, env = "TACHO_LIMIT_EXPORTS", default_value_t = 20)]
    limit_exports: u32,
    /// Sync requests (push, pull, sync, snapshot) per hour per device (0 = no limit).
    #[arg(long, env = "TACHO_LIMIT_SYNC", default_value_t = 36_000)]
    limit_sync: u32,
    /// Sync requests a device may send back to back before the hourly rate applies.
    #[arg(long, env = "TACHO_LIMIT_SYNC_BURST", default_value_t = 1_200)]
    limit_sync_burst: u32,
    /// Delete the raw GPS points of trips that ended more than this many days ago (checked
    /// hourly); trips keep their distance and ends. Default: keep points forever.
    #[arg(long, env = "TACHO_GPS_RETENTION_DAYS")]
    gps_retention_days: Option<u32>,
    /// Keep the timesheet connectors' audit log (every call to Toggl, Tempo, Kimai, Zammad)
    /// this many days.
    #[arg(long, env = "TACHO_CONNECTOR_AUDIT_DAYS", default_value_t = 90)]
    connector_audit_days: u32,
    /// JSON file configuring OpenID Connect providers (Google, Apple, any issuer); see
    /// docs/oidc.md. Without it, OpenID sign-in is off.
    #[arg(long, env = "TACHO_OIDC_CONFIG")]
    oidc_config: Option<PathBuf>,
    /// New accounts (password or OpenID) need an e-mail address in one of these domains
    /// (comma-separated, exact match); on top of --registration. Default: any domain.
    #[arg(
        long = "allowed-email-domains",
        env = "TACHO_ALLOWED_EMAIL_DOMAINS",
        value_delimiter = ','
    )]
    allowed_email_domains: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage sealed third-party secrets.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Re-seal every stored secret under the newest master key (one transaction); afterwards
    /// older keys can be removed from the configuration.
    Rotate,
    /// Print a fresh random key line `v<VERSION>:<base64>` to prepend to the key list.
    GenerateKey {
        /// Version number of the new key (one above the newest in use).
        #[arg(long)]
        version: u32,
    },
}

/// Colours in log lines only on a terminal, and never with `NO_COLOR` set (no-color.org).
fn colour(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn master_keys(args: &Args) -> anyhow::Result<Option<MasterKeys>> {
    if let Some(text) = args.master_keys.as_deref().filter(|t| !t.trim().is_empty()) {
        return Ok(Some(MasterKeys::parse(text)?));
    }
    if let Some(path) = &args.master_key_file {
        return Ok(Some(MasterKeys::from_file(path)?));
    }
    Ok(None)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("TACHO_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(colour(&std::io::stdout()))
        .init();
    let args = Args::parse();
    let database_url = match (&args.database_url, &args.data_dir) {
        (Some(url), _) => url.clone(),
        (None, Some(dir)) => Config::database_url_in(dir),
        (None, None) => Config::default_database_url(),
    };
    let keys = master_keys(&args)?;
    match &args.command {
        Some(Command::Secrets(SecretsCommand::GenerateKey { version })) => {
            println!("{}", MasterKeys::generate_line(*version));
            return Ok(());
        }
        Some(Command::Secrets(SecretsCommand::Rotate)) => {
            let keys = keys.context(
                "secrets rotate needs the master keys (TACHO_MASTER_KEYS or --master-key-file), \
                 newest first",
            )?;
            let db = Db::connect(&database_url).await?;
            let report = tacho_relay::secrets::rotate(&db, &keys).await?;
            println!(
                "rotated to key v{}: {} secrets, {} re-sealed, {} already current",
                keys.newest_version(),
                report.total,
                report.resealed,
                report.current
            );
            return Ok(());
        }
        None => {}
    }
    let mut config = Config::new(database_url);
    config.registration = args.registration;
    config.allow_emails = args
        .allow_emails
        .iter()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    match &keys {
        Some(k) => {
            tracing::info!(keys = ?k, "master keys loaded; third-party secrets can be stored")
        }
        None => tracing::warn!(
            "no master key (TACHO_MASTER_KEYS / --master-key-file): connections that need stored \
             credentials (Zammad) are refused"
        ),
    }
    config.master_keys = keys;
    config.cors_origins = args
        .cors_origins
        .iter()
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    config.hsts = args.hsts;
    config.request_timeout = Duration::from_secs(args.request_timeout_s.max(1));
    config.header_read_timeout = Duration::from_secs(args.header_read_timeout_s.max(1));
    config.max_connections_per_ip = args.max_connections_per_ip;
    config.rate_limits = RateLimits {
        anonymous: ClassLimit::per_hour(args.limit_anonymous),
        authenticated: ClassLimit::per_hour(args.limit_authenticated),
        approvals: ClassLimit::per_hour(args.limit_approvals),
        exports: ClassLimit::per_hour(args.limit_exports),
        sync: ClassLimit {
            per_hour: args.limit_sync,
            burst: args.limit_sync_burst,
        },
    };
    config.gps_retention_days = args.gps_retention_days;
    config.connectors.audit_days = args.connector_audit_days;
    config.allowed_email_domains = args
        .allowed_email_domains
        .iter()
        .map(|d| d.trim().trim_start_matches('@').to_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    if let Some(path) = &args.oidc_config {
        config.oidc_providers = tacho_relay::oidc::config::load(path)?;
        let ids: Vec<&str> = config
            .oidc_providers
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        tracing::info!(providers = ?ids, "OpenID sign-in configured");
    }
    let state = AppState::new(config).await?;
    if let Some(days) = state.config().gps_retention_days {
        tracing::info!(days, "raw GPS retention enabled (hourly job)");
    }
    let jobs = state.job_runner(RunnerConfig::default()).spawn();
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, backend = ?state.db().backend, "tacho-relay listening");
    // The signal stops the job runner's claiming at once, alongside the HTTP drain; then the job
    // in flight gets its grace period.
    let stop_jobs = jobs.stopper();
    let served = tacho_relay::serve(listener, state, async move {
        tacho_relay::shutdown_signal().await;
        stop_jobs.stop();
    })
    .await;
    jobs.shutdown().await;
    served?;
    Ok(())
}
