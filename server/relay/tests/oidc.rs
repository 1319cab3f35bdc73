//! OpenID Connect sign-in against a real provider: panva/oidc-provider run by Node on 127.0.0.1
//! (`tests/oidc-provider/provider.mjs`), the relay on its own loopback port, and the test as the
//! app and as the browser (following `Location` by hand). Every test runs on a temporary SQLite
//! file and on a fresh PostgreSQL database (127.0.0.1:5432, or `TACHO_TEST_PG_URL`).
//!
//! Without Node or without `tests/oidc-provider/node_modules` these tests fail with what to do
//! (`npm ci --no-audit --no-fund` in that directory); they never skip.

// Test helpers may panic on broken fixtures; that is a test failure, not a bug in the relay.
#![allow(clippy::expect_used, clippy::panic)]

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tacho_relay::Registration;
use tacho_relay::oidc::ProviderConfig;
use uuid::Uuid;

#[path = "support/harness.rs"]
#[macro_use]
mod harness;
#[path = "support/api.rs"]
mod api;
#[path = "support/idp.rs"]
mod idp;

use api::{assert_error, op, token};
use harness::*;
use idp::*;

/// Two providers on the same test issuer: `idp` accepts the native app's ID tokens, `idp2` does
/// not (and holds its own pending logins and nonces). `tweak` edits the JSON before it is parsed.
fn providers(issuer: &str, tweak: impl FnOnce(&mut Value)) -> Vec<ProviderConfig> {
    let mut file = json!({"providers": [
        {"id": "idp", "kind": "generic", "issuer": issuer, "client_id": RELAY_CLIENT,
         "client_secret": RELAY_SECRET, "redirect_uris": [LOOPBACK_REDIRECT],
         "extra_audiences": [NATIVE_CLIENT]},
        {"id": "idp2", "kind": "generic", "issuer": issuer, "client_id": RELAY_CLIENT,
         "client_secret_env": "IDP2_SECRET", "redirect_uris": [LOOPBACK_REDIRECT]},
    ]});
    tweak(&mut file);
    tacho_relay::oidc::config::parse(&file.to_string(), std::path::Path::new("."), &|name| {
        (name == "IDP2_SECRET").then(|| RELAY_SECRET.to_owned())
    })
    .expect("provider config")
}

async fn relay_for(db: &TestDb, idp: &Idp) -> Relay {
    let providers = providers(&idp.issuer, |_| {});
    start_with(db, |c| c.oidc_providers = providers).await
}

/// A loopback redirect URI on some port (nothing listens: the browser stops at the redirect).
fn redirect(port: u16) -> String {
    format!("http://127.0.0.1:{port}/callback")
}

fn path(provider: &str, step: &str) -> String {
    format!("/v1/auth/oidc/{provider}/{step}")
}

