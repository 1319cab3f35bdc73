//! A configured provider at run time: discovery (lazy, cached), its keys (refetched when a token
//! names an unknown key, at most once per interval), the code exchange, and ID-token checks.
//!
//! Outbound HTTP goes only to the configured issuer's discovery document and the endpoints it
//! names, which must be https (plain http only when the issuer itself is a loopback address, for
//! tests), through a client that follows no redirects, so a provider answer cannot point the
//! relay at other hosts (SSRF).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreClient, CoreClientAuthMethod, CoreErrorResponseType, CoreIdToken, CoreIdTokenClaims,
    CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, DiscoveryError, IssuerUrl,
    Nonce, PkceCodeVerifier, RedirectUrl, RequestTokenError, SignatureVerificationError,
    TokenResponse as _,
};
use subtle::ConstantTimeEq as _;

use crate::config::oidc::{ProviderConfig, is_loopback_host};

/// How long a discovery document is trusted before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(24 * 3600);
/// Clock skew tolerated on an ID token's `iat` (issued in the future).
const IAT_SKEW: chrono::Duration = chrono::Duration::seconds(120);
/// Oldest accepted `iat`: a token must come from a sign-in started at most this long ago (the
/// lifetime of a pending login or nonce) plus the skew.
const IAT_MAX_AGE: chrono::Duration = chrono::Duration::seconds(600 + 120);

/// The signing algorithms accepted on ID tokens: asymmetric only. HMAC (`HS256`, keyed with the
/// client secret) would let anyone holding the secret mint tokens, and `none` is never accepted.
const ALGS: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Why talking to a provider or checking its token failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Discovery, the key set or the token endpoint could not be reached or answered nonsense.
    #[error("{0}")]
    Unavailable(String),
    /// The token endpoint refused the code (`error` is the provider's OAuth error code).
    #[error("the provider refused the code: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    CodeRejected {
        /// OAuth error code, e.g. `invalid_grant`.
        error: String,
        /// The provider's explanation, if any.
        description: Option<String>,
    },
    /// The ID token was refused.
    #[error("{0}")]
    IdToken(#[from] IdTokenError),
}

/// Why an ID token was refused; the message names the failed check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    /// Not a JWT of the expected shape.
    #[error("malformed: {0}")]
    Malformed(String),
    /// No key of the provider's key set matches the token's `kid` (even after refetching).
    #[error("signature: no key of the provider matches the token's key id")]
    UnknownKey,
    /// The signature is wrong, or the algorithm is not accepted.
    #[error("signature: {0}")]
    Signature(String),
    /// `iss` is not the provider's issuer.
    #[error("issuer: `{0}` is not this provider's issuer")]
    Issuer(String),
    /// `aud` / `azp` do not name an accepted client.
    #[error("audience: {0}")]
    Audience(String),
    /// `exp` has passed.
    #[error("expired: {0}")]
    Expired(String),
    /// `iat` is in the future or too long ago.
    #[error("issued at: {0}")]
    IssuedAt(String),
    /// `nonce` is missing or not the one this sign-in issued.
    #[error("nonce: {0}")]
    Nonce(String),
    /// Anything else the library refused.
    #[error("{0}")]
    Other(String),
}

/// What a verified ID token says about the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The provider's issuer, as configured and as the token names it.
    pub issuer: String,
    /// The provider's stable id of the person.
    pub subject: String,
    /// The e-mail claim, lower-cased and trimmed, when present.
    pub email: Option<String>,
    /// `email_verified` (also accepted as the string "true", as Apple sends it).
    pub email_verified: bool,
}

/// What to accept when checking an ID token.
pub struct Policy<'a> {
    /// Accepted `iss` values.
    pub issuers: &'a [String],
    /// Accepted client ids in `aud` and `azp`.
    pub audiences: &'a [String],
    /// The nonce this sign-in issued.
    pub nonce: &'a str,
    /// The time to check `exp` and `iat` against.
    pub now: DateTime<Utc>,
}

