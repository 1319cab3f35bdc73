//! Operator configuration of OpenID providers: a JSON file named by `--oidc-config` /
//! `TACHO_OIDC_CONFIG` (format in docs/oidc.md). Everything is checked when the relay starts, so a
//! typo stops the start with the field named instead of failing people's sign-ins later; secrets
//! (an environment variable, Apple's private key file) are read then too.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::DecodePrivateKey as _;
use serde::Deserialize;

/// Google's issuer, preset for `kind: google`.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// Apple's issuer, preset for `kind: apple`; also the audience of Apple's client-secret JWT.
pub const APPLE_ISSUER: &str = "https://appleid.apple.com";
/// Lifetime of the client-secret JWT the relay signs for each Apple token request (Apple allows up
/// to six months; a short one is worthless to whoever might capture it).
pub const APPLE_SECRET_TTL_S: i64 = 300;

pub use tacho_model::api::ProviderKind;

/// The file as written: `{"providers": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcFile {
    providers: Vec<ProviderEntry>,
}

/// One provider as written in the file (see docs/oidc.md for every field).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderEntry {
    id: String,
    kind: ProviderKind,
    #[serde(default)]
    issuer: Option<String>,
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    apple: Option<AppleEntry>,
    redirect_uris: Vec<String>,
    #[serde(default)]
    extra_audiences: Vec<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    allowed_domains: Vec<String>,
    #[serde(default)]
    response_mode: Option<String>,
}

/// Apple's key for the client-secret JWT, as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppleEntry {
    team_id: String,
    key_id: String,
    private_key_file: PathBuf,
}

/// How the relay authenticates to a provider's token endpoint.
#[derive(Clone)]
pub enum ClientSecret {
    /// No secret: the relay exchanges codes as a public client (PKCE still binds the code).
    None,
    /// A fixed secret (from the file or an environment variable).
    Static(String),
    /// Apple: a short-lived ES256 JWT signed for each request.
    Apple(Arc<AppleKey>),
}

impl ClientSecret {
    /// The secret to send now, if any (`now_s`: Unix seconds, for Apple's JWT).
    pub fn current(&self, client_id: &str, now_s: i64) -> Option<String> {
        match self {
            Self::None => None,
            Self::Static(s) => Some(s.clone()),
            Self::Apple(key) => Some(key.client_secret(client_id, now_s)),
        }
    }
}

impl fmt::Debug for ClientSecret {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Static(_) => f.write_str("Static(<redacted>)"),
            Self::Apple(key) => write!(f, "Apple(team {}, key {})", key.team_id, key.key_id),
        }
    }
}

/// Apple's signing key for the client-secret JWT (`AuthKey_<key id>.p8`, a PKCS#8 P-256 key).
pub struct AppleKey {
    /// The Apple developer team id (the JWT's `iss`).
    pub team_id: String,
    /// The key's id (the JWT header's `kid`).
    pub key_id: String,
    key: p256::ecdsa::SigningKey,
}