/// `start` as the app: the answer, asserted 200.
async fn start_login(relay: &Relay, provider: &str, challenge: &str, redirect_uri: &str) -> Value {
    let (s, started) = relay
        .post(
            &path(provider, "start"),
            None,
            &json!({"redirect_uri": redirect_uri, "code_challenge": challenge,
                    "code_challenge_method": "S256"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{started}");
    started
}

/// A started login taken through the provider by `user`: `(state, code)` from the redirect,
/// after checking that the redirect went to the app's URI with the state `start` answered.
async fn authorize(
    idp: &Idp,
    started: &Value,
    user: &User,
    redirect_uri: &str,
) -> (String, String) {
    let url = started["authorization_url"]
        .as_str()
        .expect("authorization_url");
    let back = idp.authorize(url, user).await;
    assert!(back.as_str().starts_with(redirect_uri), "{back}");
    let state = query(&back, "state").expect("state");
    assert_eq!(state, started["state"].as_str().expect("state"), "{back}");
    assert_eq!(query(&back, "iss").as_deref(), Some(idp.issuer.as_str()));
    (state, query(&back, "code").expect("code"))
}

async fn finish(
    relay: &Relay,
    provider: &str,
    state: &str,
    code: &str,
    verifier: &str,
    device: Uuid,
    bearer: Option<&str>,
) -> (StatusCode, Value) {
    relay
        .post(
            &path(provider, "finish"),
            bearer,
            &json!({"state": state, "code": code, "code_verifier": verifier,
                    "device_id": device, "device_name": "phone"}),
        )
        .await
}

/// The whole system-browser flow for `user` on `device`.
async fn browser_sign_in(
    relay: &Relay,
    idp: &Idp,
    provider: &str,
    user: &User,
    device: Uuid,
    bearer: Option<&str>,
) -> (StatusCode, Value) {
    let (verifier, challenge) = pkce();
    let uri = redirect(50_123);
    let started = start_login(relay, provider, &challenge, &uri).await;
    let (state, code) = authorize(idp, &started, user, &uri).await;
    finish(relay, provider, &state, &code, &verifier, device, bearer).await
}

async fn new_nonce(relay: &Relay, provider: &str) -> String {
    let (s, b) = relay.post(&path(provider, "nonce"), None, &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["nonce"].as_str().expect("nonce").to_owned()
}

async fn exchange(
    relay: &Relay,
    provider: &str,
    id_token: &str,
    nonce: &str,
    device: Uuid,
    bearer: Option<&str>,
) -> (StatusCode, Value) {
    relay
        .post(
            &path(provider, "id-token"),
            bearer,
            &json!({"id_token": id_token, "nonce": nonce, "device_id": device,
                    "device_name": "watch"}),
        )
        .await
}

fn assert_refused(status: StatusCode, body: &Value, want: StatusCode, code: &str, says: &str) {
    assert_error(status, body, want, code);
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(says),
        "message should say {says:?}: {body}"
    );
}

async fn browser_sign_in_creates_the_account_then_finds_it_and_syncs(db: TestDb) {
    let idp = Idp::start(&[]);
    let relay = relay_for(&db, &idp).await;
    let (s, caps) = relay.get("/v1/capabilities", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        caps["oidc_providers"],
        json!([{"id": "idp", "kind": "generic"}, {"id": "idp2", "kind": "generic"}])
    );
    // Discovery is lazy: nothing fetched before the first sign-in.
    assert_eq!(idp.stats().await["discovery"], 0);

    let ada = User::new("ada-sub", "Ada@Example.org");
    let phone = Uuid::now_v7();
    let (s, first) = browser_sign_in(&relay, &idp, "idp", &ada, phone, None).await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "first sign-in creates the account: {first}"
    );
    assert_eq!(first["device_id"], json!(phone));
    let t = token(&first);
    let (s, pushed) = relay.push(&t, &[op(phone, 1)]).await;
    assert_eq!(s, StatusCode::OK, "the session syncs: {pushed}");
    assert_eq!(
        relay.snapshot(&t).await["ops"].as_array().map(Vec::len),
        Some(1)
    );

    // Same identity again, same device: same account, 200, discovery cached.
    let (s, again) = browser_sign_in(&relay, &idp, "idp", &ada, phone, None).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["account_id"], first["account_id"]);
    let stats = idp.stats().await;
    assert_eq!(stats["discovery"], 1, "discovery is cached: {stats}");
    assert_eq!(stats["jwks"], 1, "{stats}");

    // Pending logins live in the database: started at one instance, finished at another that
    // shares it; a new device of the same account sees the phone's op.
    let other = relay_for(&db, &idp).await;
    let (verifier, challenge) = pkce();
    let uri = redirect(50_124);
    let started = start_login(&relay, "idp", &challenge, &uri).await;
    let (state, code) = authorize(&idp, &started, &ada, &uri).await;
    let laptop = Uuid::now_v7();
    let (s, second) = finish(&other, "idp", &state, &code, &verifier, laptop, None).await;
    assert_eq!(s, StatusCode::OK, "{second}");
    assert_eq!(second["account_id"], first["account_id"]);
    assert_eq!(second["space_id"], first["space_id"]);
    let snap = other.snapshot(&token(&second)).await;
    assert_eq!(snap["ops"][0]["device"], json!(phone), "{snap}");

    // The account has no password: password login is refused like a wrong password (also with
    // the relay's dummy password), and the address can't be signed up again.
    for password in ["", "not a real password", "correct horse battery"] {
        let (s, b) = relay
            .post(
                "/v1/auth/login",
                None,
                &json!({"email": "ada@example.org", "password": password, "device_id": phone}),
            )
            .await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_credentials");
    }
    let (s, b) = relay
        .post(
            "/v1/auth/signup",
            None,
            &api::creds("ada@example.org", Uuid::now_v7()),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "email_taken");
    // The export names the identity.
    let res = relay
        .http
        .get(format!("{}/v1/account/export", relay.base))
        .bearer_auth(&t)
        .send()
        .await
        .expect("export");
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.expect("zip");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("zip");
    let mut account = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("account.json").expect("entry"),
        &mut account,
    )
    .expect("utf-8");
    let account: Value = serde_json::from_str(&account).expect("json");
    assert_eq!(account["email"], "ada@example.org");
    assert_eq!(
        account["oidc_identities"][0]["subject"], "ada-sub",
        "{account}"
    );
    assert_eq!(account["oidc_identities"][0]["issuer"], idp.issuer.as_str());
}