/// Checks an ID token against a key set and the policy: signature (asymmetric algorithms only),
/// issuer, audience and authorized party, expiry, issue time and nonce. Pure, so every rule is
/// unit-tested.
///
/// Audience rules: `aud` must be non-empty and every value must be an accepted client id (an
/// unknown extra audience could be a party that replays the token here); with several audiences
/// `azp` is required; when present, `azp` must be an accepted client id too (Google's native
/// tokens carry the web client id in `aud` and the Android client id in `azp`).
pub fn verify_id_token(
    token: &CoreIdToken,
    jwks: &CoreJsonWebKeySet,
    client_id: &str,
    policy: &Policy<'_>,
) -> Result<VerifiedIdentity, IdTokenError> {
    let issuer = policy
        .issuers
        .first()
        .ok_or_else(|| IdTokenError::Other("no issuer configured".into()))?;
    let issuer_url =
        IssuerUrl::new(issuer.clone()).map_err(|e| IdTokenError::Other(e.to_string()))?;
    let now = policy.now;
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(client_id.to_owned()),
        issuer_url,
        jwks.clone(),
    )
    // Issuer and audience are checked below, after the signature, with this relay's rules
    // (Google's second issuer spelling, the native apps' audiences, azp).
    .require_issuer_match(false)
    .require_audience_match(false)
    .set_allowed_algs(ALGS)
    .set_time_fn(move || now)
    .set_issue_time_verifier_fn(move |iat| {
        if iat > now + IAT_SKEW {
            Err(format!("issued in the future ({iat})"))
        } else if iat < now - IAT_MAX_AGE {
            Err(format!(
                "issued {} s ago, before this sign-in began",
                (now - iat).num_seconds()
            ))
        } else {
            Ok(())
        }
    });
    let expected = policy.nonce;
    let nonce_check = |nonce: Option<&Nonce>| match nonce {
        Some(n) if bool::from(n.secret().as_bytes().ct_eq(expected.as_bytes())) => Ok(()),
        Some(_) => Err("not the nonce issued for this sign-in".to_owned()),
        None => Err("the token carries no nonce".to_owned()),
    };
    let claims: &CoreIdTokenClaims = token.claims(&verifier, nonce_check).map_err(|e| match e {
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => IdTokenError::UnknownKey,
        ClaimsVerificationError::SignatureVerification(e) => IdTokenError::Signature(e.to_string()),
        // The library reports a bad `iat` as "expired" too; tell them apart by our own messages.
        ClaimsVerificationError::Expired(m) if m.starts_with("issued") => IdTokenError::IssuedAt(m),
        ClaimsVerificationError::Expired(m) => IdTokenError::Expired(m),
        ClaimsVerificationError::InvalidNonce(m) => IdTokenError::Nonce(m),
        ClaimsVerificationError::InvalidIssuer(m) => IdTokenError::Issuer(m),
        ClaimsVerificationError::InvalidAudience(m) => IdTokenError::Audience(m),
        other => IdTokenError::Other(other.to_string()),
    })?;
    let iss = claims.issuer().as_str();
    if !policy.issuers.iter().any(|i| i == iss) {
        return Err(IdTokenError::Issuer(iss.to_owned()));
    }
    let accepted = |a: &str| policy.audiences.iter().any(|x| x == a);
    let auds: Vec<&str> = claims.audiences().iter().map(|a| a.as_str()).collect();
    if auds.is_empty() {
        return Err(IdTokenError::Audience("the token names no audience".into()));
    }
    if let Some(stranger) = auds.iter().find(|a| !accepted(a)) {
        return Err(IdTokenError::Audience(format!(
            "`{stranger}` is not a client this relay accepts tokens for"
        )));
    }
    match claims.authorized_party() {
        Some(azp) if !accepted(azp.as_str()) => {
            return Err(IdTokenError::Audience(format!(
                "authorized party `{}` is not a client this relay accepts tokens for",
                azp.as_str()
            )));
        }
        None if auds.len() > 1 => {
            return Err(IdTokenError::Audience(
                "several audiences but no authorized party (azp)".into(),
            ));
        }
        _ => {}
    }
    Ok(VerifiedIdentity {
        issuer: iss.to_owned(),
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().trim().to_lowercase()),
        email_verified: claims.email_verified().unwrap_or(false),
    })
}

/// A discovered provider: its metadata and current key set.
struct Discovered {
    metadata: CoreProviderMetadata,
    at: Instant,
    jwks: std::sync::RwLock<Keys>,
    refetch: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Keys {
    set: CoreJsonWebKeySet,
    fetched_at: Instant,
    generation: u64,
}

/// One configured provider and its cached discovery.
pub struct Provider {
    /// The operator's configuration.
    pub config: ProviderConfig,
    http: reqwest::Client,
    jwks_refetch_interval: Duration,
    discovered: tokio::sync::Mutex<Option<Arc<Discovered>>>,
}

impl Provider {
    /// A provider that discovers itself on first use. `http` must not follow redirects.
    pub fn new(
        config: ProviderConfig,
        http: reqwest::Client,
        jwks_refetch_interval: Duration,
    ) -> Self {
        Self {
            config,
            http,
            jwks_refetch_interval,
            discovered: tokio::sync::Mutex::new(None),
        }
    }

