//! A real OpenID provider for tests: `tests/oidc-provider/provider.mjs` (panva/oidc-provider) run
//! by Node on 127.0.0.1, killed when dropped; a cookie-keeping "browser" that follows `Location`
//! headers by hand; and a native app's code flow for ID tokens. Shared by the relay's `oidc.rs`
//! and `authz.rs` and by the CLI's loopback test (which includes this file by path).
//!
//! Without `node` or without `node_modules` the tests FAIL with what to do; they never skip.
#![allow(dead_code, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use reqwest::Url;
use serde_json::Value;
use sha2::Digest as _;

/// The client the relay uses at the test provider, and its secret.
pub const RELAY_CLIENT: &str = "relay";
pub const RELAY_SECRET: &str = "relay-secret";
/// The native app whose ID tokens the relay accepts, and an app it does not know.
pub const NATIVE_CLIENT: &str = "native";
pub const OTHER_CLIENT: &str = "other";
/// Where the native clients' codes go (never listened on: the browser stops at the redirect).
pub const NATIVE_REDIRECT: &str = "http://127.0.0.1/native";
/// The app's registered loopback redirect at the relay and at the provider (any port).
pub const LOOPBACK_REDIRECT: &str = "http://127.0.0.1/callback";

/// A running test provider.
pub struct Idp {
    pub issuer: String,
    child: Child,
    _stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
            eprintln!("--- test OpenID provider stderr ---\n{log}");
        }
    }
}

/// A person at the provider: what its `findAccount` will answer.
#[derive(Debug, Clone)]
pub struct User {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
}

impl User {
    pub fn new(sub: &str, email: &str) -> Self {
        Self {
            sub: sub.to_owned(),
            email: Some(email.to_owned()),
            email_verified: true,
        }
    }

    pub fn unverified(mut self) -> Self {
        self.email_verified = false;
        self
    }

    /// The `login_hint` the test provider signs in with.
    pub fn hint(&self) -> String {
        let mut u = Url::parse("http://hint.invalid/").expect("url");
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("sub", &self.sub);
            if let Some(e) = &self.email {
                q.append_pair("email", e);
            }
            q.append_pair(
                "email_verified",
                if self.email_verified { "true" } else { "false" },
            );
        }
        u.query().unwrap_or_default().to_owned()
    }
}

