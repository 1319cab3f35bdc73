//! OpenID Connect sign-in (docs/oidc.md, ADR 0008).
//!
//! Two ways in, both ending in the same [`Session`] as password login:
//! - **System browser (RFC 8252)**: `start` stores a pending login (random `state` and `nonce`,
//!   the app's PKCE challenge and redirect URI) and answers the authorization URL; the app opens
//!   it, receives the code on its redirect URI, and sends code, state and its PKCE verifier to
//!   `finish`. The relay is the confidential client (it holds the client secret and redeems the
//!   code); the verifier stays in the app until `finish`, so an app that intercepts the redirect
//!   can't finish the login.
//! - **ID-token exchange**: the app signs in with the platform SDK (Sign in with Apple, Google
//!   Sign-In) using a nonce from `nonce`, and sends the ID token to `id-token`.
//!
//! Identities are keyed by (issuer, subject). A first sign-in creates an account (registration
//! policy and domains apply; the e-mail must be verified); an e-mail that already has an account
//! is never linked silently (`409 link_required`); a call carrying an access token links the
//! identity to the caller's account instead.

pub mod provider;

/// The provider file (kept with the rest of the configuration, below every service).
pub use crate::config::oidc as config;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;
use std::str::FromStr as _;
use tacho_model::api::{check_text, limits};
use uuid::Uuid;

use crate::accounts::devices::bind_device;
use crate::accounts::tokens::{Claims, Session, Subject};
use crate::accounts::{Accounts, domain_allowed, normalise_email};
use crate::db::{Db, is_unique_violation, now_ms, rfc3339};
use crate::error::{Kind, ServiceError, ServiceResult};
pub use config::{ProviderConfig, ProviderKind};
use provider::{IdTokenError, OidcError, Provider, VerifiedIdentity};
pub use tacho_model::api::{
    FinishRequest, IdTokenRequest, NonceAnswer, ProviderInfo, StartAnswer, StartRequest,
};

/// Lifetime of a pending browser login and of an issued nonce.
pub const PENDING_TTL_MS: i64 = 10 * 60 * 1000;

/// The configured providers, by id, each with its lazily discovered metadata.
#[derive(Default)]
pub struct Providers {
    by_id: BTreeMap<String, Arc<Provider>>,
}

impl Providers {
    /// Providers for `configs`, discovering nothing yet. Fails only if the HTTP client can't be
    /// built.
    pub fn new(
        configs: &[ProviderConfig],
        jwks_refetch_interval: Duration,
    ) -> Result<Self, reqwest::Error> {
        if configs.is_empty() {
            return Ok(Self::default());
        }
        let http = provider::http_client()?;
        Ok(Self {
            by_id: configs
                .iter()
                .map(|c| {
                    (
                        c.id.clone(),
                        Arc::new(Provider::new(
                            c.clone(),
                            http.clone(),
                            jwks_refetch_interval,
                        )),
                    )
                })
                .collect(),
        })
    }

    fn get(&self, id: &str) -> ServiceResult<Arc<Provider>> {
        self.by_id.get(id).cloned().ok_or_else(|| {
            ServiceError::new(
                Kind::NotFound,
                "unknown_provider",
                format!(
                    "no OpenID provider `{}` is configured on this relay",
                    truncate(id, 64)
                ),
            )
        })
    }