    /// The discovery document and keys, fetched on first use and after [`DISCOVERY_TTL`].
    /// Concurrent first uses wait for one fetch.
    async fn discovered(&self) -> Result<Arc<Discovered>, OidcError> {
        let mut slot = self.discovered.lock().await;
        if let Some(d) = slot.as_ref().filter(|d| d.at.elapsed() < DISCOVERY_TTL) {
            return Ok(d.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| OidcError::Unavailable(format!("issuer URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                OidcError::Unavailable(format!(
                    "discovery at {} failed: {}",
                    self.config.issuer,
                    discovery_error(&e)
                ))
            })?;
        self.check_endpoint(
            "authorization_endpoint",
            metadata.authorization_endpoint().url(),
        )?;
        self.check_endpoint("jwks_uri", metadata.jwks_uri().url())?;
        match metadata.token_endpoint() {
            Some(t) => self.check_endpoint("token_endpoint", t.url())?,
            None => {
                return Err(OidcError::Unavailable(
                    "the provider's discovery document names no token_endpoint".into(),
                ));
            }
        }
        tracing::info!(provider = %self.config.id, issuer = %self.config.issuer, "OIDC provider discovered");
        let keys = Keys {
            set: metadata.jwks().clone(),
            fetched_at: Instant::now(),
            generation: 0,
        };
        let d = Arc::new(Discovered {
            metadata,
            at: Instant::now(),
            jwks: std::sync::RwLock::new(keys),
            refetch: tokio::sync::Mutex::new(()),
        });
        *slot = Some(d.clone());
        Ok(d)
    }

    /// Endpoints named by discovery must be https, or plain http on loopback when the issuer is
    /// itself a loopback http URL (tests); anything else could aim the relay at internal hosts.
    fn check_endpoint(&self, what: &str, url: &reqwest::Url) -> Result<(), OidcError> {
        let issuer_is_loopback_http = reqwest::Url::parse(&self.config.issuer)
            .is_ok_and(|u| u.scheme() == "http" && is_loopback_host(&u));
        let ok = url.scheme() == "https"
            || (url.scheme() == "http" && issuer_is_loopback_http && is_loopback_host(url));
        if ok {
            Ok(())
        } else {
            Err(OidcError::Unavailable(format!(
                "the provider's {what} is not https; refused"
            )))
        }
    }

    /// The authorization endpoint (discovering the provider if needed).
    pub async fn authorization_endpoint(&self) -> Result<reqwest::Url, OidcError> {
        Ok(self
            .discovered()
            .await?
            .metadata
            .authorization_endpoint()
            .url()
            .clone())
    }

