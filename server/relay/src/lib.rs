//! Tacho relay: accounts, devices and one ordered, idempotent op log per account ("space"), over
//! an embedded SQLite file or PostgreSQL. The wire contract is `docs/sync-protocol.md`.

pub mod accept;
pub mod accounts;
pub mod config;
pub mod connections;
pub mod devices;
pub mod error;
pub mod feed;
pub mod hooks;
pub mod jobs;
pub mod limits;
pub mod log;
pub mod materialised;
pub mod oidc;
pub mod openapi;
mod period_locks;
pub mod privacy;
pub mod secrets;
pub mod server_device;
pub mod storage;
pub mod tokens;

use std::future::Future;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};

use connections::zammad;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi as _;

pub use config::{Config, Registration};
use error::{ApiError, ApiResult};
pub use storage::{Backend, Db, StorageError};

/// Largest accepted request body (the contract's 4 MiB).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Shared state of one relay instance. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
pub struct Inner {
    /// The configuration it was started with.
    pub config: Config,
    /// Storage.
    pub db: Db,
    /// Key that signs access tokens, shared through the database.
    pub token_key: Vec<u8>,
    /// Long-poll wake-ups.
    pub hub: feed::Hub,
    /// A password hash to verify against for unknown e-mails, so they cost as much as known ones.
    pub dummy_hash: String,
    /// Rate limiters per class (see [`limits`]).
    pub limiters: limits::Limiters,
    /// Devices recently found to exist (see [`tokens::LiveDevices`]).
    pub live_devices: tokens::LiveDevices,
    /// The configured OpenID providers (see [`oidc`]).
    pub oidc: oidc::Providers,
    listener: Option<tokio::task::AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = &self.listener {
            task.abort();
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Why a relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage could not be opened or migrated.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Hashing the dummy password failed.
    #[error("password hashing: {0}")]
    Hash(String),
    /// The HTTP client for OpenID providers could not be built.
    #[error("OpenID HTTP client: {0}")]
    Http(String),
}

impl AppState {
    /// Opens and migrates storage, loads (or makes) the signing key and, on PostgreSQL, starts
    /// listening for pushes made by other instances.
    pub async fn new(config: Config) -> Result<Self, StartError> {
        let db = Db::connect(&config.database_url).await?;
        let token_key = db.token_key().await.map_err(StorageError::from)?;
        let hub = feed::Hub::default();
        let listener = match db.backend {
            Backend::Postgres => Some(
                log::spawn_pg_listener(&db.url, hub.clone())
                    .await
                    .map_err(StorageError::from)?,
            ),
            Backend::Sqlite => None,
        };
        let dummy_hash =
            tokio::task::spawn_blocking(|| accounts::hash_password("not a real password"))
                .await
                .map_err(|e| StartError::Hash(e.to_string()))?
                .map_err(|e| StartError::Hash(e.to_string()))?;
        let limiters = limits::Limiters::new(&config.rate_limits);
        let oidc = oidc::Providers::new(&config.oidc_providers, config.oidc_jwks_refetch_interval)
            .map_err(|e| StartError::Http(e.to_string()))?;
        Ok(Self(Arc::new(Inner {
            limiters,
            live_devices: tokens::LiveDevices::default(),
            oidc,
            config,
            db,
            token_key,
            hub,
            dummy_hash,
            listener,
        })))
    }
}

/// All routes of the API with their state, body limit, the path rule (no control characters, see
/// [`limits::path_text`]), time limit, rate limits, CORS, security headers and request tracing. Rate limits key anonymous requests by the peer address, so serve
/// it with `into_make_service_with_connect_info::<SocketAddr>()` (as [`serve`] does).
pub fn router(state: AppState) -> Router {
    let cors = limits::cors(&state.config.cors_origins);
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/capabilities", get(capabilities))
        .route("/v1/openapi.json", get(openapi_json))
        .route("/v1/auth/signup", post(accounts::signup))
        .route("/v1/auth/login", post(accounts::login))
        .route("/v1/auth/refresh", post(accounts::refresh))
        .route("/v1/auth/logout", post(accounts::logout))
        .route("/v1/auth/oidc/{provider}/start", post(oidc::start))
        .route("/v1/auth/oidc/{provider}/finish", post(oidc::finish))
        .route("/v1/auth/oidc/{provider}/nonce", post(oidc::nonce))
        .route("/v1/auth/oidc/{provider}/id-token", post(oidc::id_token))
        .route("/v1/devices/session", post(devices::device_session))
        .route("/v1/push", post(log::push))
        .route("/v1/pull", get(log::pull))
        .route("/v1/snapshot", get(log::snapshot))
        .route("/v1/sync", post(log::sync))
        .route("/v1/connections/zammad", post(zammad::create))
        .route(
            "/v1/connections/zammad/{id}",
            get(zammad::show).delete(zammad::delete),
        )
        .route(
            "/v1/connections",
            post(connections::create).get(connections::list),
        )
        .route(
            "/v1/connections/{id}",
            get(connections::show)
                .patch(connections::update)
                .delete(connections::delete),
        )
        .route("/v1/hooks/{provider}/{connection}", post(connections::hook))
        .route(
            "/v1/hooks/tokens",
            post(hooks::create_token).get(hooks::list_tokens),
        )
        .route("/v1/hooks/tokens/{id}", delete(hooks::revoke_token))
        .route("/v1/hooks/trip/start", post(hooks::trip_start))
        .route("/v1/hooks/trip/ping", post(hooks::trip_ping))
        .route("/v1/hooks/trip/end", post(hooks::trip_end))
        .route("/v1/account", delete(privacy::delete_account))
        .route("/v1/account/export", get(privacy::export))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Layers wrap what is above them: the body limit and time limit sit closest to the
        // handlers, the rate limit before them, and headers/CORS outermost so every answer
        // (429 and 408 included) carries them.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(limits::path_text))
        .layer(from_fn_with_state(state.clone(), limits::time_limit))
        .layer(from_fn_with_state(state.clone(), limits::rate_limit))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        );
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router
        .layer(from_fn_with_state(state.clone(), limits::security_headers))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then ends long-polls and drains
/// in-flight requests. Connections are bounded as configured (header read time, connections
/// per peer address; see [`accept`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let hub = state.hub.clone();
    let limits = accept::ConnLimits {
        header_read_timeout: state.config.header_read_timeout,
        max_connections_per_ip: state.config.max_connections_per_ip,
    };
    accept::serve(listener, router(state), limits, shutdown, move || {
        hub.close()
    })
    .await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200)))]
pub async fn healthz() -> StatusCode {
    StatusCode::OK
}

/// `GET /readyz`: storage answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200), (status = 503, body = openapi::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<StatusCode> {
    if state.db.ping().await {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "storage does not answer",
        ))
    }
}

/// `GET /v1/capabilities`: limits and policies clients adapt to.
#[utoipa::path(get, path = "/v1/capabilities", tag = "operations",
    responses((status = 200, body = openapi::Capabilities)))]
pub async fn capabilities(State(state): State<AppState>) -> Json<openapi::Capabilities> {
    Json(openapi::Capabilities {
        api: 1,
        schema: tacho_model::op::SCHEMA_VERSION,
        registration: state.config.registration,
        max_push_ops: log::MAX_PUSH_OPS,
        max_pull_ops: log::MAX_PULL_OPS,
        long_poll_max_s: log::LONG_POLL_MAX_S,
        oidc_providers: state.oidc.list(),
    })
}

/// `GET /v1/openapi.json`: this API's OpenAPI document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "operations", responses((status = 200)))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::ApiDoc::openapi())
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}