impl AppleKey {
    /// Reads a `.p8` key (PKCS#8 PEM).
    pub fn from_pem(team_id: &str, key_id: &str, pem: &str) -> Result<Self, String> {
        let key = p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| format!("not a PKCS#8 P-256 private key (an Apple .p8 file): {e}"))?;
        Ok(Self {
            team_id: team_id.to_owned(),
            key_id: key_id.to_owned(),
            key,
        })
    }

    /// The client secret Apple's token endpoint wants: an ES256 JWT with `iss` = team id,
    /// `sub` = client id, `aud` = `https://appleid.apple.com`, valid for [`APPLE_SECRET_TTL_S`].
    pub fn client_secret(&self, client_id: &str, now_s: i64) -> String {
        let header = serde_json::json!({"alg": "ES256", "kid": self.key_id, "typ": "JWT"});
        let claims = serde_json::json!({
            "iss": self.team_id,
            "iat": now_s,
            "exp": now_s + APPLE_SECRET_TTL_S,
            "aud": APPLE_ISSUER,
            "sub": client_id,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: p256::ecdsa::Signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    /// The public half, to check signatures in tests.
    pub fn verifying_key(&self) -> p256::ecdsa::VerifyingKey {
        *self.key.verifying_key()
    }
}

/// One checked provider, ready to use.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The URL-safe slug in the routes (`/v1/auth/oidc/{id}/…`).
    pub id: String,
    /// Google, Apple or generic.
    pub kind: ProviderKind,
    /// The issuer, exactly as its discovery document and ID tokens spell it.
    pub issuer: String,
    /// The relay's client id at the provider.
    pub client_id: String,
    /// How the relay authenticates at the token endpoint.
    pub secret: ClientSecret,
    /// Redirect URIs apps may use (exact match; loopback IP literals may change the port).
    pub redirect_uris: Vec<String>,
    /// Client ids of the native apps whose ID tokens the exchange accepts besides `client_id`.
    pub extra_audiences: Vec<String>,
    /// Scopes asked for (always with `openid`).
    pub scopes: Vec<String>,
    /// When not empty, new accounts and links through this provider need a verified e-mail in
    /// one of these domains.
    pub allowed_domains: Vec<String>,
    /// `response_mode` to ask for (`form_post` for Apple), or none (the provider's default).
    pub response_mode: Option<String>,
}

impl ProviderConfig {
    /// Issuers an ID token of this provider may name: the configured one. (Google documents a
    /// scheme-less `accounts.google.com` too, which only very old SDKs sent; the OpenID library
    /// can't parse such a token at all, so it is refused as malformed.)
    pub fn accepted_issuers(&self) -> Vec<String> {
        vec![self.issuer.clone()]
    }
}

/// Why the OIDC configuration was refused at start. The causes are part of the message and
/// deliberately not `source()`s, so an error chain prints them once.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("OIDC config {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape (serde names the field, line and column).
    #[error("OIDC config: {0}")]
    Json(serde_json::Error),
    /// A value is refused.
    #[error("OIDC config: providers[{index}] ({id}): `{field}`: {why}")]
    Invalid {
        /// Position in `providers`.
        index: usize,
        /// The entry's id as written.
        id: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong and what would be right.
        why: String,
    },
}

/// Reads and checks the file at `path`: environment variables through `std::env`, Apple key files
/// relative to the file's directory.
pub fn load(path: &Path) -> Result<Vec<ProviderConfig>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
        path: path.to_owned(),
        cause,
    })?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    parse(&text, base, &|name| std::env::var(name).ok())
}