async fn an_account_without_password_is_deleted_only_after_a_fresh_sign_in(db: TestDb) {
    let idp = Idp::start(&[]);
    let relay = relay_for(&db, &idp).await;
    let ada = User::new("ada-sub", "ada@example.org");
    let phone = Uuid::now_v7();
    let (s, session) = browser_sign_in(&relay, &idp, "idp", &ada, phone, None).await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    let t = token(&session);
    // A watch session minted by the phone has not signed in with the provider.
    let watch = Uuid::now_v7();
    let (s, ws) = relay
        .post(
            "/v1/devices/session",
            Some(&t),
            &json!({"device_id": watch}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ws}");
    let delete = |token: String, body: Value| {
        let relay = relay.clone();
        async move {
            answer(
                relay
                    .http
                    .delete(format!("{}/v1/account", relay.base))
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("delete"),
            )
            .await
        }
    };
    let (s, b) = delete(token(&ws), json!({})).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "reauth_required");
    // The phone's sign-in, made 11 minutes "ago", is not fresh either.
    sqlx::query("UPDATE oidc_identities SET last_login_at = last_login_at - 660000")
        .execute(&relay.state.db().pool)
        .await
        .expect("age the sign-in");
    let (s, b) = delete(t.clone(), json!({})).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "reauth_required");
    // Signing in again on the phone makes it fresh: now the account goes, identity included.
    let (s, again) = browser_sign_in(&relay, &idp, "idp", &ada, phone, None).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    let (s, b) = delete(token(&again), json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, b) = relay.get("/v1/snapshot", Some(&token(&again))).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_token");
    // The identity went with the account: the next sign-in is a new account.
    let (s, fresh) = browser_sign_in(&relay, &idp, "idp", &ada, Uuid::now_v7(), None).await;
    assert_eq!(s, StatusCode::CREATED, "{fresh}");
    assert_ne!(fresh["account_id"], session["account_id"]);
}

