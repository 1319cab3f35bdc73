//! OpenID Connect sign-in through the system browser (RFC 8252), client side. The relay is the
//! confidential client; this device keeps the PKCE verifier until the relay redeems the code, so
//! another app that intercepts the redirect can't finish the login (docs/oidc.md).
//!
//! Two layers, so the app bindings can reuse the HTTP part with their own redirect handling
//! (a custom scheme or claimed https link): [`Core::oidc_begin`] / [`Core::oidc_complete`], and
//! the loopback helper [`Core::oidc_loopback`] for desktops and the CLI, which listens on
//! `http://127.0.0.1:<random port>/callback` for the browser's redirect.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore as _;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use tacho_model::api::{FinishRequest, IdTokenRequest, NonceAnswer, StartAnswer, StartRequest};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::sync::{network, relay_answer, session_of, url};
use crate::{Core, CoreError, Result, SyncStatus};

/// Longest request head (request line and headers) the loopback listener reads.
const MAX_HEAD: usize = 16 * 1024;
/// Longest form body (`response_mode=form_post`) the loopback listener reads.
const MAX_BODY: usize = 64 * 1024;
/// Path of the loopback redirect URI; register `http://127.0.0.1/callback` at the relay.
pub const LOOPBACK_PATH: &str = "/callback";

/// A sign-in waiting for the browser. Serialisable, so an app can keep it while the browser is
/// in front; it holds the PKCE verifier, so keep it as private as a password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcPending {
    /// Relay base URL.
    pub relay_url: String,
    /// Provider id (from the relay's capabilities).
    pub provider: String,
    /// Where the browser comes back.
    pub redirect_uri: String,
    /// The `state` the redirect must carry.
    pub state: String,
    /// The PKCE verifier (its S256 challenge went to the relay).
    pub code_verifier: String,
    /// The page to open in the system browser.
    pub authorization_url: String,
    /// When the relay forgets this login.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for OidcPending {
    /// Leaves out the verifier.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcPending")
            .field("relay_url", &self.relay_url)
            .field("provider", &self.provider)
            .field("redirect_uri", &self.redirect_uri)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl OidcPending {
    /// The pending sign-in as one opaque string, for apps that must keep it across a browser
    /// round trip (or a process restart) in their own storage. It holds the PKCE verifier: keep
    /// it private and drop it once the sign-in finished.
    pub fn to_opaque(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| CoreError::bad_input(format!("can't keep the sign-in: {e}")))
    }

    /// Reads back what [`OidcPending::to_opaque`] made.
    pub fn from_opaque(opaque: &str) -> Result<Self> {
        serde_json::from_str(opaque).map_err(|_| {
            CoreError::bad_input("not a pending sign-in (pass back what oidc_begin returned)")
        })
    }
}

/// What the provider's redirect carried (query string, or form body for `form_post`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OidcCallback {
    /// The authorization code, on success.
    pub code: Option<String>,
    /// The state, echoed.
    pub state: Option<String>,
    /// The provider's error code (`access_denied`, …), on failure.
    pub error: Option<String>,
    /// The provider's explanation of `error`.
    pub error_description: Option<String>,
}

impl OidcCallback {
    /// Reads `code`, `state`, `error` and `error_description` from a query string or a form body
    /// (`a=b&c=d`, percent-encoded).
    pub fn from_query(query: &str) -> Self {
        let mut cb = Self::default();
        let Ok(u) = Url::parse(&format!("http://callback.invalid/?{query}")) else {
            return cb;
        };
        for (k, v) in u.query_pairs() {
            let v = Some(v.into_owned());
            match &*k {
                "code" => cb.code = v,
                "state" => cb.state = v,
                "error" => cb.error = v,
                "error_description" => cb.error_description = v,
                _ => {}
            }
        }
        cb
    }

    /// Reads the query of a full redirect URL.
    pub fn from_url(redirect: &str) -> Result<Self> {
        let u = Url::parse(redirect)
            .map_err(|e| CoreError::bad_input(format!("not a redirect URL: {e}")))?;
        Ok(Self::from_query(u.query().unwrap_or_default()))
    }
}

