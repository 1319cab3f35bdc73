//! The OpenAPI document of the whole v1 API, served at `GET /v1/openapi.json` so client authors
//! and tools can check themselves against the running relay.

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Shape of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code.
    pub code: String,
    /// Explanation for people.
    pub message: String,
}

/// Answer of `GET /v1/capabilities`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Capabilities {
    /// Wire API version.
    pub api: u32,
    /// Op schema version this relay was built with.
    pub schema: u32,
    /// Sign-up policy.
    pub registration: crate::config::Registration,
    /// Most ops per push.
    pub max_push_ops: usize,
    /// Most ops per pull.
    pub max_pull_ops: i64,
    /// Longest long-poll in seconds.
    pub long_poll_max_s: u64,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API description, assembled from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Tacho relay", description = "Sync relay wire API v1 (docs/sync-protocol.md)."),
    paths(
        crate::healthz,
        crate::readyz,
        crate::capabilities,
        crate::openapi_json,
        crate::accounts::signup,
        crate::accounts::login,
        crate::accounts::refresh,
        crate::accounts::logout,
        crate::devices::device_session,
        crate::log::push,
        crate::log::pull,
        crate::log::snapshot,
        crate::log::sync,
    ),
    components(schemas(ErrorBody, Capabilities)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;