async fn state_verifier_and_code_are_bound_and_single_use(db: TestDb) {
    let idp = Idp::start(&[]);
    let relay = relay_for(&db, &idp).await;
    let ada = User::new("ada-sub", "ada@example.org");
    let device = Uuid::now_v7();
    let uri = redirect(50_200);

    let (v1, c1) = pkce();
    let started = start_login(&relay, "idp", &c1, &uri).await;
    assert_eq!(
        started["state"].as_str().map(str::len),
        Some(43),
        "{started}"
    );
    let auth =
        reqwest::Url::parse(started["authorization_url"].as_str().expect("url")).expect("url");
    assert!(
        auth.as_str().starts_with(&format!("{}/auth?", idp.issuer)),
        "{auth}"
    );
    for (k, v) in [
        ("response_type", "code"),
        ("client_id", RELAY_CLIENT),
        ("redirect_uri", uri.as_str()),
        ("scope", "openid email profile"),
        ("code_challenge", c1.as_str()),
        ("code_challenge_method", "S256"),
        ("state", started["state"].as_str().expect("state")),
    ] {
        assert_eq!(query(&auth, k).as_deref(), Some(v), "{k} in {auth}");
    }
    assert_eq!(query(&auth, "nonce").map(|n| n.len()), Some(43), "{auth}");
    let (state, code) = authorize(&idp, &started, &ada, &uri).await;

    // The relay checks the verifier against the stored challenge before calling the provider.
    let tokens_before = idp.stats().await["token"].clone();
    let (wrong, _) = pkce();
    let (s, b) = finish(&relay, "idp", &state, &code, &wrong, device, None).await;
    assert_refused(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "code_verifier",
    );
    let (s, b) = finish(&relay, "idp", &state, &code, "too-short", device, None).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(
        idp.stats().await["token"],
        tokens_before,
        "no code was sent to the provider"
    );
    // The state belongs to its provider.
    let (s, b) = finish(&relay, "idp2", &state, &code, &v1, device, None).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_state");
    // Neither refusal burned the login: the right verifier still finishes it.
    let (s, session) = finish(&relay, "idp", &state, &code, &v1, device, None).await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    // Replayed state: refused by the relay.
    let (s, b) = finish(&relay, "idp", &state, &code, &v1, device, None).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_state");
    // Replayed code: a new login started with the same challenge passes the relay's checks; the
    // provider refuses the used code.
    let again = start_login(&relay, "idp", &c1, &uri).await;
    let (s, b) = finish(
        &relay,
        "idp",
        again["state"].as_str().expect("state"),
        &code,
        &v1,
        device,
        None,
    )
    .await;
    assert_refused(
        s,
        &b,
        StatusCode::UNAUTHORIZED,
        "code_rejected",
        "invalid_grant",
    );

    // A code from a login started with another challenge: the verifier matches this login's
    // challenge (the relay lets it through) but not the one the provider bound the code to.
    let (va, ca) = pkce();
    let (_vb, cb) = pkce();
    let login_a = start_login(&relay, "idp", &ca, &uri).await;
    let login_b = start_login(&relay, "idp", &cb, &uri).await;
    let (_state_b, code_b) = authorize(&idp, &login_b, &ada, &uri).await;
    let (s, b) = finish(
        &relay,
        "idp",
        login_a["state"].as_str().expect("state"),
        &code_b,
        &va,
        device,
        None,
    )
    .await;
    assert_refused(
        s,
        &b,
        StatusCode::UNAUTHORIZED,
        "code_rejected",
        "invalid_grant",
    );

    // An expired pending login.
    let (v5, c5) = pkce();
    let late = start_login(&relay, "idp", &c5, &uri).await;
    let (late_state, late_code) = authorize(&idp, &late, &ada, &uri).await;
    sqlx::query("UPDATE oidc_logins SET expires_at = 0 WHERE state = $1")
        .bind(&late_state)
        .execute(&relay.state.db().pool)
        .await
        .expect("expire");
    let (s, b) = finish(&relay, "idp", &late_state, &late_code, &v5, device, None).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_state");

    // Challenges: S256 only, 43 base64url characters.
    for (challenge, method) in [
        (c1.as_str(), "plain"),
        (c1.as_str(), "s256"),
        (&c1[..42], "S256"),
        ("++++++++++++++++++++++++++++++++++++++++++=", "S256"),
    ] {
        let (s, b) = relay
            .post(
                &path("idp", "start"),
                None,
                &json!({"redirect_uri": uri, "code_challenge": challenge,
                        "code_challenge_method": method}),
            )
            .await;
        assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_code_challenge");
    }
    // Redirect URIs: exact, except the port of a loopback IP literal.
    for bad in [
        "http://127.0.0.1:50200/other",
        "http://localhost:50200/callback",
        "https://evil.example.org/callback",
        "http://127.0.0.1:50200/callback?x=1",
        "http://127.0.0.1.evil.example.org/callback",
    ] {
        let (s, b) = relay
            .post(
                &path("idp", "start"),
                None,
                &json!({"redirect_uri": bad, "code_challenge": c1, "code_challenge_method": "S256"}),
            )
            .await;
        assert_error(s, &b, StatusCode::BAD_REQUEST, "redirect_uri_mismatch");
    }
    // Unknown provider, on every route.
    for step in ["start", "finish", "nonce", "id-token"] {
        let body = json!({"redirect_uri": uri, "code_challenge": c1, "code_challenge_method": "S256",
                          "state": state, "code": code, "code_verifier": v1, "device_id": device,
                          "id_token": "x", "nonce": "y"});
        let (s, b) = relay.post(&path("nope", step), None, &body).await;
        assert_error(s, &b, StatusCode::NOT_FOUND, "unknown_provider");
    }
}