/// Checks a configuration text. `base` resolves relative key files; `env` reads variables.
pub fn parse(
    text: &str,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<ProviderConfig>, ConfigError> {
    let file: OidcFile = serde_json::from_str(text).map_err(ConfigError::Json)?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(file.providers.len());
    for (index, entry) in file.providers.into_iter().enumerate() {
        let id = entry.id.clone();
        let invalid = |field: &'static str, why: String| ConfigError::Invalid {
            index,
            id: id.clone(),
            field,
            why,
        };
        if !is_slug(&entry.id) {
            return Err(invalid(
                "id",
                "must be 1–32 of a-z, 0-9, '-' or '_', starting with a letter or digit (it is \
                 part of the routes)"
                    .into(),
            ));
        }
        if !seen.insert(entry.id.clone()) {
            return Err(invalid("id", "used by an earlier provider".into()));
        }
        let issuer = match (entry.kind, entry.issuer) {
            (ProviderKind::Google, None) => GOOGLE_ISSUER.to_owned(),
            (ProviderKind::Apple, None) => APPLE_ISSUER.to_owned(),
            (ProviderKind::Generic, Some(issuer)) => {
                check_issuer(&issuer).map_err(|why| invalid("issuer", why))?;
                issuer
            }
            (ProviderKind::Generic, None) => {
                return Err(invalid("issuer", "required for kind generic".into()));
            }
            (kind, Some(_)) => {
                return Err(invalid(
                    "issuer",
                    format!(
                        "kind {} presets its issuer; leave `issuer` out (or use kind generic)",
                        kind_name(kind)
                    ),
                ));
            }
        };
        if entry.client_id.trim().is_empty() || entry.client_id.trim() != entry.client_id {
            return Err(invalid(
                "client_id",
                "must be non-empty, without surrounding spaces".into(),
            ));
        }
        let given = [
            entry.client_secret.is_some(),
            entry.client_secret_env.is_some(),
            entry.apple.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given > 1 {
            return Err(invalid(
                "client_secret",
                "give at most one of `client_secret`, `client_secret_env` and `apple`".into(),
            ));
        }
        let secret = if let Some(s) = entry.client_secret {
            if s.is_empty() {
                return Err(invalid("client_secret", "is empty".into()));
            }
            ClientSecret::Static(s)
        } else if let Some(var) = entry.client_secret_env {
            match env(&var) {
                Some(s) if !s.is_empty() => ClientSecret::Static(s),
                _ => {
                    return Err(invalid(
                        "client_secret_env",
                        format!("the environment variable {var} is not set or empty"),
                    ));
                }
            }
        } else if let Some(apple) = entry.apple {
            if entry.kind != ProviderKind::Apple {
                return Err(invalid("apple", "only for kind apple".into()));
            }
            if apple.team_id.trim().is_empty() || apple.key_id.trim().is_empty() {
                return Err(invalid(
                    "apple",
                    "`team_id` and `key_id` must not be empty".into(),
                ));
            }
            let path = base.join(&apple.private_key_file);
            let pem = std::fs::read_to_string(&path).map_err(|e| {
                invalid("apple", format!("private_key_file {}: {e}", path.display()))
            })?;
            let key = AppleKey::from_pem(&apple.team_id, &apple.key_id, &pem).map_err(|e| {
                invalid("apple", format!("private_key_file {}: {e}", path.display()))
            })?;
            ClientSecret::Apple(Arc::new(key))
        } else {
            ClientSecret::None
        };
        if entry.redirect_uris.is_empty() {
            return Err(invalid(
                "redirect_uris",
                "list at least one redirect URI the apps use".into(),
            ));
        }
        for uri in &entry.redirect_uris {
            check_redirect_uri(uri).map_err(|why| invalid("redirect_uris", why))?;
        }
        if entry
            .extra_audiences
            .iter()
            .any(|a| a.trim().is_empty() || a.trim() != a)
        {
            return Err(invalid(
                "extra_audiences",
                "client ids must be non-empty, without surrounding spaces".into(),
            ));
        }
        let scopes = entry.scopes.unwrap_or_else(|| match entry.kind {
            // Apple knows `name` and `email`; `profile` is not one of its scopes.
            ProviderKind::Apple => vec!["openid".into(), "email".into()],
            _ => vec!["openid".into(), "email".into(), "profile".into()],
        });
        if !scopes.iter().any(|s| s == "openid") {
            return Err(invalid("scopes", "must include `openid`".into()));
        }
        if scopes
            .iter()
            .any(|s| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == '"'))
        {
            return Err(invalid(
                "scopes",
                "each scope is one word (no spaces or quotes)".into(),
            ));
        }
        let mut allowed_domains = Vec::new();
        for d in &entry.allowed_domains {
            let d = d.trim().to_lowercase();
            if d.is_empty() || d.contains('@') || d.chars().any(char::is_whitespace) {
                return Err(invalid(
                    "allowed_domains",
                    format!("`{d}` is not a domain (write `example.org`, without `@`)"),
                ));
            }
            allowed_domains.push(d);
        }
        let response_mode = match entry.response_mode.as_deref() {
            None if entry.kind == ProviderKind::Apple => Some("form_post".to_owned()),
            None => None,
            Some(m @ ("query" | "form_post")) => Some(m.to_owned()),
            Some(other) => {
                return Err(invalid(
                    "response_mode",
                    format!("`{other}` is not supported (use `query` or `form_post`)"),
                ));
            }
        };
        out.push(ProviderConfig {
            id: entry.id,
            kind: entry.kind,
            issuer,
            client_id: entry.client_id,
            secret,
            redirect_uris: entry.redirect_uris,
            extra_audiences: entry.extra_audiences,
            scopes,
            allowed_domains,
            response_mode,
        });
    }
    Ok(out)
}

fn kind_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Google => "google",
        ProviderKind::Apple => "apple",
        ProviderKind::Generic => "generic",
    }
}

