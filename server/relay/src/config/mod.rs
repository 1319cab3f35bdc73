//! Runtime configuration of a relay instance, independent of how it was read (flags, env, tests),
//! and the OpenID provider file ([`oidc`]). The bottom of the module graph: it names no service.

pub mod oidc;

use std::time::Duration;

use serde::Serialize;

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anyone may sign up (the default: a personal relay is usually private by network).
    #[default]
    Open,
    /// Nobody may sign up; existing accounts keep working.
    Closed,
    /// Only the configured e-mail addresses may sign up.
    Allowlist,
}

impl From<Registration> for tacho_model::api::Registration {
    /// The policy as `GET /v1/capabilities` shows it (the wire enum has no clap derive).
    fn from(r: Registration) -> Self {
        match r {
            Registration::Open => Self::Open,
            Registration::Closed => Self::Closed,
            Registration::Allowlist => Self::Allowlist,
        }
    }
}

/// Longest long-poll, in seconds (the request time limit leaves room for it).
pub const LONG_POLL_MAX_S: u64 = 30;

/// Default of [`Config::header_read_timeout`], in seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT_S: u64 = 15;
/// Default of [`Config::max_connections_per_ip`].
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: u32 = 64;

/// Everything a relay instance needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://…` (embedded, default) or `postgres://…`.
    pub database_url: String,
    /// Sign-up policy.
    pub registration: Registration,
    /// Lower-cased addresses allowed to sign up under [`Registration::Allowlist`].
    pub allow_emails: Vec<String>,
    /// Lifetime of access tokens (15 minutes per the contract; shorter in tests).
    pub access_ttl: Duration,
    /// Lifetime of an unused refresh token.
    pub refresh_ttl: Duration,
    /// How long after its use a refresh token may be presented again as a
    /// retry (a lost answer on a flaky network) instead of counting as reuse,
    /// which revokes the family. The trade-off: a stolen token replayed
    /// within this window is not caught.
    pub refresh_reuse_grace: Duration,
    /// Master keys sealing third-party secrets; `None` refuses to store them (see `secrets`).
    pub master_keys: Option<crate::secrets::MasterKeys>,
    /// Rate limits per class (see `limits`).
    pub rate_limits: crate::limits::RateLimits,
    /// Origins allowed by CORS, exactly as browsers send them (`https://app.example.org`);
    /// empty (the default) sends no CORS headers at all.
    pub cors_origins: Vec<String>,
    /// Send `Strict-Transport-Security` (only when clients reach the relay over TLS).
    pub hsts: bool,
    /// Longest a request may take, body upload included; longer ones get 408. Must exceed the
    /// long-poll maximum.
    pub request_timeout: Duration,
    /// Days after a trip's end that its raw GPS points stay in the log; `None` keeps them
    /// forever (the default). See `jobs::retention`.
    pub gps_retention_days: Option<u32>,
    /// OpenID providers people may sign in with (`--oidc-config`, see docs/oidc.md); empty
    /// switches OpenID sign-in off.
    pub oidc_providers: Vec<oidc::ProviderConfig>,
    /// When not empty, new accounts (password or OpenID) need an e-mail address in one of these
    /// lower-cased domains (exact match, no subdomains), on top of [`Registration`].
    pub allowed_email_domains: Vec<String>,
    /// Shortest time between two fetches of a provider's key set caused by ID tokens naming an
    /// unknown key (rotation); bounds what forged tokens can make the relay fetch. 60 s.
    pub oidc_jwks_refetch_interval: Duration,
    /// Longest time a connection may take to send a request's headers (from its start, or from
    /// the previous answer on a kept-alive connection); then it is closed. 15 s.
    pub header_read_timeout: Duration,
    /// Most connections one peer IP address may hold open at once; further ones are closed as
    /// soon as they are accepted. 0 = no limit. 64.
    pub max_connections_per_ip: u32,
    /// The timesheet connectors' tunables.
    pub connectors: ConnectorConfig,
}

/// How the timesheet connectors talk and retry (issue 13). Tests shorten the waits.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// Whole-request timeout of every call to a service. 30 s, as the contracts ask.
    pub http_timeout: Duration,
    /// First wait after an uncertain or failed call; the next ones are 2× and 3× it. 5 s.
    pub retry_base: Duration,
    /// How often the scheduler looks for due work and due pulls. 10 s.
    pub tick: Duration,
    /// How often each connection is pulled. 5 min.
    pub pull_every: Duration,
    /// Audit rows are kept this many days (`--connector-audit-days`). 90.
    pub audit_days: u32,
}

impl Default for ConnectorConfig {
    fn default() -> Self {
        Self {
            http_timeout: Duration::from_secs(30),
            retry_base: Duration::from_secs(5),
            tick: Duration::from_secs(10),
            pull_every: Duration::from_secs(5 * 60),
            audit_days: 90,
        }
    }
}

impl Config {
    /// A configuration with the contract's defaults for the given database.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            registration: Registration::Open,
            allow_emails: Vec::new(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(90 * 24 * 3600),
            refresh_reuse_grace: Duration::from_secs(30),
            master_keys: None,
            rate_limits: crate::limits::RateLimits::default(),
            cors_origins: Vec::new(),
            hsts: false,
            request_timeout: Duration::from_secs(LONG_POLL_MAX_S + 30),
            gps_retention_days: None,
            oidc_providers: Vec::new(),
            allowed_email_domains: Vec::new(),
            oidc_jwks_refetch_interval: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_S),
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            connectors: ConnectorConfig::default(),
        }
    }

    /// The default data directory: `tacho` under the user's data directory
    /// (`$XDG_DATA_HOME/tacho`, else `~/.local/share/tacho` on Linux).
    pub fn default_data_dir() -> std::path::PathBuf {
        dirs::data_dir()
            .unwrap_or_else(|| std::path::PathBuf::from("."))
            .join("tacho")
    }

    /// The SQLite database in `data_dir` (`relay.db`), created on demand. `%`, `?` and `#`
    /// in the path are percent-encoded (sqlx decodes them).
    pub fn database_url_in(data_dir: &std::path::Path) -> String {
        let path = data_dir.join("relay.db").display().to_string();
        let path = path
            .replace('%', "%25")
            .replace('?', "%3F")
            .replace('#', "%23");
        format!("sqlite://{path}?mode=rwc")
    }

    /// The default database: a SQLite file in [`Config::default_data_dir`], created on demand.
    pub fn default_database_url() -> String {
        Self::database_url_in(&Self::default_data_dir())
    }
}