async fn id_token_exchange_checks_nonce_audience_and_signature(db: TestDb) {
    let idp = Idp::start(&[]);
    let relay = relay_for(&db, &idp).await;
    let ada = User::new("ada-sub", "ada@example.org");
    let watch = Uuid::now_v7();

    let n1 = new_nonce(&relay, "idp").await;
    assert_eq!(n1.len(), 43);
    let t1 = idp.native_id_token(NATIVE_CLIENT, &n1, &ada).await;
    // Wrong nonce: a token minted for another issued nonce.
    let n2 = new_nonce(&relay, "idp").await;
    let t2 = idp.native_id_token(NATIVE_CLIENT, &n2, &ada).await;
    let (s, b) = exchange(&relay, "idp", &t2, &n1, watch, None).await;
    assert_refused(s, &b, StatusCode::UNAUTHORIZED, "invalid_id_token", "nonce");
    // That did not burn n1.
    let (s, session) = exchange(&relay, "idp", &t1, &n1, watch, None).await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    let (s, pushed) = relay.push(&token(&session), &[op(watch, 1)]).await;
    assert_eq!(s, StatusCode::OK, "{pushed}");
    // Replay: the nonce is spent.
    let (s, b) = exchange(&relay, "idp", &t1, &n1, watch, None).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_nonce");
    // A nonce the relay never issued (the token carries it, but it is not ours).
    let made_up = "made-up-nonce-made-up-nonce-made-up-nonce-x";
    let t3 = idp.native_id_token(NATIVE_CLIENT, made_up, &ada).await;
    let (s, b) = exchange(&relay, "idp", &t3, made_up, watch, None).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_nonce");
    // A nonce issued for another provider.
    let other_nonce = new_nonce(&relay, "idp2").await;
    let t4 = idp.native_id_token(NATIVE_CLIENT, &other_nonce, &ada).await;
    let (s, b) = exchange(&relay, "idp", &t4, &other_nonce, watch, None).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_nonce");
    // Wrong audience: an app the relay does not know.
    let n5 = new_nonce(&relay, "idp").await;
    let t5 = idp.native_id_token(OTHER_CLIENT, &n5, &ada).await;
    let (s, b) = exchange(&relay, "idp", &t5, &n5, watch, None).await;
    assert_refused(
        s,
        &b,
        StatusCode::UNAUTHORIZED,
        "invalid_id_token",
        "audience",
    );
    // The native app's token at a provider that does not list the app.
    let n6 = new_nonce(&relay, "idp2").await;
    let t6 = idp.native_id_token(NATIVE_CLIENT, &n6, &ada).await;
    let (s, b) = exchange(&relay, "idp2", &t6, &n6, watch, None).await;
    assert_refused(
        s,
        &b,
        StatusCode::UNAUTHORIZED,
        "invalid_id_token",
        "audience",
    );
    // Forged: the payload changed (another subject) under the original signature.
    let n7 = new_nonce(&relay, "idp").await;
    let t7 = idp.native_id_token(NATIVE_CLIENT, &n7, &ada).await;
    let parts: Vec<&str> = t7.split('.').collect();
    let mut claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[1])
            .expect("payload"),
    )
    .expect("claims");
    claims["sub"] = json!("mallory-sub");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            claims.to_string()
        ),
        parts[2]
    );
    let (s, b) = exchange(&relay, "idp", &forged, &n7, watch, None).await;
    assert_refused(
        s,
        &b,
        StatusCode::UNAUTHORIZED,
        "invalid_id_token",
        "signature",
    );
    let (s, b) = exchange(&relay, "idp", "not.a.jwt", &n7, watch, None).await;
    assert_refused(
        s,
        &b,
        StatusCode::UNAUTHORIZED,
        "invalid_id_token",
        "malformed",
    );
    // n2 with its own token still works and finds the same account.
    let (s, again) = exchange(&relay, "idp", &t2, &n2, Uuid::now_v7(), None).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["account_id"], session["account_id"]);
}

async fn expired_id_tokens_are_refused(db: TestDb) {
    let idp = Idp::start(&[("ID_TOKEN_TTL", "1")]);
    let relay = relay_for(&db, &idp).await;
    let ada = User::new("ada-sub", "ada@example.org");
    let n = new_nonce(&relay, "idp").await;
    let t = idp.native_id_token(NATIVE_CLIENT, &n, &ada).await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (s, b) = exchange(&relay, "idp", &t, &n, Uuid::now_v7(), None).await;
    assert_refused(
        s,
        &b,
        StatusCode::UNAUTHORIZED,
        "invalid_id_token",
        "expired",
    );
}

