//! Accounts: sign-up (subject to the registration policy), login, refresh rotation and logout.
//! Passwords are kept only as argon2id hashes; hashing runs off the async threads.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use sqlx::Row as _;
use tacho_model::api::{check_text, limits};
use uuid::Uuid;

use crate::AppState;
use crate::config::Registration;
use crate::devices::{bind_device, device_taken};
use crate::error::{ApiError, ApiResult};
use crate::storage::{is_unique_violation, now_ms};
use crate::tokens::{
    Auth, Session, Subject, issue_session, reused, revoke_family_of, spend_refresh_token,
};

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD: usize = 10;

pub use tacho_model::api::{Credentials, RefreshRequest};

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Checks a password against a stored PHC hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

/// Trims and lower-cases an e-mail address; 422 `invalid_text` / `text_too_long` for control
/// characters or more than 254 characters, 422 `bad_email` unless it looks like an address.
pub(crate) fn normalise_email(email: &str) -> ApiResult<String> {
    let email = check_text("email", email, limits::EMAIL)?.to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_email",
            "not an e-mail address",
        ))
    }
}

/// Whether a new account may be created for `email` (normalised): the registration policy
/// (open / closed / allowlist) and, when configured, the relay-wide e-mail domains. Password
/// sign-up and OpenID sign-up both ask this.
pub fn may_register(config: &crate::Config, email: &str) -> bool {
    let by_policy = match config.registration {
        Registration::Open => true,
        Registration::Closed => false,
        Registration::Allowlist => config
            .allow_emails
            .iter()
            .any(|a| a.trim().eq_ignore_ascii_case(email)),
    };
    by_policy
        && (config.allowed_email_domains.is_empty()
            || crate::oidc::domain_allowed(&config.allowed_email_domains, email))
}

fn bad_credentials() -> ApiError {
    ApiError::unauthorized("bad_credentials", "wrong e-mail or password")
}

/// `POST /v1/auth/signup`: creates an account with its space and binds the device.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth",
    request_body = Credentials,
    responses(
        (status = 201, body = Session),
        (status = 403, description = "registration_closed", body = crate::openapi::ErrorBody),
        (status = 409, description = "email_taken / device_taken", body = crate::openapi::ErrorBody),
        (status = 422, description = "weak_password / bad_email / invalid_text / text_too_long (with `field`)", body = crate::openapi::ErrorBody),
    ))]
pub async fn signup(
    State(state): State<AppState>,
    body: Result<Json<Credentials>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let Json(req) = body?;
    req.check_text()?;
    let email = normalise_email(&req.email)?;
    if !may_register(&state.config, &email) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "registration_closed",
            "this relay does not accept new accounts for this address",
        ));
    }
    if req.password.chars().count() < MIN_PASSWORD {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
            format!("passwords need at least {MIN_PASSWORD} characters"),
        ));
    }
    let password = req.password;
    let hash = blocking(move || hash_password(&password))
        .await?
        .map_err(ApiError::internal)?;

    let email_taken = || {
        ApiError::new(
            StatusCode::CONFLICT,
            "email_taken",
            "an account with this e-mail exists",
        )
    };
    let subject = Subject {
        account: Uuid::now_v7(),
        space: Uuid::now_v7(),
        device: req.device_id,
    };
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    if sqlx::query("SELECT id FROM accounts WHERE email = $1")
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await?
        .is_some()
    {
        return Err(email_taken());
    }
    if sqlx::query("SELECT id FROM devices WHERE id = $1")
        .bind(subject.device.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .is_some()
    {
        return Err(device_taken());
    }
    sqlx::query("INSERT INTO spaces (id, head, created_at) VALUES ($1, 0, $2)")
        .bind(subject.space.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO accounts (id, email, password_hash, space_id, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(subject.account.to_string())
    .bind(&email)
    .bind(hash)
    .bind(subject.space.to_string())
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| if is_unique_violation(&e) { email_taken() } else { e.into() })?;
    bind_device(&mut tx, subject, &req.device_name).await?;
    let session = issue_session(&state, &mut tx, subject, None).await?;
    tx.commit().await?;
    tracing::info!(account = %subject.account, "account created");
    Ok((StatusCode::CREATED, Json(session)))
}

/// `POST /v1/auth/login`: a new session (and refresh family) for a device of the account.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, body = Session),
        (status = 401, description = "bad_credentials", body = crate::openapi::ErrorBody),
        (status = 409, description = "device_taken", body = crate::openapi::ErrorBody),
        (status = 422, description = "invalid_text / text_too_long (with `field`)", body = crate::openapi::ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    body: Result<Json<Credentials>, JsonRejection>,
) -> ApiResult<Json<Session>> {
    let Json(req) = body?;
    req.check_text()?;
    let email = req.email.trim().to_lowercase();
    let row = sqlx::query("SELECT id, password_hash, space_id FROM accounts WHERE email = $1")
        .bind(&email)
        .fetch_optional(&state.db.pool)
        .await?;
    // Unknown addresses, and accounts without a password (made by OpenID sign-in, hash ''),
    // verify against a dummy hash so they take as long as wrong passwords, then fail.
    let stored = match &row {
        Some(row) => row.try_get::<String, _>("password_hash")?,
        None => String::new(),
    };
    let has_password = !stored.is_empty();
    let hash = if has_password {
        stored
    } else {
        state.dummy_hash.clone()
    };
    let password = req.password;
    let ok = blocking(move || verify_password(&password, &hash)).await? && has_password;
    let Some(row) = row.filter(|_| ok) else {
        return Err(bad_credentials());
    };
    let parse = |s: String| Uuid::parse_str(&s).map_err(ApiError::internal);
    let subject = Subject {
        account: parse(row.try_get("id")?)?,
        space: parse(row.try_get("space_id")?)?,
        device: req.device_id,
    };
    let mut tx = state.db.begin_write().await?;
    bind_device(&mut tx, subject, &req.device_name).await?;
    let session = issue_session(&state, &mut tx, subject, None).await?;
    tx.commit().await?;
    Ok(Json(session))
}

/// `POST /v1/auth/refresh`: spends the refresh token and returns the next session of its family.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = Session),
        (status = 401, description = "refresh_reused (family revoked) / bad_token", body = crate::openapi::ErrorBody),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> ApiResult<Json<Session>> {
    let Json(req) = body?;
    let mut tx = state.db.begin_write().await?;
    let spent = match spend_refresh_token(
        &mut tx,
        &req.refresh_token,
        i64::try_from(state.config.refresh_reuse_grace.as_millis()).unwrap_or(i64::MAX),
    )
    .await
    {
        Ok(spent) => spent,
        Err(err) => {
            tx.rollback().await?;
            if err.code == reused().code {
                tracing::warn!("refresh token reused; revoking its family");
                revoke_family_of(&state.db.pool, &req.refresh_token).await?;
            }
            return Err(err);
        }
    };
    let session = issue_session(&state, &mut tx, spent.subject, Some(&spent.family)).await?;
    tx.commit().await?;
    Ok(Json(session))
}

/// `POST /v1/auth/logout`: revokes every refresh token of the calling device. Access tokens
/// already issued stay valid until they expire (at most 15 minutes).
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn logout(State(state): State<AppState>, Auth(claims): Auth) -> ApiResult<StatusCode> {
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE device_id = $1")
        .bind(claims.device.to_string())
        .execute(&state.db.pool)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