    /// Exchanges an authorization code (with the app's PKCE verifier and the redirect URI of its
    /// start) for the ID token.
    pub async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<CoreIdToken, OidcError> {
        let d = self.discovered().await?;
        let secret = self
            .config
            .secret
            .current(&self.config.client_id, Utc::now().timestamp())
            .map(openidconnect::ClientSecret::new);
        // client_secret_basic unless the provider only takes client_secret_post (Apple).
        let methods = d.metadata.token_endpoint_auth_methods_supported();
        let post_only = methods.is_some_and(|m| {
            m.contains(&CoreClientAuthMethod::ClientSecretPost)
                && !m.contains(&CoreClientAuthMethod::ClientSecretBasic)
        });
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| OidcError::Unavailable(format!("redirect URI: {e}")))?;
        let client = CoreClient::from_provider_metadata(
            d.metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            secret,
        )
        .set_redirect_uri(redirect)
        .set_auth_type(if post_only {
            AuthType::RequestBody
        } else {
            AuthType::BasicAuth
        });
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Unavailable(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        let response = request.request_async(&self.http).await.map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => {
                let error = r.error().as_ref().to_owned();
                if matches!(
                    r.error(),
                    CoreErrorResponseType::Extension(x) if x == "server_error" || x == "temporarily_unavailable"
                ) {
                    OidcError::Unavailable(format!("the token endpoint answered {error}"))
                } else {
                    OidcError::CodeRejected {
                        error,
                        description: r.error_description().cloned(),
                    }
                }
            }
            RequestTokenError::Request(e) => {
                OidcError::Unavailable(format!("token endpoint unreachable: {e}"))
            }
            RequestTokenError::Parse(e, _) => OidcError::Unavailable(format!(
                "the token endpoint's answer is not a token response: {e}"
            )),
            RequestTokenError::Other(m) => OidcError::Unavailable(format!("token endpoint: {m}")),
        })?;
        response.id_token().cloned().ok_or_else(|| {
            OidcError::IdToken(IdTokenError::Malformed(
                "the token endpoint returned no id_token".into(),
            ))
        })
    }

    /// Checks an ID token of this provider. A token naming a key the cached set lacks makes the
    /// relay refetch the key set (the provider rotated keys), at most once per refetch interval.
    pub async fn verify(
        &self,
        token: &CoreIdToken,
        nonce: &str,
        audiences: &[String],
    ) -> Result<VerifiedIdentity, OidcError> {
        let d = self.discovered().await?;
        let issuers = self.config.accepted_issuers();
        let check = |keys: &Keys| {
            verify_id_token(
                token,
                &keys.set,
                &self.config.client_id,
                &Policy {
                    issuers: &issuers,
                    audiences,
                    nonce,
                    now: Utc::now(),
                },
            )
        };
        let keys = d.keys();
        match check(&keys) {
            Err(IdTokenError::UnknownKey) => {}
            other => return other.map_err(OidcError::from),
        }
        let _one_at_a_time = d.refetch.lock().await;
        let current = d.keys();
        if current.generation == keys.generation {
            if current.fetched_at.elapsed() < self.jwks_refetch_interval {
                tracing::warn!(provider = %self.config.id, "ID token names an unknown key; key set fetched recently, not refetched");
                return Err(IdTokenError::UnknownKey.into());
            }
            let set = CoreJsonWebKeySet::fetch_async(d.metadata.jwks_uri(), &self.http)
                .await
                .map_err(|e| {
                    OidcError::Unavailable(format!(
                        "fetching the provider's keys failed: {}",
                        discovery_error(&e)
                    ))
                })?;
            tracing::info!(provider = %self.config.id, "ID token named an unknown key; provider keys refetched");
            let fresh = Keys {
                set,
                fetched_at: Instant::now(),
                generation: current.generation + 1,
            };
            *d.jwks
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        }
        check(&d.keys()).map_err(OidcError::from)
    }
}

impl Discovered {
    fn keys(&self) -> Keys {
        self.jwks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

fn discovery_error<E: std::error::Error>(e: &DiscoveryError<E>) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// The HTTP client for providers: no redirects followed, bounded time.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .user_agent(concat!("tacho-relay/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::DecodePrivateKey as _;
    use serde_json::{Value, json};
    use std::str::FromStr as _;

    const ISS: &str = "https://idp.example.org";
    const NONCE: &str = "n-0123456789";

    fn key() -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_pkcs8_pem(crate::config::oidc::tests::TEST_P8).unwrap()
    }