async fn sign_up_follows_the_registration_policy_and_domains(db: TestDb) {
    let idp = Idp::start(&[]);
    let with = |tweak: fn(&mut tacho_relay::Config)| {
        let providers = providers(&idp.issuer, |_| {});
        let db = &db;
        async move {
            start_with(db, |c| {
                c.oidc_providers = providers;
                tweak(c);
            })
            .await
        }
    };
    let closed = with(|c| c.registration = Registration::Closed).await;
    let ada = User::new("ada-sub", "ada@example.org");
    let (s, b) = browser_sign_in(&closed, &idp, "idp", &ada, Uuid::now_v7(), None).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "registration_closed");
    let n = new_nonce(&closed, "idp").await;
    let t = idp.native_id_token(NATIVE_CLIENT, &n, &ada).await;
    let (s, b) = exchange(&closed, "idp", &t, &n, Uuid::now_v7(), None).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "registration_closed");

    let listed = with(|c| {
        c.registration = Registration::Allowlist;
        c.allow_emails = vec!["ada@example.org".into()];
    })
    .await;
    let bob = User::new("bob-sub", "bob@example.org");
    let (s, b) = browser_sign_in(&listed, &idp, "idp", &bob, Uuid::now_v7(), None).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "registration_closed");
    let (s, b) = browser_sign_in(&listed, &idp, "idp", &ada, Uuid::now_v7(), None).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // Once the account exists, closing registration does not lock its identity out.
    let (s, b) = browser_sign_in(&closed, &idp, "idp", &ada, Uuid::now_v7(), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let domains = with(|c| c.allowed_email_domains = vec!["example.org".into()]).await;
    let carol = User::new("carol-sub", "carol@other.example.net");
    let (s, b) = browser_sign_in(&domains, &idp, "idp", &carol, Uuid::now_v7(), None).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "registration_closed");
    let (s, b) = domains
        .post(
            "/v1/auth/signup",
            None,
            &api::creds("carol@other.example.net", Uuid::now_v7()),
        )
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "registration_closed");
    let (s, b) = domains
        .post(
            "/v1/auth/signup",
            None,
            &api::creds("carol@example.org", Uuid::now_v7()),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "password sign-up in an allowed domain: {b}"
    );
    let dave = User::new("dave-sub", "dave@example.org");
    let (s, b) = browser_sign_in(&domains, &idp, "idp", &dave, Uuid::now_v7(), None).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    // A provider's own allowed domains.
    let corp_only = providers(&idp.issuer, |f| {
        f["providers"][0]["allowed_domains"] = json!(["corp.example"]);
    });
    let corp = start_with(&db, |c| c.oidc_providers = corp_only).await;
    let eve = User::new("eve-sub", "eve@example.org");
    let (s, b) = browser_sign_in(&corp, &idp, "idp", &eve, Uuid::now_v7(), None).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "registration_closed");
    let frank = User::new("frank-sub", "frank@corp.example");
    let (s, b) = browser_sign_in(&corp, &idp, "idp", &frank, Uuid::now_v7(), None).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    // A new account needs a verified address.
    let open = relay_for(&db, &idp).await;
    let gina = User::new("gina-sub", "gina@example.org").unverified();
    let (s, b) = browser_sign_in(&open, &idp, "idp", &gina, Uuid::now_v7(), None).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "email_unverified");
    let nobody = User {
        sub: "no-mail-sub".into(),
        email: None,
        email_verified: false,
    };
    let (s, b) = browser_sign_in(&open, &idp, "idp", &nobody, Uuid::now_v7(), None).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "email_unverified");
}