    /// `(id, kind)` of every provider, for `GET /v1/capabilities`.
    pub fn list(&self) -> Vec<ProviderInfo> {
        self.by_id
            .values()
            .map(|p| ProviderInfo {
                id: p.config.id.clone(),
                kind: p.config.kind,
            })
            .collect()
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// BASE64URL(SHA-256(verifier)), the S256 PKCE challenge.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn is_b64url(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 7636: 43–128 characters of `[A-Za-z0-9-._~]`.
fn is_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `requested` may be used as redirect URI given the registered ones: an exact string
/// match, or (RFC 8252 §7.3) a loopback IP literal redirect (`http://127.0.0.1:PORT/…`,
/// `http://[::1]:PORT/…`) that differs from a registered one only in its port. Nothing else is
/// relaxed: not `localhost`, not the path, not the query, and the requested URI must be in
/// canonical form so no encoding trick passes the comparison.
pub fn redirect_allowed(registered: &[String], requested: &str) -> bool {
    if registered.iter().any(|r| r == requested) {
        return true;
    }
    let Ok(req) = reqwest::Url::parse(requested) else {
        return false;
    };
    let loopback_ip = |u: &reqwest::Url| {
        u.scheme() == "http"
            && u.username().is_empty()
            && u.password().is_none()
            && u.fragment().is_none()
            && matches!(u.host_str(), Some("127.0.0.1" | "[::1]"))
    };
    if req.as_str() != requested || !loopback_ip(&req) {
        return false;
    }
    let without_port = |u: &reqwest::Url| {
        let mut u = u.clone();
        u.set_port(None).ok().map(|()| u.to_string())
    };
    let want = without_port(&req);
    registered.iter().any(|r| {
        reqwest::Url::parse(r)
            .ok()
            .filter(loopback_ip)
            .and_then(|u| without_port(&u))
            .is_some_and(|r| Some(r) == want)
    })
}

fn bad_request(code: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::new(Kind::BadRequest, code, message)
}

impl From<OidcError> for ServiceError {
    fn from(e: OidcError) -> Self {
        match e {
            OidcError::Unavailable(m) => {
                tracing::warn!(reason = %m, "OpenID provider unavailable");
                ServiceError::new(Kind::Upstream, "provider_unavailable", m)
            }
            OidcError::CodeRejected { .. } => {
                ServiceError::unauthorized("code_rejected", e.to_string())
            }
            OidcError::IdToken(t) => id_token_refused(&t),
        }
    }
}

fn id_token_refused(e: &IdTokenError) -> ServiceError {
    tracing::info!(reason = %e, "ID token refused");
    ServiceError::unauthorized("invalid_id_token", format!("ID token refused: {e}"))
}

/// A signed-in (or linked) device's session; `created` when the sign-in made a new account.
#[derive(Debug)]
pub struct SignIn {
    /// The session.
    pub session: Session,
    /// Whether a new account was created.
    pub created: bool,
}

/// The OpenID service: the configured providers, the pending logins and nonces in storage, and
/// the accounts service that makes accounts and issues sessions. Cheap to clone.
#[derive(Clone)]
pub struct OidcService {
    db: Db,
    providers: Arc<Providers>,
    accounts: Accounts,
}

impl OidcService {
    /// The service for `providers`.
    pub fn new(db: Db, providers: Providers, accounts: Accounts) -> Self {
        Self {
            db,
            providers: Arc::new(providers),
            accounts,
        }
    }

    /// The configured providers.
    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    /// A configured provider, or `unknown_provider`.
    pub fn provider(&self, id: &str) -> ServiceResult<Arc<Provider>> {
        self.providers.get(id)
    }

    async fn purge_expired(&self, now: i64) -> ServiceResult<()> {
        for sql in [
            "DELETE FROM oidc_logins WHERE expires_at <= $1",
            "DELETE FROM oidc_nonces WHERE expires_at <= $1",
        ] {
            sqlx::query(sql).bind(now).execute(&self.db.pool).await?;
        }
        Ok(())
    }

    /// Begins a system-browser sign-in at `provider`.
    pub async fn start(
        &self,
        provider: &Provider,
        req: StartRequest,
    ) -> ServiceResult<StartAnswer> {
        if !redirect_allowed(&provider.config.redirect_uris, &req.redirect_uri) {
            return Err(bad_request(
                "redirect_uri_mismatch",
                "redirect_uri is not one of this provider's registered redirect URIs",
            ));
        }
        if req.code_challenge_method != "S256" {
            return Err(bad_request(
                "invalid_code_challenge",
                "code_challenge_method must be S256",
            ));
        }
        if req.code_challenge.len() != 43 || !is_b64url(&req.code_challenge) {
            return Err(bad_request(
                "invalid_code_challenge",
                "code_challenge must be BASE64URL(SHA-256(verifier)): 43 characters of A-Z a-z 0-9 - _",
            ));
        }
        let mut url = provider.authorization_endpoint().await?;
        let now = now_ms();
        self.purge_expired(now).await?;
        let login_state = random_token();
        let nonce = random_token();
        let expires_at = now + PENDING_TTL_MS;
        sqlx::query(
        "INSERT INTO oidc_logins (state, provider, nonce, redirect_uri, code_challenge, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&login_state)
    .bind(&provider.config.id)
    .bind(&nonce)
    .bind(&req.redirect_uri)
    .bind(&req.code_challenge)
    .bind(now)
    .bind(expires_at)
    .execute(&self.db.pool)
    .await?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &provider.config.client_id)
                .append_pair("redirect_uri", &req.redirect_uri)
                .append_pair("scope", &provider.config.scopes.join(" "))
                .append_pair("state", &login_state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &req.code_challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(mode) = &provider.config.response_mode {
                q.append_pair("response_mode", mode);
            }
        }
        Ok(StartAnswer {
            authorization_url: url.to_string(),
            state: login_state,
            expires_at: rfc3339(expires_at),
        })
    }

    /// Redeems the code of a started login and signs in (or, with `caller`, links the identity
    /// to the caller's account).
    pub async fn finish(
        &self,
        provider: &Provider,
        caller: Option<Claims>,
        req: FinishRequest,
    ) -> ServiceResult<SignIn> {
        check_text("state", &req.state, limits::ID)?;
        check_text("device_name", &req.device_name, limits::NAME)?;
        if !is_verifier(&req.code_verifier) {
            return Err(bad_request(
                "invalid_grant",
                "code_verifier must be 43–128 characters of A-Z a-z 0-9 - . _ ~",
            ));
        }
        let now = now_ms();
        // One statement consumes the pending login, and only if the verifier matches its challenge:
        // a replayed state finds nothing, two concurrent finishes can't both win, and a wrong
        // verifier (someone who saw the redirect) does not burn the person's login.
        let row = sqlx::query(
            "DELETE FROM oidc_logins WHERE state = $1 AND provider = $2 AND code_challenge = $3 \
         AND expires_at > $4 RETURNING nonce, redirect_uri",
        )
        .bind(&req.state)
        .bind(&provider.config.id)
        .bind(s256(&req.code_verifier))
        .bind(now)
        .fetch_optional(&self.db.pool)
        .await?;
        let Some(row) = row else {
            let pending = sqlx::query(
            "SELECT 1 AS one FROM oidc_logins WHERE state = $1 AND provider = $2 AND expires_at > $3",
        )
        .bind(&req.state)
        .bind(&provider.config.id)
        .bind(now)
        .fetch_optional(&self.db.pool)
        .await?;
            return Err(match pending {
                Some(_) => bad_request(
                    "invalid_grant",
                    "code_verifier does not match the code_challenge this login was started with",
                ),
                None => bad_request(
                    "invalid_state",
                    "unknown, expired or already used state (start the sign-in again)",
                ),
            });
        };
        let nonce: String = row.try_get("nonce")?;
        let redirect_uri: String = row.try_get("redirect_uri")?;
        let id_token = provider
            .exchange_code(&req.code, &req.code_verifier, &redirect_uri)
            .await?;
        // The token came straight from the token endpoint for the relay's own client: its audience is
        // the relay's client id only.
        let identity = provider
            .verify(
                &id_token,
                &nonce,
                std::slice::from_ref(&provider.config.client_id),
            )
            .await?;
        self.sign_in(
            &provider.config,
            identity,
            caller,
            req.device_id,
            &req.device_name,
        )
        .await
    }

    /// A single-use nonce for the ID-token exchange at `provider`.
    pub async fn nonce(&self, provider: &Provider) -> ServiceResult<NonceAnswer> {
        let now = now_ms();
        self.purge_expired(now).await?;
        let nonce = random_token();
        let expires_at = now + PENDING_TTL_MS;
        sqlx::query(
        "INSERT INTO oidc_nonces (nonce, provider, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&nonce)
    .bind(&provider.config.id)
    .bind(now)
    .bind(expires_at)
    .execute(&self.db.pool)
    .await?;
        Ok(NonceAnswer {
            nonce,
            expires_at: rfc3339(expires_at),
        })
    }

    /// Signs in with an ID token the app got from the platform SDK (or links it, with
    /// `caller`).
    pub async fn id_token(
        &self,
        provider: &Provider,
        caller: Option<Claims>,
        req: IdTokenRequest,
    ) -> ServiceResult<SignIn> {
        check_text("device_name", &req.device_name, limits::NAME)?;
        let token = openidconnect::core::CoreIdToken::from_str(req.id_token.trim())
            .map_err(|e| id_token_refused(&IdTokenError::Malformed(e.to_string())))?;
        let mut audiences = vec![provider.config.client_id.clone()];
        audiences.extend(provider.config.extra_audiences.iter().cloned());
        // The token must carry the nonce named in the body …
        let identity = provider.verify(&token, &req.nonce, &audiences).await?;
        // … and that nonce must be one this relay issued for this provider, unused and current.
        // Consumed only now, so a token minted for another nonce does not burn this one.
        let consumed = sqlx::query(
        "DELETE FROM oidc_nonces WHERE nonce = $1 AND provider = $2 AND expires_at > $3 RETURNING nonce",
    )
    .bind(&req.nonce)
    .bind(&provider.config.id)
    .bind(now_ms())
    .fetch_optional(&self.db.pool)
    .await?;
        if consumed.is_none() {
            return Err(bad_request(
                "invalid_nonce",
                "unknown, expired or already used nonce (ask POST …/nonce for a new one)",
            ));
        }
        self.sign_in(
            &provider.config,
            identity,
            caller,
            req.device_id,
            &req.device_name,
        )
        .await
    }

    /// The account of a verified identity: found by (issuer, subject), linked to the caller, or
    /// created; then the device is bound and a session issued, in one transaction.
    async fn sign_in(
        &self,
        provider: &ProviderConfig,
        identity: VerifiedIdentity,
        caller: Option<Claims>,
        device: Uuid,
        device_name: &str,
    ) -> ServiceResult<SignIn> {
        let now = now_ms();
        let verified_email = identity
            .email
            .as_deref()
            .filter(|_| identity.email_verified)
            .map(normalise_email)
            .transpose()
            .map_err(|_| {
                ServiceError::new(
                    Kind::Forbidden,
                    "email_unverified",
                    "the provider's e-mail address is not a usable address",
                )
            })?;
        let provider_domain_ok = |email: Option<&str>| {
            provider.allowed_domains.is_empty()
                || email.is_some_and(|e| domain_allowed(&provider.allowed_domains, e))
        };
        let mut tx = self.db.begin_write().await?;
        let owner: Option<String> = sqlx::query(
            "SELECT account_id FROM oidc_identities WHERE issuer = $1 AND subject = $2",
        )
        .bind(&identity.issuer)
        .bind(&identity.subject)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("account_id"))
        .transpose()?;
        let space_of = |account: &str| {
            sqlx::query("SELECT space_id FROM accounts WHERE id = $1").bind(account.to_owned())
        };
        let parse = |s: String| Uuid::parse_str(&s).map_err(ServiceError::internal);
        let mut created = false;
        let (account, space) = match (owner, caller) {
            // Linking: the caller proves both the account (bearer) and the identity (token).
            (Some(owner), Some(c)) if owner != c.account.to_string() => {
                return Err(ServiceError::new(
                    Kind::Conflict,
                    "identity_taken",
                    "this identity is linked to another account",
                ));
            }
            (Some(_), Some(c)) => (c.account, c.space),
            (None, Some(c)) => {
                if !provider_domain_ok(verified_email.as_deref()) {
                    return Err(ServiceError::new(
                        Kind::Forbidden,
                        "domain_not_allowed",
                        "this provider only accepts verified addresses in its allowed domains",
                    ));
                }
                insert_identity(&mut tx, &identity, provider, &c.account.to_string(), now).await?;
                tracing::info!(account = %c.account, provider = %provider.id, "OpenID identity linked");
                (c.account, c.space)
            }
            (Some(owner), None) => {
                let space: String = space_of(&owner)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("space_id")?;
                (parse(owner)?, parse(space)?)
            }
            (None, None) => {
                let Some(email) = verified_email else {
                    return Err(ServiceError::new(
                        Kind::Forbidden,
                        "email_unverified",
                        "the provider did not assert a verified e-mail address; a new account needs one",
                    ));
                };
                if sqlx::query("SELECT id FROM accounts WHERE email = $1")
                    .bind(&email)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some()
                {
                    return Err(link_required());
                }
                if !self.accounts.may_register(&email) || !provider_domain_ok(Some(&email)) {
                    return Err(ServiceError::new(
                        Kind::Forbidden,
                        "registration_closed",
                        "this relay does not accept new accounts for this address",
                    ));
                }
                let (account, space) = (Uuid::now_v7(), Uuid::now_v7());
                sqlx::query("INSERT INTO spaces (id, head, created_at) VALUES ($1, 0, $2)")
                    .bind(space.to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                // No password: '' is no PHC hash, so password login can never match it.
                sqlx::query(
                "INSERT INTO accounts (id, email, password_hash, space_id, created_at) VALUES ($1, $2, '', $3, $4)",
            )
            .bind(account.to_string())
            .bind(&email)
            .bind(space.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| if is_unique_violation(&e) { link_required() } else { e.into() })?;
                insert_identity(&mut tx, &identity, provider, &account.to_string(), now).await?;
                tracing::info!(%account, provider = %provider.id, "account created by OpenID sign-in");
                created = true;
                (account, space)
            }
        };
        sqlx::query(
            "UPDATE oidc_identities SET last_login_at = $1, last_login_device = $2, email = $3 \
         WHERE issuer = $4 AND subject = $5",
        )
        .bind(now)
        .bind(device.to_string())
        .bind(identity.email.as_deref())
        .bind(&identity.issuer)
        .bind(&identity.subject)
        .execute(&mut *tx)
        .await?;
        let subject = Subject {
            account,
            space,
            device,
        };
        bind_device(&mut tx, subject, device_name).await?;
        let session = self.accounts.tokens().issue(&mut tx, subject, None).await?;
        tx.commit().await?;
        Ok(SignIn { session, created })
    }
}

fn link_required() -> ServiceError {
    ServiceError::new(
        Kind::Conflict,
        "link_required",
        "an account with this e-mail address exists; sign in with your password, then link this \
         provider (call this again with your access token)",
    )
}

async fn insert_identity(
    tx: &mut sqlx::AnyConnection,
    identity: &VerifiedIdentity,
    provider: &ProviderConfig,
    account: &str,
    now: i64,
) -> ServiceResult<()> {
    sqlx::query(
        "INSERT INTO oidc_identities (issuer, subject, account_id, provider, email, created_at, last_login_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&identity.issuer)
    .bind(&identity.subject)
    .bind(account)
    .bind(&provider.id)
    .bind(identity.email.as_deref())
    .bind(now)
    .execute(tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            ServiceError::new(
                Kind::Conflict,
                "identity_taken",
                "this identity was just linked to an account; try again",
            )
        } else {
            e.into()
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn redirect_uris_match_exactly_except_loopback_ports() {
        let r = reg(&[
            "http://127.0.0.1/callback",
            "http://[::1]:8080/cb",
            "org.example.tacho:/oidc",
            "https://tacho.example.org/oidc/cb",
            "http://localhost:9000/cb",
        ]);
        for ok in [
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53123/callback",
            "http://[::1]:1/cb",
            "http://[::1]/cb",
            "org.example.tacho:/oidc",
            "https://tacho.example.org/oidc/cb",
            "http://localhost:9000/cb",
        ] {
            assert!(redirect_allowed(&r, ok), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:53123/callback2",
            "http://127.0.0.1:53123/callback?x=1",
            "http://127.0.0.1:53123/callback#f",
            "http://127.0.0.2:53123/callback",
            "http://localhost:9001/cb",
            "http://localhost/callback",
            "https://127.0.0.1:53123/callback",
            "http://user@127.0.0.1:53123/callback",
            "http://0x7f.0.0.1:53123/callback",
            "http://127.0.0.1:53123/./callback",
            "HTTP://127.0.0.1:53123/callback",
            "org.example.tacho:/oidc2",
            "https://tacho.example.org:444/oidc/cb",
            "https://tacho.example.org/oidc/cb/",
            "",
        ] {
            assert!(!redirect_allowed(&r, bad), "{bad}");
        }
    }

    #[test]
    fn pkce_shapes() {
        // RFC 7636 appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!is_verifier("short"));
        assert!(!is_verifier(&"a".repeat(129)));
        assert!(!is_verifier(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn domains_match_exactly() {
        let d = reg(&["example.org"]);
        assert!(domain_allowed(&d, "a@example.org"));
        assert!(domain_allowed(&d, "a@EXAMPLE.org"));
        assert!(!domain_allowed(&d, "a@sub.example.org"));
        assert!(!domain_allowed(&d, "a@example.org.evil"));
        assert!(!domain_allowed(&d, "example.org"));
    }
}