    fn jwks(kid: &str) -> CoreJsonWebKeySet {
        let point = key().verifying_key().to_sec1_point(false);
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        });
        serde_json::from_value(json!({"keys": [jwk]})).unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn claims() -> Value {
        json!({
            "iss": ISS, "sub": "user-1", "aud": "web", "nonce": NONCE,
            "iat": now().timestamp() - 10, "exp": now().timestamp() + 600,
            "email": "Ada@Example.org", "email_verified": "true",
        })
    }

    fn sign(header: Value, claims: &Value) -> CoreIdToken {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig: p256::ecdsa::Signature = key().sign(input.as_bytes());
        CoreIdToken::from_str(&format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(sig.to_bytes())
        ))
        .unwrap()
    }

    fn token(claims: &Value) -> CoreIdToken {
        sign(json!({"alg": "ES256", "kid": "k1", "typ": "JWT"}), claims)
    }

    fn check(token: &CoreIdToken, audiences: &[&str]) -> Result<VerifiedIdentity, IdTokenError> {
        let issuers = vec![ISS.to_owned()];
        let audiences: Vec<String> = audiences.iter().map(|s| (*s).to_owned()).collect();
        verify_id_token(
            token,
            &jwks("k1"),
            "web",
            &Policy {
                issuers: &issuers,
                audiences: &audiences,
                nonce: NONCE,
                now: now(),
            },
        )
    }

    fn with(changes: Value) -> Value {
        let mut c = claims();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    #[test]
    fn a_good_token_passes_with_its_claims() {
        let id = check(&token(&claims()), &["web"]).unwrap();
        assert_eq!(
            id,
            VerifiedIdentity {
                issuer: ISS.into(),
                subject: "user-1".into(),
                email: Some("ada@example.org".into()),
                email_verified: true,
            }
        );
    }

    #[test]
    fn each_check_refuses_with_its_own_reason() {
        let err = |c: Value, auds: &[&str]| check(&token(&c), auds).unwrap_err();
        assert!(matches!(
            err(with(json!({"iss": "https://evil.example.org"})), &["web"]),
            IdTokenError::Issuer(_)
        ));
        assert!(matches!(
            err(with(json!({"aud": "other"})), &["web"]),
            IdTokenError::Audience(_)
        ));
        // A second, unknown audience is refused even next to ours.
        assert!(matches!(
            err(
                with(json!({"aud": ["web", "other"], "azp": "web"})),
                &["web"]
            ),
            IdTokenError::Audience(_)
        ));
        // Several audiences need azp.
        assert!(matches!(
            err(with(json!({"aud": ["web", "ios"]})), &["web", "ios"]),
            IdTokenError::Audience(_)
        ));
        assert!(
            check(
                &token(&with(json!({"aud": ["web", "ios"], "azp": "ios"}))),
                &["web", "ios"]
            )
            .is_ok()
        );
        // azp must be accepted too (Google: aud = web client, azp = Android client).
        assert!(matches!(
            err(with(json!({"azp": "android"})), &["web"]),
            IdTokenError::Audience(_)
        ));
        assert!(
            check(
                &token(&with(json!({"azp": "android"}))),
                &["web", "android"]
            )
            .is_ok()
        );
        // Native app tokens: aud is the app's own client id, accepted only when configured.
        assert!(matches!(
            err(with(json!({"aud": "ios"})), &["web"]),
            IdTokenError::Audience(_)
        ));
        assert!(check(&token(&with(json!({"aud": "ios"}))), &["web", "ios"]).is_ok());
        assert!(matches!(
            err(with(json!({"exp": now().timestamp()})), &["web"]),
            IdTokenError::Expired(_)
        ));
        assert!(matches!(
            err(with(json!({"iat": now().timestamp() + 600})), &["web"]),
            IdTokenError::IssuedAt(_)
        ));
        assert!(matches!(
            err(with(json!({"iat": now().timestamp() - 3600})), &["web"]),
            IdTokenError::IssuedAt(_)
        ));
        assert!(matches!(
            err(with(json!({"nonce": "n-other"})), &["web"]),
            IdTokenError::Nonce(_)
        ));
        assert!(matches!(
            err(with(json!({"nonce": null})), &["web"]),
            IdTokenError::Nonce(_)
        ));
    }

    #[test]
    fn signatures_keys_and_algorithms() {
        // Unknown key id: the caller may refetch the key set.
        let t = sign(json!({"alg": "ES256", "kid": "k2"}), &claims());
        assert_eq!(check(&t, &["web"]).unwrap_err(), IdTokenError::UnknownKey);
        // A tampered payload fails the signature.
        let good = token(&claims()).to_string();
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(with(json!({"sub": "user-2"})).to_string());
        let forged = CoreIdToken::from_str(&parts.join(".")).unwrap();
        assert!(matches!(
            check(&forged, &["web"]).unwrap_err(),
            IdTokenError::Signature(_)
        ));
        // HS256 (keyed with a client secret) and `none` are never accepted.
        for alg in ["HS256", "none"] {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "k1"}).to_string()),
                URL_SAFE_NO_PAD.encode(claims().to_string())
            );
            // Both parse; the library refuses HMAC without a client secret and `none` on its
            // own, so ALGS is a second layer here.
            let t = CoreIdToken::from_str(&format!("{input}.AAAA"))
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
            let err = check(&t, &["web"]).unwrap_err();
            assert!(matches!(err, IdTokenError::Signature(_)), "{alg}: {err:?}");
        }
    }

    /// The providers' client answers a redirect with the redirect itself, never following it.
    #[tokio::test]
    async fn the_provider_client_follows_no_redirect() {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let server = std::thread::spawn(move || {
            let mut served = 0;
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        let mut buf = [0_u8; 1024];
                        let _ = s.read(&mut buf);
                        served += 1;
                        let _ = s.write_all(
                            b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n\
                              Content-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            served
        });
        let res = http_client()
            .unwrap()
            .get(format!("http://{addr}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::FOUND);
        assert_eq!(server.join().unwrap(), 1, "the redirect was not followed");
    }

    #[test]
    fn an_issuer_that_is_no_url_does_not_even_parse() {
        // Google's scheme-less issuer spelling: the token is refused before any check.
        let input = format!(
            "{}.{}.AAAA",
            URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": "k1"}).to_string()),
            URL_SAFE_NO_PAD.encode(with(json!({"iss": "accounts.google.com"})).to_string())
        );
        assert!(CoreIdToken::from_str(&input).is_err());
    }
}