async fn an_existing_email_is_linked_only_with_the_account_token(db: TestDb) {
    let idp = Idp::start(&[]);
    let relay = relay_for(&db, &idp).await;
    let phone = Uuid::now_v7();
    let password_session = relay.signup("ada@example.org", phone).await;
    let ada_token = token(&password_session);
    let ada = User::new("ada-google", "ADA@example.org");

    // No silent linking by e-mail.
    let tablet = Uuid::now_v7();
    let (s, b) = browser_sign_in(&relay, &idp, "idp", &ada, tablet, None).await;
    assert_refused(s, &b, StatusCode::CONFLICT, "link_required", "password");
    // An unverified address equal to an account's is just unverified (it proves nothing).
    let unverified = User::new("ada-other", "ada@example.org").unverified();
    let (s, b) = browser_sign_in(&relay, &idp, "idp", &unverified, tablet, None).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "email_unverified");
    // An invalid bearer is refused, never ignored.
    let (s, b) = browser_sign_in(&relay, &idp, "idp", &ada, tablet, Some("v1.garbage.sig")).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_token");
    // With the account's access token the identity is linked to it.
    let (s, linked) = browser_sign_in(&relay, &idp, "idp", &ada, tablet, Some(&ada_token)).await;
    assert_eq!(s, StatusCode::OK, "{linked}");
    assert_eq!(linked["account_id"], password_session["account_id"]);
    // From then on the identity signs in to that account, and the password still works.
    let (s, b) = browser_sign_in(&relay, &idp, "idp", &ada, Uuid::now_v7(), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["account_id"], password_session["account_id"]);
    let (s, b) = relay
        .post(
            "/v1/auth/login",
            None,
            &api::creds("ada@example.org", phone),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // Another account can't take the identity over with its own token.
    let bob_session = relay.signup("bob@example.org", Uuid::now_v7()).await;
    let bob_token = token(&bob_session);
    let (s, b) = browser_sign_in(&relay, &idp, "idp", &ada, Uuid::now_v7(), Some(&bob_token)).await;
    assert_error(s, &b, StatusCode::CONFLICT, "identity_taken");
    let n = new_nonce(&relay, "idp").await;
    let t = idp.native_id_token(NATIVE_CLIENT, &n, &ada).await;
    let (s, b) = exchange(&relay, "idp", &t, &n, Uuid::now_v7(), Some(&bob_token)).await;
    assert_error(s, &b, StatusCode::CONFLICT, "identity_taken");
    // The ID-token exchange links too: Bob's own identity, by Bob's token.
    let bob = User::new("bob-apple", "bob@example.org");
    let n = new_nonce(&relay, "idp").await;
    let t = idp.native_id_token(NATIVE_CLIENT, &n, &bob).await;
    let (s, b) = exchange(&relay, "idp", &t, &n, Uuid::now_v7(), None).await;
    assert_error(s, &b, StatusCode::CONFLICT, "link_required");
    let n = new_nonce(&relay, "idp").await;
    let t = idp.native_id_token(NATIVE_CLIENT, &n, &bob).await;
    let watch = Uuid::now_v7();
    let (s, b) = exchange(&relay, "idp", &t, &n, watch, Some(&bob_token)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["account_id"], bob_session["account_id"]);
    assert_eq!(b["device_id"], json!(watch));
    // Ada's identity is still Ada's.
    let (s, b) = browser_sign_in(&relay, &idp, "idp", &ada, Uuid::now_v7(), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["account_id"], password_session["account_id"]);
}

