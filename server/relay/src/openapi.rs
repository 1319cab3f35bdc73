//! The OpenAPI document of the whole v1 API, served at `GET /v1/openapi.json` so client authors
//! and tools can check themselves against the running relay.

use serde::Serialize;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// Shape of every error answer (shared with clients).
pub use tacho_model::api::ErrorBody;

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
    /// OpenID providers to offer as sign-in buttons (docs/oidc.md); empty when none is configured.
    pub oidc_providers: Vec<crate::oidc::ProviderInfo>,
}

/// Entity kinds as sent on the wire (`tacho_model::op::EntityKind`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityDoc {
    /// A car.
    Car,
    /// A saved place.
    Place,
    /// A trip header.
    Trip,
    /// Chunks of a trip's GPS points.
    TripPoints,
    /// A trip's edit history.
    TripEdit,
    /// An odometer reading.
    OdometerReading,
    /// A work project.
    Project,
    /// A time entry.
    TimeEntry,
    /// A locked period.
    PeriodLock,
}

/// What an op does (`tacho_model::op::OpKind`'s tag).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpKindDoc {
    /// Sets `fields`.
    Upsert,
    /// Tombstones the entity.
    Delete,
    /// Clears a tombstone.
    Restore,
    /// Adds `items`.
    Append,
}

/// An op as a device pushes it (`tacho_model::op::Op`); documentation only, the relay decodes
/// the model type itself and keeps unknown fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OpDoc {
    /// UUIDv7, the dedupe key.
    pub op_id: uuid::Uuid,
    /// The writing device; must be the token's device.
    pub device: uuid::Uuid,
    /// Gap-free per device, from 1.
    #[schema(minimum = 1)]
    pub device_seq: u64,
    /// `(unix ms << 16) | counter`; at most 10 minutes ahead of the relay's clock.
    pub hlc: u64,
    /// Entity kind.
    pub entity: EntityDoc,
    /// Entity id.
    pub entity_id: uuid::Uuid,
    /// What happened.
    pub kind: OpKindDoc,
    /// `upsert`: the changed fields (at least one).
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Value>,
    /// `append`: the appended items.
    #[schema(value_type = Option<Vec<Object>>)]
    pub items: Option<Vec<serde_json::Value>>,
    /// Payload schema version.
    pub schema: u32,
}

/// An op as pulled: the op as pushed plus its position in the space's log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RelayOpDoc {
    /// The op.
    #[serde(flatten)]
    pub op: OpDoc,
    /// Gap-free position in the space's log (1, 2, 3, …).
    pub cursor: i64,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "hook",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("tho_ hook token")
                    .build(),
            ),
        );
    }
}

/// Documents the errors every handler can answer before its own code runs, found missing by
/// schemathesis (docs/security-testing.md): the JSON body extractor's 400 `malformed_json`,
/// 413 `body_too_large`, 415 `unsupported_media_type` and 422 `invalid_body`, the query
/// extractor's 400 `bad_query`, the path rule's 400 `invalid_text` / `text_too_long`
/// (`limits::path_text`), the bearer check's 401, and the rate limit's 429
/// `rate_limited` (every route but the health checks, see `limits`). Added only where a
/// handler's own annotation does not already list the status.
struct ExtractorErrors;

impl ExtractorErrors {
    fn add(op: &mut Operation, status: &str, description: &str) {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build(),
                )
            });
    }
}

impl Modify for ExtractorErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let rate_limited = !matches!(path.as_str(), "/healthz" | "/readyz");
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                if op.request_body.is_some() {
                    Self::add(op, "400", "malformed_json");
                    Self::add(op, "413", "body_too_large");
                    Self::add(op, "415", "unsupported_media_type");
                    Self::add(op, "422", "invalid_body");
                }
                let has_query = op.parameters.as_ref().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| matches!(p.parameter_in, ParameterIn::Query))
                });
                if has_query {
                    Self::add(op, "400", "bad_query");
                }
                let has_path = op.parameters.as_ref().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| matches!(p.parameter_in, ParameterIn::Path))
                });
                if has_path {
                    Self::add(
                        op,
                        "400",
                        "invalid_text / text_too_long (with `field` `path`): a path segment with \
                         a control character, not UTF-8 once percent-decoded, or over 200 \
                         characters (limits::path_text)",
                    );
                }
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    Self::add(op, "401", "missing_token / bad_token / token_expired");
                }
                if rate_limited {
                    Self::add(op, "429", "rate_limited (Retry-After says when to retry)");
                }
            }
        }
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
        crate::oidc::start,
        crate::oidc::finish,
        crate::oidc::nonce,
        crate::oidc::id_token,
        crate::devices::device_session,
        crate::log::push,
        crate::log::pull,
        crate::log::snapshot,
        crate::log::sync,
        crate::connections::create,
        crate::connections::list,
        crate::connections::show,
        crate::connections::update,
        crate::connections::delete,
        crate::connections::hook,
        crate::connections::zammad::create,
        crate::connections::zammad::show,
        crate::connections::zammad::delete,
        crate::connections::zammad::hook,
        crate::hooks::create_token,
        crate::hooks::list_tokens,
        crate::hooks::revoke_token,
        crate::hooks::trip_start,
        crate::hooks::trip_ping,
        crate::hooks::trip_end,
        crate::privacy::export,
        crate::privacy::delete_account,
    ),
    components(schemas(
        ErrorBody,
        Capabilities,
        OpDoc,
        RelayOpDoc,
        crate::oidc::ProviderInfo,
        crate::oidc::StartRequest,
        crate::oidc::StartAnswer,
        crate::oidc::FinishRequest,
        crate::oidc::NonceAnswer,
        crate::oidc::IdTokenRequest,
        crate::connections::Provider,
        crate::connections::NewConnection,
        crate::connections::ConnectionPatch,
        crate::connections::ConnectionView,
        crate::connections::ConnectionList,
        crate::connections::HookAccepted,
        crate::connections::zammad::NewZammadConnection,
        crate::connections::zammad::ZammadConnection,
        crate::hooks::CreateHookToken,
        crate::hooks::CreatedHookToken,
        crate::hooks::HookTokenInfo,
        crate::hooks::HookTokenList,
        crate::hooks::HookEvent,
        crate::hooks::HookAnswer,
        crate::privacy::DeleteAccount,
    )),
    modifiers(&BearerAuth, &ExtractorErrors)
)]
pub struct ApiDoc;
