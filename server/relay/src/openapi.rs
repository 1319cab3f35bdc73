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
        crate::zammad::create,
        crate::zammad::show,
        crate::zammad::delete,
        crate::zammad::hook,
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
        crate::zammad::NewZammadConnection,
        crate::zammad::ZammadConnection,
        crate::zammad::HookAccepted,
        crate::hooks::CreateHookToken,
        crate::hooks::CreatedHookToken,
        crate::hooks::HookTokenInfo,
        crate::hooks::HookTokenList,
        crate::hooks::HookEvent,
        crate::hooks::HookAnswer,
        crate::privacy::DeleteAccount,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;
