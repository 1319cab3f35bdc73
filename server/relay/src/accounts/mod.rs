//! Accounts: sign-up (subject to the registration policy), login, refresh rotation and logout,
//! sessions for another device ([`devices`]), access and refresh [`tokens`], and a person's data
//! as one archive or deleted ([`export`]). Passwords are kept only as argon2id hashes; hashing
//! runs off the async threads.

pub mod devices;
pub mod export;
pub mod tokens;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use std::sync::Arc;

use sqlx::Row as _;
use tacho_model::api::{
    DeviceInfo, DeviceList, DeviceRename, DeviceSessionRequest, Session, check_text, limits,
};
use uuid::Uuid;

use crate::config::{Config, Registration};
use crate::db::{Backend, Db, is_unique_violation, now_ms};
use crate::error::{Kind, ServiceError, ServiceResult};
use devices::{bind_device, device_revoked, device_taken};
use tokens::{Claims, LiveDevices, Subject, Tokens, reused, revoke_family_of, spend_refresh_token};

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

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ServiceResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ServiceError::internal)
}

/// Trims and lower-cases an e-mail address; 422 `invalid_text` / `text_too_long` for control
/// characters or more than 254 characters, 422 `bad_email` unless it looks like an address.
pub(crate) fn normalise_email(email: &str) -> ServiceResult<String> {
    let email = check_text("email", email, limits::EMAIL)?.to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(ServiceError::invalid("bad_email", "not an e-mail address"))
    }
}

fn domain_of(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, d)| d)
}

/// Whether `email`'s domain is one of `domains` (exact, case-insensitive; no subdomains).
pub fn domain_allowed(domains: &[String], email: &str) -> bool {
    let domain = domain_of(email);
    domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
}

/// Who may make an account here (the configured registration policy).
#[derive(Debug, Clone)]
struct Policy {
    registration: Registration,
    allow_emails: Vec<String>,
    allowed_email_domains: Vec<String>,
}

fn bad_credentials() -> ServiceError {
    ServiceError::unauthorized("bad_credentials", "wrong e-mail or password")
}

/// The accounts service: storage, tokens, the registration policy and the devices recently
/// found alive. Cheap to clone.
#[derive(Clone)]
pub struct Accounts(Arc<Inner>);

struct Inner {
    db: Db,
    tokens: Tokens,
    policy: Policy,
    /// A password hash to verify against for unknown e-mails, so they cost as much as known ones.
    dummy_hash: String,
    /// Devices recently found to exist (see [`LiveDevices`]).
    live: LiveDevices,
}

impl Accounts {
    /// The service over `db`, signing with `token_key`, as `config` says.
    pub async fn new(db: Db, token_key: Vec<u8>, config: &Config) -> ServiceResult<Self> {
        let dummy_hash = blocking(|| hash_password("not a real password"))
            .await?
            .map_err(ServiceError::internal)?;
        Ok(Self(Arc::new(Inner {
            db,
            tokens: Tokens::new(token_key, config),
            policy: Policy {
                registration: config.registration,
                allow_emails: config.allow_emails.clone(),
                allowed_email_domains: config.allowed_email_domains.clone(),
            },
            dummy_hash,
            live: LiveDevices::default(),
        })))
    }

    /// Issuing and checking tokens.
    pub fn tokens(&self) -> &Tokens {
        &self.0.tokens
    }

    /// Whether a new account may be created for `email` (normalised): the registration policy
    /// (open / closed / allowlist) and, when configured, the relay-wide e-mail domains. Password
    /// sign-up and OpenID sign-up both ask this.
    pub fn may_register(&self, email: &str) -> bool {
        let policy = &self.0.policy;
        let by_policy = match policy.registration {
            Registration::Open => true,
            Registration::Closed => false,
            Registration::Allowlist => policy
                .allow_emails
                .iter()
                .any(|a| a.trim().eq_ignore_ascii_case(email)),
        };
        by_policy
            && (policy.allowed_email_domains.is_empty()
                || domain_allowed(&policy.allowed_email_domains, email))
    }