/// An expiry the relay sent (RFC 3339).
fn expiry(at: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(at)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| CoreError::Network {
            reason: format!("the relay sent a bad expiry `{at}`: {e}"),
        })
}

fn relay_base(relay_url: &str) -> Result<String> {
    let relay_url = relay_url.trim().trim_end_matches('/').to_owned();
    if !(relay_url.starts_with("http://") || relay_url.starts_with("https://")) {
        return Err(CoreError::bad_input(format!(
            "`{relay_url}` is not a relay URL (expected http:// or https://)"
        )));
    }
    Ok(relay_url)
}

/// A fresh PKCE pair: 32 random bytes as base64url (the verifier) and its S256 challenge.
pub fn pkce_pair() -> (String, String) {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

impl Core {
    /// Starts a sign-in with `provider` on `relay_url`: makes the PKCE pair and asks the relay
    /// for the authorization URL for `redirect_uri` (one the relay's operator registered).
    pub async fn oidc_begin(
        &self,
        relay_url: &str,
        provider: &str,
        redirect_uri: &str,
    ) -> Result<OidcPending> {
        let relay_url = relay_base(relay_url)?;
        let (verifier, challenge) = pkce_pair();
        let path = format!("/v1/auth/oidc/{}/start", encode_segment(provider));
        let resp = relay_answer(
            self.http()
                .post(url(&relay_url, &path))
                .json(&StartRequest {
                    redirect_uri: redirect_uri.to_owned(),
                    code_challenge: challenge,
                    code_challenge_method: "S256".to_owned(),
                }),
        )
        .await?;
        let body: StartAnswer = resp.json().await.map_err(network)?;
        let expires_at = expiry(&body.expires_at)?;
        Ok(OidcPending {
            relay_url,
            provider: provider.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            state: body.state,
            code_verifier: verifier,
            authorization_url: body.authorization_url,
            expires_at,
        })
    }

    /// Finishes a sign-in with what the browser's redirect carried: checks the state, sends code
    /// and verifier to the relay, and stores the session exactly like password login does.
    pub async fn oidc_complete(
        &self,
        pending: &OidcPending,
        callback: &OidcCallback,
    ) -> Result<SyncStatus> {
        if callback.state.as_deref() != Some(pending.state.as_str()) {
            return Err(CoreError::Auth {
                reason: "the browser came back with another sign-in's state; start again".into(),
            });
        }
        if let Some(error) = &callback.error {
            return Err(CoreError::Auth {
                reason: match &callback.error_description {
                    Some(d) => format!("the provider refused the sign-in: {error} ({d})"),
                    None => format!("the provider refused the sign-in: {error}"),
                },
            });
        }
        let code = callback.code.as_deref().ok_or_else(|| CoreError::Auth {
            reason: "the browser came back without a code".into(),
        })?;
        let path = format!("/v1/auth/oidc/{}/finish", encode_segment(&pending.provider));
        let device = self.device()?;
        let resp = relay_answer(self.http().post(url(&pending.relay_url, &path)).json(
            &FinishRequest {
                state: pending.state.clone(),
                code: code.to_owned(),
                code_verifier: pending.code_verifier.clone(),
                device_id: device.0,
                device_name: self.device_name().to_owned(),
            },
        ))
        .await?;
        let body = session_of(resp).await?;
        self.store_session(pending.relay_url.clone(), body)?;
        self.sync_status().await
    }

    /// Asks the relay for a one-time nonce to put into a native ID-token request (Sign in with
    /// Apple, Google Identity Services): the relay accepts an ID token only with a nonce it
    /// issued, so a token lifted from another app can't be replayed here.
    pub async fn oidc_nonce(
        &self,
        relay_url: &str,
        provider: &str,
    ) -> Result<(String, DateTime<Utc>)> {
        let relay_url = relay_base(relay_url)?;
        let path = format!("/v1/auth/oidc/{}/nonce", encode_segment(provider));
        let resp = relay_answer(self.http().post(url(&relay_url, &path))).await?;
        let body: NonceAnswer = resp.json().await.map_err(network)?;
        let expires_at = expiry(&body.expires_at)?;
        Ok((body.nonce, expires_at))
    }

    /// Signs in with an ID token the platform's native sign-in returned (requested with a nonce
    /// from [`Core::oidc_nonce`]) and stores the session exactly like [`Core::oidc_complete`].
    pub async fn oidc_sign_in_with_id_token(
        &self,
        relay_url: &str,
        provider: &str,
        id_token: &str,
        nonce: &str,
    ) -> Result<SyncStatus> {
        let relay_url = relay_base(relay_url)?;
        let path = format!("/v1/auth/oidc/{}/id-token", encode_segment(provider));
        let device = self.device()?;
        let resp = relay_answer(
            self.http()
                .post(url(&relay_url, &path))
                .json(&IdTokenRequest {
                    id_token: id_token.to_owned(),
                    nonce: nonce.to_owned(),
                    device_id: device.0,
                    device_name: self.device_name().to_owned(),
                }),
        )
        .await?;
        let body = session_of(resp).await?;
        self.store_session(relay_url, body)?;
        self.sync_status().await
    }

    /// Starts a loopback sign-in (RFC 8252 §7.3): listens on 127.0.0.1 on a random port and
    /// begins with `http://127.0.0.1:<port>/callback` as redirect URI. Open
    /// [`LoopbackLogin::authorization_url`] in the browser, then [`LoopbackLogin::wait`].
    pub async fn oidc_loopback(&self, relay_url: &str, provider: &str) -> Result<LoopbackLogin> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| CoreError::Network {
                reason: format!("can't listen on 127.0.0.1 for the browser's redirect: {e}"),
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| CoreError::Network {
                reason: e.to_string(),
            })?
            .port();
        let redirect_uri = format!("http://127.0.0.1:{port}{LOOPBACK_PATH}");
        let pending = self.oidc_begin(relay_url, provider, &redirect_uri).await?;
        Ok(LoopbackLogin { listener, pending })
    }
}