/// A PKCE pair: a 32-byte random verifier (base64url) and its S256 challenge.
pub fn pkce() -> (String, String) {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

impl Idp {
    /// Starts the provider in `dir` (the `oidc-provider` directory). `env`: `ID_TOKEN_TTL`,
    /// `RELAY_REDIRECT_URIS`, `NATIVE_REDIRECT_URI`.
    pub fn start_in(dir: &Path, env: &[(&str, &str)]) -> Self {
        match Command::new("node").arg("--version").output() {
            Ok(out) if out.status.success() => {}
            other => panic!(
                "Node.js is needed for the OpenID tests (a real provider runs in it) but `node \
                 --version` failed: {other:?}. Install Node.js >= 20 and run `npm ci` in {}",
                dir.display()
            ),
        }
        assert!(
            dir.join("node_modules/oidc-provider/package.json")
                .is_file(),
            "the test OpenID provider's packages are missing: run `npm ci --no-audit --no-fund` \
             in {} (scripts/test-all does this)",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting node provider.mjs in {}: {e}", dir.display()));
        let stdin = child.stdin.take();
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let sink = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0_u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut reader = BufReader::new(stdout);
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the provider never blocks on a full pipe.
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        // Generous: Node loading oidc-provider can take long on a loaded, niced CI machine.
        let waited = std::time::Instant::now();
        let issuer = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if line.starts_with("http://127.0.0.1:") => line.trim().to_owned(),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                let log = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                panic!(
                    "the test OpenID provider did not print its issuer within {:?} ({other:?}); \
                     stderr:\n{log}",
                    waited.elapsed()
                );
            }
        };
        Self {
            issuer,
            child,
            _stdin: stdin,
            stderr,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    /// Starts the provider of this repository (path relative to the relay crate).
    pub fn start(env: &[(&str, &str)]) -> Self {
        Self::start_in(&relay_provider_dir(env!("CARGO_MANIFEST_DIR")), env)
    }

    /// Requests served so far: `{"discovery", "jwks", "token"}`.
    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/test/stats", self.issuer))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats json")
    }

    /// Switches to a new signing key (the old one stays published).
    pub async fn rotate_keys(&self) {
        let s = self
            .http
            .post(format!("{}/test/rotate", self.issuer))
            .send()
            .await
            .expect("rotate")
            .status();
        assert!(s.is_success(), "rotate: {s}");
    }

    /// Signs `user` in through `authorization_url` (as the relay built it) in a fresh browser and
    /// returns the URL the provider redirects to (the app's redirect URI with code and state).
    pub async fn authorize(&self, authorization_url: &str, user: &User) -> Url {
        let mut url = Url::parse(authorization_url).expect("authorization URL");
        url.query_pairs_mut()
            .append_pair("login_hint", &user.hint());
        Browser::new().follow(url, &self.issuer).await
    }

    /// A native app's sign-in: the code flow as public client `client_id` with `nonce`, then the
    /// token request; returns the ID token.
    pub async fn native_id_token(&self, client_id: &str, nonce: &str, user: &User) -> String {
        let (verifier, challenge) = pkce();
        let mut url = Url::parse(&format!("{}/auth", self.issuer)).expect("url");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", NATIVE_REDIRECT)
            .append_pair("scope", "openid email profile")
            .append_pair("state", "native-state")
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("login_hint", &user.hint());
        let back = Browser::new().follow(url, &self.issuer).await;
        let code = query(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
        let res = self
            .http
            .post(format!("{}/token", self.issuer))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", NATIVE_REDIRECT),
                ("client_id", client_id),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await
            .expect("token request");
        let status = res.status();
        let body: Value = res.json().await.expect("token json");
        assert!(status.is_success(), "native token request: {status} {body}");
        body["id_token"].as_str().expect("id_token").to_owned()
    }
}

/// `<relay crate>/tests/oidc-provider`.
pub fn relay_provider_dir(relay_manifest_dir: &str) -> PathBuf {
    PathBuf::from(relay_manifest_dir).join("tests/oidc-provider")
}

/// A query parameter of a URL.
pub fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A browser reduced to what the sign-in needs: GET, cookies by name, and redirects followed by
/// hand while they stay at the provider.
pub struct Browser {
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    /// Follows redirects from `url` while they point at `issuer`; returns the first redirect
    /// elsewhere (the app's redirect URI). Fails on any non-redirect answer.
    pub async fn follow(&self, mut url: Url, issuer: &str) -> Url {
        let inside = format!("{issuer}/");
        for _ in 0..20 {
            let cookie = {
                let jar = self.cookies.lock().expect("jar");
                jar.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let mut req = self.http.get(url.clone());
            if !cookie.is_empty() {
                req = req.header("Cookie", cookie);
            }
            let res = req.send().await.expect("browser GET");
            for v in res.headers().get_all("set-cookie") {
                let v = v.to_str().expect("cookie");
                let pair = v.split(';').next().unwrap_or_default();
                if let Some((k, val)) = pair.split_once('=') {
                    self.cookies
                        .lock()
                        .expect("jar")
                        .insert(k.trim().to_owned(), val.to_owned());
                }
            }
            let status = res.status();
            if !status.is_redirection() {
                let body = res.text().await.unwrap_or_default();
                panic!("the provider answered {status} at {url}: {body}");
            }
            let location = res
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .expect("Location");
            let next = url.join(location).expect("Location URL");
            if !next.as_str().starts_with(&inside) {
                return next;
            }
            url = next;
        }
        panic!("too many redirects");
    }
}