    /// The claims of a valid access token whose device and account still exist.
    pub async fn authenticate(&self, token: &str) -> ServiceResult<Claims> {
        let claims = self.0.tokens.verify(token)?;
        // Access tokens are stateless; this lookup makes them die with their device or account
        // (`DELETE /v1/account`, `DELETE /v1/devices/{id}`) instead of living out their 15
        // minutes. On SQLite (one instance serves the file, and it forgets a device it revokes
        // or deletes) a device seen alive is remembered briefly: hundreds of long-polls
        // re-polling after every push must not each cost a query. On PostgreSQL another
        // instance may revoke it, so every check reads the row (one primary-key lookup).
        if self.0.db.backend == Backend::Sqlite && self.0.live.recently_seen(claims.device) {
            return Ok(claims);
        }
        let row = sqlx::query(
            "SELECT revoked_at, signed_out_at FROM devices WHERE id = $1 AND account_id = $2",
        )
        .bind(claims.device.to_string())
        .bind(claims.account.to_string())
        .fetch_optional(&self.0.db.pool)
        .await?
        .ok_or_else(|| {
            ServiceError::unauthorized(
                "bad_token",
                "the account or device of this token no longer exists",
            )
        })?;
        if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
            return Err(device_revoked());
        }
        if row
            .try_get::<Option<i64>, _>("signed_out_at")?
            .is_some_and(|at| claims.iat_ms <= at)
        {
            return Err(ServiceError::unauthorized(
                tacho_model::api::code::SIGNED_OUT,
                "this session was signed out; sign in again",
            ));
        }
        self.0.live.saw(claims.device);
        Ok(claims)
    }

    /// Creates an account with its space and binds the device.
    pub async fn signup(&self, req: Credentials) -> ServiceResult<Session> {
        req.check_text()?;
        let email = normalise_email(&req.email)?;
        if !self.may_register(&email) {
            return Err(ServiceError::new(
                Kind::Forbidden,
                "registration_closed",
                "this relay does not accept new accounts for this address",
            ));
        }
        if req.password.chars().count() < MIN_PASSWORD {
            return Err(ServiceError::invalid(
                "weak_password",
                format!("passwords need at least {MIN_PASSWORD} characters"),
            ));
        }
        let password = req.password;
        let hash = blocking(move || hash_password(&password))
            .await?
            .map_err(ServiceError::internal)?;

        let email_taken = || {
            ServiceError::new(
                Kind::Conflict,
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
        let mut tx = self.0.db.begin_write().await?;
        if sqlx::query("SELECT id FROM accounts WHERE email = $1")
            .bind(&email)
            .fetch_optional(&mut *tx)
            .await?
            .is_some()
        {
            return Err(email_taken());
        }
        if let Some(row) = sqlx::query("SELECT revoked_at FROM devices WHERE id = $1")
            .bind(subject.device.to_string())
            .fetch_optional(&mut *tx)
            .await?
        {
            return Err(if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
                device_revoked()
            } else {
                device_taken()
            });
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
        let session = self.0.tokens.issue(&mut tx, subject, None).await?;
        tx.commit().await?;
        tracing::info!(account = %subject.account, "account created");
        Ok(session)
    }

    /// A new session (and refresh family) for a device of the account.
    pub async fn login(&self, req: Credentials) -> ServiceResult<Session> {
        req.check_text()?;
        let email = req.email.trim().to_lowercase();
        let row = sqlx::query("SELECT id, password_hash, space_id FROM accounts WHERE email = $1")
            .bind(&email)
            .fetch_optional(&self.0.db.pool)
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
            self.0.dummy_hash.clone()
        };
        let password = req.password;
        let ok = blocking(move || verify_password(&password, &hash)).await? && has_password;
        let Some(row) = row.filter(|_| ok) else {
            return Err(bad_credentials());
        };
        let parse = |s: String| Uuid::parse_str(&s).map_err(ServiceError::internal);
        let subject = Subject {
            account: parse(row.try_get("id")?)?,
            space: parse(row.try_get("space_id")?)?,
            device: req.device_id,
        };
        let mut tx = self.0.db.begin_write().await?;
        bind_device(&mut tx, subject, &req.device_name).await?;
        let session = self.0.tokens.issue(&mut tx, subject, None).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Spends the refresh token and returns the next session of its family.
    pub async fn refresh(&self, req: RefreshRequest) -> ServiceResult<Session> {
        let mut tx = self.0.db.begin_write().await?;
        let spent =
            match spend_refresh_token(&mut tx, &req.refresh_token, self.0.tokens.reuse_grace_ms())
                .await
            {
                Ok(spent) => spent,
                Err(err) => {
                    tx.rollback().await?;
                    if err.code == reused().code {
                        tracing::warn!("refresh token reused; revoking its family");
                        revoke_family_of(&self.0.db.pool, &req.refresh_token).await?;
                    }
                    return Err(err);
                }
            };
        let session = self
            .0
            .tokens
            .issue(&mut tx, spent.subject, Some(&spent.family))
            .await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Ends the calling device's session at once: every refresh token of the device is revoked
    /// and every access token issued to it so far is refused from now on (`signed_out_at`;
    /// [`Accounts::authenticate`]). A later sign-in of the device gets new tokens.
    pub async fn logout(&self, claims: &Claims) -> ServiceResult<()> {
        let mut tx = self.0.db.begin_write().await?;
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE device_id = $1")
            .bind(claims.device.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE devices SET signed_out_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(claims.device.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.0.live.forget(claims.device);
        Ok(())
    }

    /// A session for another device of the caller's account (the phone signs in its watch).
    pub async fn device_session(
        &self,
        claims: &Claims,
        req: DeviceSessionRequest,
    ) -> ServiceResult<Session> {
        req.check_text()?;
        let subject = Subject {
            account: claims.account,
            space: claims.space,
            device: req.device_id,
        };
        let mut tx = self.0.db.begin_write().await?;
        bind_device(&mut tx, subject, &req.device_name).await?;
        let session = self.0.tokens.issue(&mut tx, subject, None).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// The caller's account's devices, oldest first; `current` marks the caller.
    pub async fn devices(&self, claims: &Claims) -> ServiceResult<DeviceList> {
        devices::list(&self.0.db, claims).await
    }

    /// Renames a device of the caller's account (`not_found` for another account's).
    pub async fn rename_device(
        &self,
        claims: &Claims,
        device: &str,
        req: &DeviceRename,
    ) -> ServiceResult<DeviceInfo> {
        devices::rename(&self.0.db, claims, device, req).await
    }

    /// Revokes a device of the caller's account (`not_found` for another account's).
    pub async fn revoke_device(&self, claims: &Claims, device: &str) -> ServiceResult<()> {
        let device = devices::revoke(&self.0.db, claims, device).await?;
        self.0.live.forget(device);
        Ok(())
    }
}