/// A provider id as one path segment (ids are slugs; anything else is percent-encoded).
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A loopback sign-in waiting for the browser's redirect.
pub struct LoopbackLogin {
    listener: tokio::net::TcpListener,
    pending: OidcPending,
}

impl std::fmt::Debug for LoopbackLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackLogin")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl LoopbackLogin {
    /// The page to open in the system browser.
    pub fn authorization_url(&self) -> &str {
        &self.pending.authorization_url
    }

    /// `http://127.0.0.1:<port>/callback`.
    pub fn redirect_uri(&self) -> &str {
        &self.pending.redirect_uri
    }

    /// Waits (at most `timeout`) for the browser to come back with this login's state, finishes
    /// the sign-in, and answers the browser with a small page saying how it went. Requests to
    /// other paths or with another state (another program poking the port) get an error page and
    /// are otherwise ignored.
    pub async fn wait(self, core: &Core, timeout: Duration) -> Result<SyncStatus> {
        let pending = self.pending;
        let listener = self.listener;
        let run = async {
            loop {
                let (mut stream, _) = listener.accept().await.map_err(|e| CoreError::Network {
                    reason: format!("waiting for the browser: {e}"),
                })?;
                let Some((path, params)) = read_request(&mut stream).await else {
                    let _ =
                        respond(&mut stream, 400, "Bad request", "This is not a sign-in.").await;
                    continue;
                };
                if path != LOOPBACK_PATH {
                    let _ = respond(&mut stream, 404, "Not found", "Nothing here.").await;
                    continue;
                }
                let callback = OidcCallback::from_query(&params);
                if callback.state.as_deref() != Some(pending.state.as_str()) {
                    tracing::warn!("loopback redirect with an unknown state ignored");
                    let _ = respond(
                        &mut stream,
                        400,
                        "Unknown sign-in",
                        "This answer does not belong to the sign-in Tacho is waiting for.",
                    )
                    .await;
                    continue;
                }
                let result = core.oidc_complete(&pending, &callback).await;
                let _ = match &result {
                    Ok(_) => {
                        respond(
                            &mut stream,
                            200,
                            "Signed in",
                            "Tacho is signed in. You can close this tab.",
                        )
                        .await
                    }
                    Err(e) => {
                        respond(
                            &mut stream,
                            400,
                            "Sign-in failed",
                            &format!("Tacho could not sign in: {e}"),
                        )
                        .await
                    }
                };
                return result;
            }
        };
        tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| CoreError::Auth {
                reason: format!(
                    "the browser did not come back within {} s; run the sign-in again",
                    timeout.as_secs()
                ),
            })?
    }
}

