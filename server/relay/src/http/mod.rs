//! The HTTP edge: the router and its middleware, the extractors, thin handlers per area (extract
//! → call a service → answer), the error answers ([`error::ApiError`], the only place a service
//! error becomes a status) and the OpenAPI document derived from the handlers' annotations.

pub mod accept;
mod accounts;
mod connections;
mod connectors;
pub mod error;
pub mod extract;
mod hooks;
pub mod middleware;
mod oidc;
pub mod openapi;
mod sync;

use std::future::Future;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, patch, post, put};
use tacho_model::api::ErrorBody;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi as _;

use crate::state::AppState;
use error::{ApiError, ApiResult};

/// Largest accepted request body (the contract's 4 MiB).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// All routes of the API with their state, body limit, the path rule (no control characters, see
/// [`middleware::path_text`]), time limit, rate limits, CORS, security headers and request tracing. Rate limits key anonymous requests by the peer address, so serve
/// it with `into_make_service_with_connect_info::<SocketAddr>()` (as [`serve`] does).
pub fn router(state: AppState) -> Router {
    let cors = middleware::cors(&state.config().cors_origins);
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
        .route("/v1/devices/session", post(accounts::device_session))
        .route("/v1/devices", get(accounts::list_devices))
        .route(
            "/v1/devices/{device_id}",
            patch(accounts::rename_device).delete(accounts::revoke_device),
        )
        .route("/v1/push", post(sync::push))
        .route("/v1/pull", get(sync::pull))
        .route("/v1/snapshot", get(sync::snapshot))
        .route("/v1/sync", post(sync::sync))
        .route("/v1/connections/zammad", post(connections::zammad_create))
        .route(
            "/v1/connections/zammad/{id}",
            get(connections::zammad_show).delete(connections::zammad_delete),
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
        .route(
            "/v1/connections/{id}/mappings",
            get(connectors::list_mappings),
        )
        .route(
            "/v1/connections/{id}/mappings/{project_id}",
            put(connectors::put_mapping).delete(connectors::delete_mapping),
        )
        .route("/v1/connections/{id}/pause", post(connectors::pause))
        .route("/v1/connections/{id}/resume", post(connectors::resume))
        .route("/v1/connections/{id}/run", post(connectors::run))
        .route("/v1/connections/{id}/status", get(connectors::status))
        .route("/v1/connections/{id}/log", get(connectors::log))
        .route(
            "/v1/connections/{id}/lookups/{what}",
            get(connectors::lookup),
        )
        .route("/v1/conflicts", get(connectors::conflicts))
        .route("/v1/conflicts/{id}/resolve", post(connectors::resolve))
        .route("/v1/hooks/{provider}/{connection}", post(connections::hook))
        .route(
            "/v1/hooks/tokens",
            post(hooks::create_token).get(hooks::list_tokens),
        )
        .route("/v1/hooks/tokens/{id}", delete(hooks::revoke_token))
        .route("/v1/hooks/trip/start", post(hooks::trip_start))
        .route("/v1/hooks/trip/ping", post(hooks::trip_ping))
        .route("/v1/hooks/trip/end", post(hooks::trip_end))
        .route("/v1/account", delete(accounts::delete_account))
        .route("/v1/account/export", get(accounts::export))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Layers wrap what is above them: the body limit and time limit sit closest to the
        // handlers, the rate limit before them, and headers/CORS outermost so every answer
        // (429 and 408 included) carries them.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(middleware::path_text))
        .layer(from_fn_with_state(state.clone(), middleware::time_limit))
        .layer(from_fn_with_state(state.clone(), middleware::rate_limit))
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
        .layer(from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
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
    let hub = state.sync().hub().clone();
    let limits = accept::ConnLimits {
        header_read_timeout: state.config().header_read_timeout,
        max_connections_per_ip: state.config().max_connections_per_ip,
    };
    accept::serve(listener, router(state), limits, shutdown, move || {
        hub.close()
    })
    .await
}

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200)))]
pub async fn healthz() -> StatusCode {
    StatusCode::OK
}

/// `GET /readyz`: storage answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<StatusCode> {
    if state.db().ping().await {
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
        registration: state.config().registration.into(),
        max_push_ops: crate::sync::MAX_PUSH_OPS,
        max_pull_ops: crate::sync::MAX_PULL_OPS,
        long_poll_max_s: crate::sync::LONG_POLL_MAX_S,
        oidc_providers: state.oidc().providers().list(),
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
