//! The OpenAPI document of the whole v1 API, served at `GET /v1/openapi.json` so client authors
//! and tools can check themselves against the running relay.

use tacho_model::api::doc::{OpDoc, RelayOpDoc};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// Shape of every error answer (shared with clients).
pub use tacho_model::api::ErrorBody;

/// Answer of `GET /v1/capabilities` (shared with clients).
pub use tacho_model::api::Capabilities;

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
/// (`middleware::path_text`), the bearer check's 401, and the rate limit's 429
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
        super::healthz,
        super::readyz,
        super::capabilities,
        super::openapi_json,
        super::accounts::signup,
        super::accounts::login,
        super::accounts::refresh,
        super::accounts::logout,
        super::oidc::start,
        super::oidc::finish,
        super::oidc::nonce,
        super::oidc::id_token,
        super::accounts::device_session,
        super::accounts::list_devices,
        super::accounts::rename_device,
        super::accounts::revoke_device,
        super::sync::push,
        super::sync::pull,
        super::sync::snapshot,
        super::sync::sync,
        super::connections::create,
        super::connections::list,
        super::connections::show,
        super::connections::update,
        super::connections::delete,
        super::connections::hook,
        super::connections::zammad_create,
        super::connections::zammad_show,
        super::connections::zammad_delete,
        super::connections::zammad_hook,
        super::connectors::put_mapping,
        super::connectors::list_mappings,
        super::connectors::delete_mapping,
        super::connectors::pause,
        super::connectors::resume,
        super::connectors::run,
        super::connectors::status,
        super::connectors::log,
        super::connectors::lookup,
        super::connectors::conflicts,
        super::connectors::resolve,
        super::hooks::create_token,
        super::hooks::list_tokens,
        super::hooks::revoke_token,
        super::hooks::trip_start,
        super::hooks::trip_ping,
        super::hooks::trip_end,
        super::accounts::export,
        super::accounts::delete_account,
    ),
    components(schemas(
        ErrorBody,
        Capabilities,
        OpDoc,
        RelayOpDoc,
        tacho_model::api::ProviderInfo,
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
        crate::connections::ConnectionCounts,
        crate::connectors::api::MappingBody,
        crate::connectors::api::MappingView,
        crate::connectors::api::MappingList,
        crate::connectors::api::LookupList,
        crate::connectors::api::ConnectorStatus,
        crate::connectors::api::AuditRow,
        crate::connectors::api::AuditLog,
        crate::connectors::api::ConflictView,
        crate::connectors::api::ConflictList,
        crate::connectors::api::ResolveBody,
        crate::connections::zammad::NewZammadConnection,
        crate::connections::zammad::ZammadConnection,
        crate::automation::CreateHookToken,
        crate::automation::CreatedHookToken,
        crate::automation::HookTokenInfo,
        crate::automation::HookTokenList,
        crate::automation::HookEvent,
        crate::automation::HookAnswer,
        crate::accounts::export::DeleteAccount,
    )),
    modifiers(&BearerAuth, &ExtractorErrors)
)]
pub struct ApiDoc;