async fn rotated_keys_are_refetched_once_per_interval(db: TestDb) {
    let idp = Idp::start(&[]);
    let providers = providers(&idp.issuer, |_| {});
    let relay = start_with(&db, |c| {
        c.oidc_providers = providers;
        c.oidc_jwks_refetch_interval = Duration::from_secs(3);
    })
    .await;
    let ada = User::new("ada-sub", "ada@example.org");
    let (s, b) = browser_sign_in(&relay, &idp, "idp", &ada, Uuid::now_v7(), None).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(idp.stats().await["jwks"], 1);
    idp.rotate_keys().await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    // Signed with the new key: unknown to the relay, which refetches the key set once.
    let (s, b) = browser_sign_in(&relay, &idp, "idp", &ada, Uuid::now_v7(), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(idp.stats().await["jwks"], 2);
    let n = new_nonce(&relay, "idp").await;
    let t = idp.native_id_token(NATIVE_CLIENT, &n, &ada).await;
    let (s, b) = exchange(&relay, "idp", &t, &n, Uuid::now_v7(), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // A token naming a key nobody has, right after: refused without another fetch.
    let n = new_nonce(&relay, "idp").await;
    let t = idp.native_id_token(NATIVE_CLIENT, &n, &ada).await;
    let parts: Vec<&str> = t.split('.').collect();
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        json!({"alg": "RS256", "kid": "no-such-key"}).to_string(),
    );
    let unknown_kid = format!("{header}.{}.{}", parts[1], parts[2]);
    let (s, b) = exchange(&relay, "idp", &unknown_kid, &n, Uuid::now_v7(), None).await;
    assert_refused(
        s,
        &b,
        StatusCode::UNAUTHORIZED,
        "invalid_id_token",
        "signature",
    );
    assert_eq!(
        idp.stats().await["jwks"],
        2,
        "no refetch within the interval"
    );
}

async fn an_unreachable_provider_is_a_bad_gateway(db: TestDb) {
    // A closed port on loopback: discovery can't connect.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let providers = providers(&format!("http://127.0.0.1:{dead}"), |_| {});
    let relay = start_with(&db, |c| c.oidc_providers = providers).await;
    let (_, challenge) = pkce();
    let (s, b) = relay
        .post(
            &path("idp", "start"),
            None,
            &json!({"redirect_uri": redirect(5000), "code_challenge": challenge,
                    "code_challenge_method": "S256"}),
        )
        .await;
    assert_error(s, &b, StatusCode::BAD_GATEWAY, "provider_unavailable");
    // Nonces need no provider; a token check does.
    let n = new_nonce(&relay, "idp").await;
    let idp = Idp::start(&[]);
    // (A database of its own, kept until the end: dropping a TestDb deletes its file.)
    let live_db = TestDb::sqlite();
    let live = relay_for(&live_db, &idp).await;
    let ln = new_nonce(&live, "idp").await;
    let t = idp
        .native_id_token(NATIVE_CLIENT, &ln, &User::new("x", "x@example.org"))
        .await;
    let (s, b) = exchange(&relay, "idp", &t, &n, Uuid::now_v7(), None).await;
    assert_error(s, &b, StatusCode::BAD_GATEWAY, "provider_unavailable");
}

/// A discovery document served on loopback whose token endpoint is `token_endpoint`.
async fn fake_discovery(token_endpoint: Option<&str>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let token = token_endpoint.map_or_else(|| format!("{base}/token"), str::to_owned);
    let doc = json!({
        "issuer": base, "authorization_endpoint": format!("{base}/auth"),
        "token_endpoint": token, "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc) }
            }),
        )
        .route(
            "/jwks",
            axum::routing::get(|| async { axum::Json(json!({"keys": []})) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn discovered_endpoints_must_be_https(db: TestDb) {
    let (_, challenge) = pkce();
    let body = json!({"redirect_uri": redirect(5000), "code_challenge": challenge,
                      "code_challenge_method": "S256"});
    // A loopback issuer may use plain http for its own loopback endpoints …
    let fine = fake_discovery(None).await;
    let relay = start_with(&db, |c| c.oidc_providers = providers(&fine, |_| {})).await;
    let (s, b) = relay.post(&path("idp", "start"), None, &body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // … but an endpoint elsewhere over plain http is refused before anything is sent to it.
    let bad = fake_discovery(Some("http://token.example.org/token")).await;
    let relay = start_with(&db, |c| c.oidc_providers = providers(&bad, |_| {})).await;
    let (s, b) = relay.post(&path("idp", "start"), None, &body).await;
    assert_refused(
        s,
        &b,
        StatusCode::BAD_GATEWAY,
        "provider_unavailable",
        "token_endpoint",
    );
}

on_both_databases!(
    discovered_endpoints_must_be_https,
    browser_sign_in_creates_the_account_then_finds_it_and_syncs,
    an_account_without_password_is_deleted_only_after_a_fresh_sign_in,
    state_verifier_and_code_are_bound_and_single_use,
    id_token_exchange_checks_nonce_audience_and_signature,
    expired_id_tokens_are_refused,
    sign_up_follows_the_registration_policy_and_domains,
    an_existing_email_is_linked_only_with_the_account_token,
    rotated_keys_are_refetched_once_per_interval,
    an_unreachable_provider_is_a_bad_gateway,
);

/// A missing `node_modules` fails the tests with the command to run, never skips them.
#[test]
fn a_missing_provider_install_fails_loudly() {
    let empty = tempfile::tempdir().expect("tempdir");
    let result = std::panic::catch_unwind(|| Idp::start_in(empty.path(), &[]));
    let panic = result.err().expect("must fail without node_modules");
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(message.contains("npm ci"), "{message}");
}