/// A route-safe provider id: 1–32 of `a-z0-9-_`, starting with a letter or digit.
pub fn is_slug(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Whether a URL's host is a loopback name or address (plain HTTP is allowed only there): the
/// connectors' rule, one home for both.
pub use tacho_integrations::http::is_loopback_host;

fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(issuer).map_err(|e| format!("not a URL: {e}"))?;
    let secure = url.scheme() == "https" || (url.scheme() == "http" && is_loopback_host(&url));
    if !secure {
        return Err("must be https:// (plain http only on a loopback address, for tests)".into());
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err("must have no query, fragment or user name".into());
    }
    Ok(())
}

fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(uri).map_err(|e| format!("`{uri}` is not a URL: {e}"))?;
    if url.fragment().is_some() {
        return Err(format!("`{uri}` has a fragment"));
    }
    if url.as_str() != uri {
        return Err(format!(
            "`{uri}` is not in canonical form; write `{}` (apps must send exactly this)",
            url.as_str()
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A throwaway P-256 key in PKCS#8 PEM, the format of Apple's `.p8` files.
    pub(crate) const TEST_P8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/ZGUVtFKLxQYBP2a
L4z4iRKxhiSj8SWyW0tB1YDmZB+hRANCAASHXwnTjyQZT2/MtJuKgY71EgN22Qr2
qFwo1pC19UbRCykmQ4WLMJvJSx22yLuU+CxiYinJqHCDqsazYpP1HqU0
-----END PRIVATE KEY-----
";

    fn env(name: &str) -> Option<String> {
        (name == "SECRET").then(|| "s3cret".to_owned())
    }

    fn parse_str(text: &str) -> Result<Vec<ProviderConfig>, ConfigError> {
        parse(text, Path::new("."), &env)
    }

    fn err(text: &str) -> String {
        parse_str(text).unwrap_err().to_string()
    }

    #[test]
    fn presets_defaults_and_secrets() {
        let providers = parse_str(
            r#"{"providers": [
                {"id": "google", "kind": "google", "client_id": "web.apps.googleusercontent.com",
                 "client_secret_env": "SECRET", "redirect_uris": ["http://127.0.0.1/callback"],
                 "extra_audiences": ["android.apps.googleusercontent.com"]},
                {"id": "sso", "kind": "generic", "issuer": "https://sso.example.org/realms/x",
                 "client_id": "tacho", "client_secret": "abc", "scopes": ["openid", "email"],
                 "redirect_uris": ["org.example.tacho:/oidc"], "allowed_domains": [" Example.ORG "]}
            ]}"#,
        )
        .unwrap();
        assert_eq!(providers[0].issuer, GOOGLE_ISSUER);
        assert_eq!(providers[0].scopes, ["openid", "email", "profile"]);
        assert!(matches!(&providers[0].secret, ClientSecret::Static(s) if s == "s3cret"));
        assert_eq!(providers[0].accepted_issuers(), [GOOGLE_ISSUER]);
        assert_eq!(providers[1].allowed_domains, ["example.org"]);
        assert_eq!(providers[1].response_mode, None);
        // Debug output never shows a secret.
        assert!(!format!("{providers:?}").contains("s3cret"));
        assert!(!format!("{providers:?}").contains("abc"));
    }

    #[test]
    fn errors_name_the_field() {
        let e = err(
            r#"{"providers": [{"id": "x", "kind": "generic", "client_id": "c",
                "redirect_uris": ["a:/b"], "clientsecret": "typo"}]}"#,
        );
        assert!(e.contains("unknown field `clientsecret`"), "{e}");
        let typo = parse_str(r#"{"providers": [], "extra": 1}"#).unwrap_err();
        assert!(
            std::error::Error::source(&typo).is_none(),
            "printed once in a chain"
        );
        let e = err(
            r#"{"providers": [{"id": "x", "kind": "generic", "client_id": "c",
                "redirect_uris": ["a:/b"]}]}"#,
        );
        assert!(e.contains("`issuer`: required for kind generic"), "{e}");
        let e = err(
            r#"{"providers": [{"id": "Bad Id", "kind": "google", "client_id": "c",
                "redirect_uris": ["a:/b"]}]}"#,
        );
        assert!(e.contains("`id`"), "{e}");
        let e = err(
            r#"{"providers": [{"id": "g", "kind": "google", "client_id": "c",
                "client_secret_env": "MISSING", "redirect_uris": ["a:/b"]}]}"#,
        );
        assert!(
            e.contains("`client_secret_env`") && e.contains("MISSING"),
            "{e}"
        );
        let e = err(
            r#"{"providers": [{"id": "g", "kind": "generic", "client_id": "c",
                "issuer": "http://idp.example.org", "redirect_uris": ["a:/b"]}]}"#,
        );
        assert!(e.contains("`issuer`: must be https://"), "{e}");
        let e = err(
            r#"{"providers": [{"id": "g", "kind": "google", "client_id": "c",
                "redirect_uris": ["https://app.example.org"]}]}"#,
        );
        assert!(
            e.contains("`redirect_uris`") && e.contains("https://app.example.org/"),
            "{e}"
        );
        let e = err(
            r#"{"providers": [{"id": "g", "kind": "google", "client_id": "c",
                "scopes": ["email"], "redirect_uris": ["a:/b"]}]}"#,
        );
        assert!(e.contains("`scopes`: must include `openid`"), "{e}");
        let e = err(r#"{"providers": [
                {"id": "g", "kind": "google", "client_id": "c", "redirect_uris": ["a:/b"]},
                {"id": "g", "kind": "google", "client_id": "d", "redirect_uris": ["a:/b"]}]}"#);
        assert!(
            e.contains("providers[1] (g): `id`: used by an earlier"),
            "{e}"
        );
        let e = err(
            r#"{"providers": [{"id": "g", "kind": "google", "client_id": "c",
                "client_secret": "a", "client_secret_env": "SECRET", "redirect_uris": ["a:/b"]}]}"#,
        );
        assert!(e.contains("at most one"), "{e}");
    }

    #[test]
    fn apple_signs_an_es256_client_secret() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("AuthKey_K1.p8"), TEST_P8).unwrap();
        let providers = parse(
            r#"{"providers": [{"id": "apple", "kind": "apple", "client_id": "org.example.signin",
                "apple": {"team_id": "TEAM123456", "key_id": "K1", "private_key_file": "AuthKey_K1.p8"},
                "redirect_uris": ["https://tacho.example.org/oidc/apple"],
                "extra_audiences": ["org.example.tacho"]}]}"#,
            dir.path(),
            &env,
        )
        .unwrap();
        let apple = &providers[0];
        assert_eq!(apple.issuer, APPLE_ISSUER);
        assert_eq!(apple.scopes, ["openid", "email"]);
        assert_eq!(apple.response_mode.as_deref(), Some("form_post"));
        let ClientSecret::Apple(key) = &apple.secret else {
            panic!("apple key expected");
        };
        let jwt = apple
            .secret
            .current("org.example.signin", 1_700_000_000)
            .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "K1");
        assert_eq!(claims["iss"], "TEAM123456");
        assert_eq!(claims["sub"], "org.example.signin");
        assert_eq!(claims["aud"], APPLE_ISSUER);
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_000_000 + APPLE_SECRET_TTL_S);
        let sig_bytes = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        assert_eq!(sig_bytes.len(), 64, "JWS ES256 is r||s, not DER");
        let sig = p256::ecdsa::Signature::from_slice(&sig_bytes).unwrap();
        use p256::ecdsa::signature::Verifier as _;
        let signed = format!("{}.{}", parts[0], parts[1]);
        key.verifying_key().verify(signed.as_bytes(), &sig).unwrap();
        assert!(
            key.verifying_key()
                .verify(format!("{signed}x").as_bytes(), &sig)
                .is_err()
        );
        // A key file that is not a key is refused at start, naming the field.
        std::fs::write(dir.path().join("bad.p8"), "not a key").unwrap();
        let e = parse(
            r#"{"providers": [{"id": "apple", "kind": "apple", "client_id": "c",
                "apple": {"team_id": "T", "key_id": "K", "private_key_file": "bad.p8"},
                "redirect_uris": ["a:/b"]}]}"#,
            dir.path(),
            &env,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`apple`") && e.contains("PKCS#8"), "{e}");
    }
}
