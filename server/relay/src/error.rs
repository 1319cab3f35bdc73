//! The one error type of the API: every failure renders as `{"code", "message", …extra}` with a
//! status, as the contract requires, including axum's own extractor rejections.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use tacho_model::api::{TextError, code};

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

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        // A safety net behind `tacho_model::api::check_text`: PostgreSQL refuses U+0000 in text
        // (SQLSTATE 22021, "invalid byte sequence for encoding UTF8: 0x00") where SQLite takes
        // it. Text reaching the database unchecked is refused as the client's fault, never 500.
        if let sqlx::Error::Database(db) = &err
            && db.code().as_deref() == Some("22021")
        {
            tracing::warn!(cause = %db, "text the database can't store reached it unchecked");
            return Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code::INVALID_TEXT,
                "the request holds text with a control character that can't be stored",
            );
        }
        Self::internal(err)
    }
}

impl From<TextError> for ApiError {
    /// 422 `invalid_text` or `text_too_long`, with the `field` (and `max_length`).
    fn from(err: TextError) -> Self {
        let message = err.to_string();
        match err {
            TextError::Control { field, .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code::INVALID_TEXT,
                message,
            )
            .with("field", field),
            TextError::TooLong { field, max, .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code::TEXT_TOO_LONG,
                message,
            )
            .with("field", field)
            .with("max_length", max),
        }
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