/// Appends what the browser sends next to `buf`; `None` on end of stream, an error, or 10 s of
/// silence (a stalled connection must not hold the sign-in).
async fn read_more(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0_u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
        .await
        .ok()?
        .ok()?;
    if n == 0 {
        return None;
    }
    buf.extend_from_slice(&chunk[..n]);
    Some(())
}

/// Reads one HTTP/1.1 request: its path and its parameters (the query of a GET, the form body
/// of a POST). `None` for anything malformed or too large.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::with_capacity(2048);
    let head_end = loop {
        read_more(stream, &mut buf).await?;
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?;
    let target = request_line.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match method {
        "GET" => Some((path.to_owned(), query.to_owned())),
        "POST" => {
            let length: usize = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())?;
            if length > MAX_BODY {
                return None;
            }
            let mut body = buf[head_end..].to_vec();
            while body.len() < length {
                read_more(stream, &mut body).await?;
            }
            body.truncate(length);
            Some((path.to_owned(), String::from_utf8(body).ok()?))
        }
        _ => None,
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn respond(
    stream: &mut tokio::net::TcpStream,
    status: u16,
    title: &str,
    text: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{p}</p></body></html>\n",
        t = html_escape(title),
        p = html_escape(text)
    );
    // no-referrer: the address bar holds the code; no-store: nothing of it is cached.
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_read_query_and_form_bodies() {
        let cb = OidcCallback::from_query("code=a%2Bb&state=s1&iss=http%3A%2F%2Fx");
        assert_eq!(cb.code.as_deref(), Some("a+b"));
        assert_eq!(cb.state.as_deref(), Some("s1"));
        let cb = OidcCallback::from_url(
            "http://127.0.0.1:1/callback?error=access_denied&error_description=no+way&state=s",
        )
        .unwrap();
        assert_eq!(cb.error.as_deref(), Some("access_denied"));
        assert_eq!(cb.error_description.as_deref(), Some("no way"));
        assert_eq!(cb.code, None);
    }

    #[test]
    fn pending_sign_ins_survive_the_opaque_string() {
        let p = OidcPending {
            relay_url: "http://127.0.0.1:1".into(),
            provider: "idp".into(),
            redirect_uri: "tacho://oidc/callback".into(),
            state: "s".into(),
            code_verifier: "v".into(),
            authorization_url: "http://idp/auth".into(),
            expires_at: Utc::now(),
        };
        assert_eq!(
            OidcPending::from_opaque(&p.to_opaque().unwrap()).unwrap(),
            p
        );
        assert!(matches!(
            OidcPending::from_opaque("{}"),
            Err(CoreError::BadInput { .. })
        ));
        assert!(!format!("{p:?}").contains("code_verifier"));
    }

    #[test]
    fn pkce_pairs_are_rfc7636_s256() {
        let (v, c) = pkce_pair();
        assert_eq!(v.len(), 43);
        assert_eq!(c.len(), 43);
        assert_eq!(
            c,
            URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(v.as_bytes()))
        );
        assert_ne!(pkce_pair().0, v);
        assert_eq!(encode_segment("google"), "google");
        assert_eq!(encode_segment("a/b"), "a%2Fb");
    }
}
