//! The one error type of the API's edge: every failure renders as `{"code", "message", …extra}`
//! with a status, as the contract requires, including axum's own extractor rejections. Services
//! fail with [`ServiceError`], mapped to a status here and nowhere else.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use tacho_model::api::TextError;

use crate::connections::ConnectionError;
use crate::error::{Kind, ServiceError};

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code clients match on.
    pub code: &'static str,
    /// Explanation for people.
    pub message: String,
    /// Extra fields merged into the body (e.g. `expected_seq`).
    pub extra: Map<String, Value>,
}

impl ApiError {
    /// An error with no extra fields.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// Adds an extra field to the body.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// 401 with the given code.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// 500 for failures that are ours, logged with their cause but not shown to clients.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.extra;
        body.insert("code".into(), Value::from(self.code));
        body.insert("message".into(), Value::from(self.message));
        (self.status, axum::Json(Value::Object(body))).into_response()
    }
}

impl From<ServiceError> for ApiError {
    /// The one place a service's failure becomes an HTTP status.
    fn from(err: ServiceError) -> Self {
        let status = match err.kind {
            Kind::BadRequest => StatusCode::BAD_REQUEST,
            Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::Upstream => StatusCode::BAD_GATEWAY,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            status,
            code: err.code,
            message: err.message,
            extra: err.extra,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    /// Through [`ServiceError`], so text PostgreSQL can't store is 422 here too.
    fn from(err: sqlx::Error) -> Self {
        ServiceError::from(err).into()
    }
}

impl From<TextError> for ApiError {
    /// 422 `invalid_text` or `text_too_long`, with the `field` (and `max_length`).
    fn from(err: TextError) -> Self {
        ServiceError::from(err).into()
    }
}

impl From<ConnectionError> for ApiError {
    fn from(err: ConnectionError) -> Self {
        ServiceError::from(err).into()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rej: JsonRejection) -> Self {
        let code = match &rej {
            JsonRejection::JsonDataError(_) => "invalid_body",
            JsonRejection::JsonSyntaxError(_) => "malformed_json",
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            JsonRejection::BytesRejection(_) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                "body_too_large"
            }
            _ => "bad_request",
        };
        Self::new(rej.status(), code, rej.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rej: QueryRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_query", rej.body_text())
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
