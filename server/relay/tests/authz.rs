//! Object-level authorization, driven by the relay's own OpenAPI document, plus the refusal of
//! forged, expired and replayed tokens.
//!
//! `every_id_taking_route_refuses_another_account` fetches `GET /v1/openapi.json`, finds every
//! operation that names an object by id — a `{param}` in its path, or a uuid (or `*_id`) in its
//! query or request body — and runs each with a second account's token against the first
//! account's real ids. Every such operation must have a row in [`id_routes`] saying how to
//! exercise it and what refusal to expect; an operation without a row fails the test, so a new
//! route cannot ship without its check (and a stale row fails too). Where the id cannot name
//! another account's object at all (a caller-chosen hook `event_id`), the row says so
//! ([`Expect::OwnAccountOnly`]) and checks that B's call stayed in B's account and A's log did not
//! change. Signed webhooks (`/v1/hooks/zammad/{connection}`) take no bearer: there "another
//! account" is a delivery signed with B's own connection's secret. OpenID sign-in routes
//! (`/v1/auth/oidc/{provider}/…`) run against a real provider (Node, `tests/oidc-provider`):
//! there "A's objects" are A's pending login, A's nonce, A's identity and A's devices.
//!
//! Like `relay.rs`, everything runs on a temporary SQLite file and on a fresh PostgreSQL database
//! on 127.0.0.1:5432 (override with `TACHO_TEST_PG_URL`); the PostgreSQL variants never skip.

// Test helpers may panic on broken fixtures; that is a test failure, not a bug in the relay.
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::Duration;

use hmac::Mac as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row as _;
use tacho_relay::accounts::tokens::{Claims, sign};
use uuid::Uuid;

#[path = "support/harness.rs"]
#[macro_use]
mod harness;
#[path = "support/idp.rs"]
mod idp;
use harness::*;

/// A login at the provider that has its code but was not finished.
#[derive(Clone)]
struct Login {
    state: String,
    code: String,
    verifier: String,
}

impl Relay {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        self.send(method, path, token, body, None, &[]).await
    }

    /// Like [`Relay::call`], with a raw body (sent instead of `body`) and extra headers.
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        raw: Option<&str>,
        headers: &[(&'static str, String)],
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(r) = raw {
            req = req
                .header("Content-Type", "application/json")
                .body(r.to_owned());
        } else if let Some(b) = body {
            req = req.json(b);
        }
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.expect("send")).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        self.call("post", path, token, Some(body)).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call("get", path, token, None).await
    }

    async fn signup(&self, email: &str, device: Uuid) -> Value {
        let (status, session) = self
            .post("/v1/auth/signup", None, &creds(email, device))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        session
    }
}

fn creds(email: &str, device: Uuid) -> Value {
    json!({"email": email, "password": "correct horse battery", "device_id": device, "device_name": "test"})
}

fn token(session: &Value) -> String {
    session["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

fn now_hlc() -> u64 {
    let ms = u64::try_from(chrono::Utc::now().timestamp_millis()).expect("ms");
    ms << 16
}

fn upsert(device: Uuid, seq: u64, entity: &str, entity_id: Uuid) -> Value {
    json!({
        "op_id": Uuid::now_v7(),
        "device": device,
        "device_seq": seq,
        "hlc": now_hlc() + seq,
        "entity": entity,
        "entity_id": entity_id,
        "kind": "upsert",
        "fields": {"note": format!("written by {device}")},
        "schema": 1,
    })
}

fn points(device: Uuid, seq: u64, trip: Uuid) -> Value {
    json!({
        "op_id": Uuid::now_v7(),
        "device": device,
        "device_seq": seq,
        "hlc": now_hlc() + seq,
        "entity": "trip_points",
        "entity_id": trip,
        "kind": "append",
        "items": [[1, 1_700_000_000_000_i64, 53.0, 8.8, null, null, null, null, 1]],
        "schema": 1,
    })
}

/// `sha1=<hex HMAC-SHA1(secret, body)>`, as Zammad signs its webhook deliveries.
fn zammad_signature(secret: &str, body: &str) -> String {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha1={hex}")
}

/// Events stored for a Zammad connection (the webhook route answers nothing that lists them).
async fn zammad_events(relay: &Relay, connection: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM zammad_events WHERE connection_id = $1")
        .bind(connection)
        .fetch_one(&relay.state.db().pool)
        .await
        .expect("count zammad events")
        .try_get("n")
        .expect("n")
}

/// What account A owns, made through the API before B tries to reach it.
struct Victim {
    /// A's session (its access token, account, space and device ids).
    session: Value,
    /// A's signing-in device.
    device: Uuid,
    /// A second device of A, bound through `POST /v1/devices/session`.
    watch: Uuid,
    /// A trip A created (upsert) and recorded points for.
    trip: Uuid,
    /// A car A's watch pushed.
    car: Uuid,
    /// A's hook token (`POST /v1/hooks/tokens`, limited to `car`): its id and its secret.
    hook_token_id: String,
    hook_token: String,
    /// The event id of A's hook start, and the trip it opened (still active).
    hook_event: &'static str,
    hook_trip: Uuid,
    /// A's Zammad connection id.
    zammad: String,
    /// An open connector conflict of A's (on that connection).
    conflict: String,
    /// Ids of ops in A's log.
    op_ids: Vec<Value>,
    /// A's pending OpenID login (state, code, verifier), finished by A after the attempts.
    oidc_login: Login,
    /// A login of A's identity with its code, for B to try to link with B's token.
    oidc_identity_login: Login,
    /// A nonce A asked for (A's ID token for it is redeemed by A after the attempts).
    oidc_nonce: String,
    /// A's identity's ID token with a fresh nonce, for B to try to link by ID token.
    oidc_identity_token: (String, String),
    /// A's log as A sees it, to compare after the attack.
    snapshot: Value,
}

/// The attacker: a second account on the same relay.
struct Attacker {
    email: &'static str,
    token: String,
    device: Uuid,
    next_seq: u64,
    /// B's own hook token (not limited to a car).
    hook_token: String,
    /// The webhook secret of B's own Zammad connection.
    zammad_secret: &'static str,
    /// A PKCE verifier of B's own.
    oidc_verifier: String,
    /// A login of B's own identity with its code.
    oidc_login: Login,
    /// B's ID token minted for B's own nonce (its token, its nonce), twice.
    oidc_token: (String, String),
    oidc_token_2: (String, String),
}

impl Attacker {
    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }
}

/// One attempt: an operation, as B, aimed at A's objects, and the refusal it must get.
struct Attempt {
    what: &'static str,
    token: Option<String>,
    path: String,
    body: Option<Value>,
    /// Sent as the body instead of `body` (for signed webhooks, whose signature covers the bytes).
    raw: Option<String>,
    headers: Vec<(&'static str, String)>,
    expect: Expect,
}

/// What B must get.
enum Expect {
    /// This status and error `code`.
    Refused(StatusCode, &'static str),
    /// The id in the request cannot name anything of A's: it is chosen by the caller and looked up
    /// only within the caller's own account (e.g. a hook `event_id`, or a car hint that is
    /// resolved against the caller's own cars). B's call may then succeed, but only on B's own
    /// account: 200, not answered from A's event (`duplicate: false`), a trip other than A's;
    /// and A's log is unchanged (checked after all attempts). `why` documents the exemption.
    OwnAccountOnly { why: &'static str, not_trip: Uuid },
    /// A pushed op whose id another account used: stored as a new op of B's own space, exactly
    /// as an op with an unused id would be (200, accepted); A's log is unchanged (checked after
    /// all attempts). `why` documents it.
    OwnOp { why: &'static str },
}

/// How to exercise each id-taking operation of the OpenAPI document. Key: `(method, path)` as in
/// the document. Add a row here for every new route that takes an object id.
fn id_routes() -> Vec<(&'static str, &'static str)> {
    vec![
        ("post", "/v1/auth/signup"),
        ("post", "/v1/auth/login"),
        ("post", "/v1/devices/session"),
        ("patch", "/v1/devices/{device_id}"),
        ("delete", "/v1/devices/{device_id}"),
        ("post", "/v1/push"),
        ("post", "/v1/sync"),
        ("delete", "/v1/hooks/tokens/{id}"),
        ("get", "/v1/connections/zammad/{id}"),
        ("delete", "/v1/connections/zammad/{id}"),
        ("post", "/v1/hooks/zammad/{connection}"),
        ("get", "/v1/connections/{id}"),
        ("patch", "/v1/connections/{id}"),
        ("delete", "/v1/connections/{id}"),
        ("post", "/v1/hooks/{provider}/{connection}"),
        ("get", "/v1/connections/{id}/mappings"),
        ("put", "/v1/connections/{id}/mappings/{project_id}"),
        ("delete", "/v1/connections/{id}/mappings/{project_id}"),
        ("post", "/v1/connections/{id}/pause"),
        ("post", "/v1/connections/{id}/resume"),
        ("post", "/v1/connections/{id}/run"),
        ("get", "/v1/connections/{id}/status"),
        ("get", "/v1/connections/{id}/log"),
        ("get", "/v1/connections/{id}/lookups/{what}"),
        ("post", "/v1/conflicts/{id}/resolve"),
        ("post", "/v1/hooks/trip/start"),
        ("post", "/v1/hooks/trip/ping"),
        ("post", "/v1/hooks/trip/end"),
        ("post", "/v1/auth/oidc/{provider}/start"),
        ("post", "/v1/auth/oidc/{provider}/finish"),
        ("post", "/v1/auth/oidc/{provider}/nonce"),
        ("post", "/v1/auth/oidc/{provider}/id-token"),
    ]
}

/// The attempts for one row of [`id_routes`]; `None` for an operation the table doesn't know.
fn attempts(method: &str, path: &str, a: &Victim, b: &mut Attacker) -> Option<Vec<Attempt>> {
    let bt = Some(b.token.clone());
    let refuse = |what, token: Option<String>, path: &str, body: Value, status, code| Attempt {
        what,
        token,
        path: path.to_owned(),
        body: Some(body),
        raw: None,
        headers: Vec::new(),
        expect: Expect::Refused(status, code),
    };
    // B's hook token, A's event id and A's car.
    let hook_event = json!({
        "event_id": a.hook_event,
        "car": a.car.to_string(),
        "lat": 53.01,
        "lon": 8.81,
    });
    Some(match (method, path) {
        ("post", "/v1/auth/signup") => vec![
            refuse(
                "sign up a new account on A's device id",
                None,
                path,
                creds("mallory-new@example.org", a.device),
                StatusCode::CONFLICT,
                "device_taken",
            ),
            refuse(
                "sign up a new account on A's watch id",
                None,
                path,
                creds("mallory-new@example.org", a.watch),
                StatusCode::CONFLICT,
                "device_taken",
            ),
        ],
        ("post", "/v1/auth/login") => vec![
            refuse(
                "log B in on A's device id",
                None,
                path,
                creds(b.email, a.device),
                StatusCode::CONFLICT,
                "device_taken",
            ),
            refuse(
                "log B in on A's watch id",
                None,
                path,
                creds(b.email, a.watch),
                StatusCode::CONFLICT,
                "device_taken",
            ),
        ],
        ("post", "/v1/devices/session") => vec![
            refuse(
                "mint a session for A's device",
                bt.clone(),
                path,
                json!({"device_id": a.device, "device_name": "stolen"}),
                StatusCode::CONFLICT,
                "device_taken",
            ),
            refuse(
                "mint a session for A's watch",
                bt.clone(),
                path,
                json!({"device_id": a.watch}),
                StatusCode::CONFLICT,
                "device_taken",
            ),
        ],
        ("post", "/v1/push" | "/v1/sync") => {
            // Ops claiming to be A's device, with B's token.
            let as_a = json!({"ops": [upsert(a.device, 3, "trip", a.trip)]});
            let as_watch = json!({"ops": [upsert(a.watch, 1, "car", Uuid::now_v7())]});
            // B's own device re-using one of A's op ids (a different one per route, so each is
            // new in B's space).
            let mut reuse = upsert(b.device, b.seq(), "trip", a.trip);
            reuse["op_id"] = a.op_ids[usize::from(path == "/v1/sync")].clone();
            vec![
                refuse(
                    "push an op as A's device",
                    bt.clone(),
                    path,
                    as_a,
                    StatusCode::FORBIDDEN,
                    "wrong_device",
                ),
                refuse(
                    "push an op as A's watch",
                    bt.clone(),
                    path,
                    as_watch,
                    StatusCode::FORBIDDEN,
                    "wrong_device",
                ),
                Attempt {
                    what: "push an op re-using A's op id",
                    token: bt.clone(),
                    path: path.to_owned(),
                    body: Some(json!({"ops": [reuse]})),
                    raw: None,
                    headers: Vec::new(),
                    expect: Expect::OwnOp {
                        why: "op ids are unique per space: A's id is unknown in B's space, so \
                              B's op is stored in B's own log like any new op (refusing it \
                              would confirm that the id exists elsewhere)",
                    },
                },
            ]
        }
        ("patch", "/v1/devices/{device_id}") => vec![refuse(
            "rename A's watch",
            bt.clone(),
            &format!("/v1/devices/{}", a.watch),
            json!({"name": "stolen"}),
            StatusCode::NOT_FOUND,
            "not_found",
        )],
        ("delete", "/v1/devices/{device_id}") => vec![refuse(
            "revoke A's watch",
            bt.clone(),
            &format!("/v1/devices/{}", a.watch),
            json!({}),
            StatusCode::NOT_FOUND,
            "not_found",
        )],
        ("delete", "/v1/hooks/tokens/{id}") => vec![refuse(
            "revoke A's hook token",
            bt.clone(),
            &format!("/v1/hooks/tokens/{}", a.hook_token_id),
            json!({}),
            StatusCode::NOT_FOUND,
            "not_found",
        )],
        ("get" | "delete", "/v1/connections/zammad/{id}") => vec![refuse(
            "reach A's Zammad connection",
            bt.clone(),
            &format!("/v1/connections/zammad/{}", a.zammad),
            json!({}),
            StatusCode::NOT_FOUND,
            "not_found",
        )],
        ("get" | "patch" | "delete", "/v1/connections/{id}") => vec![refuse(
            "reach A's connection through the generic registry",
            bt.clone(),
            &format!("/v1/connections/{}", a.zammad),
            json!({"label": "B's now", "secrets": {"webhook_secret": "b-chose-this"}}),
            StatusCode::NOT_FOUND,
            "not_found",
        )],
        (
            "get" | "put" | "delete" | "post",
            "/v1/connections/{id}/mappings"
            | "/v1/connections/{id}/mappings/{project_id}"
            | "/v1/connections/{id}/pause"
            | "/v1/connections/{id}/resume"
            | "/v1/connections/{id}/run"
            | "/v1/connections/{id}/status"
            | "/v1/connections/{id}/log"
            | "/v1/connections/{id}/lookups/{what}",
        ) => {
            let concrete = path
                .replace("{id}", &a.zammad)
                .replace("{project_id}", &Uuid::now_v7().to_string())
                .replace("{what}", "types");
            vec![refuse(
                "reach A's connector",
                bt.clone(),
                &concrete,
                json!({"target": "ticket=1"}),
                StatusCode::NOT_FOUND,
                "not_found",
            )]
        }
        ("post", "/v1/conflicts/{id}/resolve") => vec![refuse(
            "resolve A's conflict",
            bt.clone(),
            &format!("/v1/conflicts/{}/resolve", a.conflict),
            json!({"action": "dismiss"}),
            StatusCode::NOT_FOUND,
            "not_found",
        )],
        // The generic intake serves `/v1/hooks/zammad/…` too: the same forgery, both rows.
        ("post", "/v1/hooks/zammad/{connection}" | "/v1/hooks/{provider}/{connection}") => {
            // No bearer: the caller is whoever holds a connection's webhook secret. "Another
            // account" is a delivery signed with B's own connection's secret, to A's connection.
            let raw = json!({"ticket": {"id": 1, "title": "forged"}, "article": {}}).to_string();
            let signed = vec![
                ("X-Hub-Signature", zammad_signature(b.zammad_secret, &raw)),
                ("X-Zammad-Delivery", "forged-1".to_owned()),
            ];
            let to_a = format!("/v1/hooks/zammad/{}", a.zammad);
            vec![
                Attempt {
                    what: "deliver to A's connection, signed with B's webhook secret",
                    token: None,
                    path: to_a.clone(),
                    body: None,
                    raw: Some(raw.clone()),
                    headers: signed.clone(),
                    expect: Expect::Refused(StatusCode::UNAUTHORIZED, "bad_signature"),
                },
                Attempt {
                    what: "deliver to A's connection, signed with B's secret, with B's token",
                    token: bt.clone(),
                    path: to_a,
                    body: None,
                    raw: Some(raw),
                    headers: signed,
                    expect: Expect::Refused(StatusCode::UNAUTHORIZED, "bad_signature"),
                },
            ]
        }
        // B has no trip of its own open: operations run in `(method, path)` order, so these come
        // before B's own start below. A's open trip must not be continued or ended by B.
        ("post", "/v1/hooks/trip/ping" | "/v1/hooks/trip/end") => vec![refuse(
            "ping or end A's open hook trip (A's event id and car) with B's hook token",
            Some(b.hook_token.clone()),
            path,
            hook_event,
            StatusCode::CONFLICT,
            "no_active_trip",
        )],
        ("post", "/v1/hooks/trip/start") => vec![Attempt {
            what: "start a trip with A's event id and A's car, with B's hook token",
            token: Some(b.hook_token.clone()),
            path: path.to_owned(),
            body: Some(hook_event),
            raw: None,
            headers: Vec::new(),
            expect: Expect::OwnAccountOnly {
                why: "event ids are the caller's own (deduplicated per account) and the car hint \
                      is resolved only against the caller's cars; an unknown hint is kept as \
                      a hint (docs/hooks.md), so B starts its own trip without A's car",
                not_trip: a.hook_trip,
            },
        }],
        // The path names a provider, not an account's object; what must not work is a provider
        // the relay does not have (no outbound request to a caller-chosen place).
        ("post", "/v1/auth/oidc/{provider}/start") => vec![refuse(
            "start a sign-in at a provider this relay does not configure",
            bt.clone(),
            "/v1/auth/oidc/evil/start",
            json!({"redirect_uri": idp::LOOPBACK_REDIRECT, "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                   "code_challenge_method": "S256"}),
            StatusCode::NOT_FOUND,
            "unknown_provider",
        )],
        ("post", "/v1/auth/oidc/{provider}/nonce") => vec![refuse(
            "ask a nonce of a provider this relay does not configure",
            bt.clone(),
            "/v1/auth/oidc/evil/nonce",
            json!({}),
            StatusCode::NOT_FOUND,
            "unknown_provider",
        )],
        ("post", "/v1/auth/oidc/{provider}/finish") => {
            let finish = |login: &Login, verifier: &str, device: Uuid| {
                json!({"state": login.state, "code": login.code, "code_verifier": verifier,
                       "device_id": device, "device_name": "stolen"})
            };
            vec![
                refuse(
                    "finish A's pending login (A's state and code) with B's own verifier",
                    bt.clone(),
                    "/v1/auth/oidc/idp/finish",
                    finish(&a.oidc_login, &b.oidc_verifier, b.device),
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                ),
                refuse(
                    "finish A's pending login at another provider",
                    None,
                    "/v1/auth/oidc/idp2/finish",
                    finish(&a.oidc_login, &a.oidc_login.verifier, b.device),
                    StatusCode::BAD_REQUEST,
                    "invalid_state",
                ),
                refuse(
                    "sign B's own identity in on A's device id",
                    None,
                    "/v1/auth/oidc/idp/finish",
                    finish(&b.oidc_login, &b.oidc_login.verifier, a.device),
                    StatusCode::CONFLICT,
                    "device_taken",
                ),
                refuse(
                    "link A's identity to B's account with B's token",
                    bt.clone(),
                    "/v1/auth/oidc/idp/finish",
                    finish(
                        &a.oidc_identity_login,
                        &a.oidc_identity_login.verifier,
                        b.device,
                    ),
                    StatusCode::CONFLICT,
                    "identity_taken",
                ),
            ]
        }
        ("post", "/v1/auth/oidc/{provider}/id-token") => {
            let exchange = |token: &str, nonce: &str, device: Uuid| json!({"id_token": token, "nonce": nonce, "device_id": device});
            vec![
                refuse(
                    "redeem A's nonce with B's ID token minted for another nonce",
                    None,
                    "/v1/auth/oidc/idp/id-token",
                    exchange(&b.oidc_token.0, &a.oidc_nonce, b.device),
                    StatusCode::UNAUTHORIZED,
                    "invalid_id_token",
                ),
                refuse(
                    "sign B's own identity in by ID token on A's watch id",
                    None,
                    "/v1/auth/oidc/idp/id-token",
                    exchange(&b.oidc_token_2.0, &b.oidc_token_2.1, a.watch),
                    StatusCode::CONFLICT,
                    "device_taken",
                ),
                refuse(
                    "link A's identity to B's account by ID token with B's token",
                    bt.clone(),
                    "/v1/auth/oidc/idp/id-token",
                    exchange(&a.oidc_identity_token.0, &a.oidc_identity_token.1, b.device),
                    StatusCode::CONFLICT,
                    "identity_taken",
                ),
            ]
        }
        _ => return None,
    })
}

/// `start` at the test provider, then the browser: a login with its code, not finished.
async fn oidc_login(relay: &Relay, idp: &idp::Idp, user: &idp::User) -> Login {
    let (verifier, challenge) = idp::pkce();
    let uri = "http://127.0.0.1:50999/callback";
    let (s, started) = relay
        .post(
            "/v1/auth/oidc/idp/start",
            None,
            &json!({"redirect_uri": uri, "code_challenge": challenge, "code_challenge_method": "S256"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{started}");
    let back = idp
        .authorize(started["authorization_url"].as_str().expect("url"), user)
        .await;
    Login {
        state: idp::query(&back, "state").expect("state"),
        code: idp::query(&back, "code").expect("code"),
        verifier,
    }
}

/// A nonce of the relay and the native app's ID token for it.
async fn oidc_token(relay: &Relay, idp: &idp::Idp, user: &idp::User) -> (String, String) {
    let (s, n) = relay
        .post("/v1/auth/oidc/idp/nonce", None, &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{n}");
    let nonce = n["nonce"].as_str().expect("nonce").to_owned();
    let token = idp.native_id_token(idp::NATIVE_CLIENT, &nonce, user).await;
    (token, nonce)
}

async fn oidc_finish(relay: &Relay, login: &Login, bearer: Option<&str>, device: Uuid) -> Value {
    let (s, session) = relay
        .post(
            "/v1/auth/oidc/idp/finish",
            bearer,
            &json!({"state": login.state, "code": login.code, "code_verifier": login.verifier,
                    "device_id": device}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{session}");
    session
}

/// Resolves a local `$ref` of the document.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').expect("local $ref");
            resolve(doc, doc.pointer(pointer).expect("$ref target"))
        }
        None => schema,
    }
}

/// Whether a schema (followed through refs, arrays, objects and combinators) has an id in it:
/// a uuid-formatted value or a property called `id` / `*_id`.
fn names_an_id(doc: &Value, schema: &Value, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    let schema = resolve(doc, schema);
    if schema.get("format").and_then(Value::as_str) == Some("uuid") {
        return true;
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            if name == "id" || name.ends_with("_id") || names_an_id(doc, prop, depth + 1) {
                return true;
            }
        }
    }
    if let Some(items) = schema.get("items")
        && names_an_id(doc, items, depth + 1)
    {
        return true;
    }
    ["allOf", "anyOf", "oneOf"].iter().any(|k| {
        schema
            .get(*k)
            .and_then(Value::as_array)
            .is_some_and(|all| all.iter().any(|s| names_an_id(doc, s, depth + 1)))
    })
}

/// Every `(method, path)` of the document that names an object by id.
fn id_taking_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let in_path = path.contains('{');
            let in_params = op["parameters"].as_array().is_some_and(|ps| {
                ps.iter().map(|p| resolve(doc, p)).any(|p| {
                    let name = p["name"].as_str().unwrap_or_default();
                    p["in"] == "path"
                        || name == "id"
                        || name.ends_with("_id")
                        || names_an_id(doc, &p["schema"], 0)
                })
            });
            let in_body = op["requestBody"]["content"]
                .as_object()
                .is_some_and(|c| c.values().any(|m| names_an_id(doc, &m["schema"], 0)));
            if in_path || in_params || in_body {
                found.insert((method.clone(), path.clone()));
            }
        }
    }
    found
}

async fn every_id_taking_route_refuses_another_account(db: TestDb) {
    let master_keys = tacho_relay::secrets::MasterKeys::generate_line(1);
    let idp = idp::Idp::start(&[]);
    let providers = tacho_relay::oidc::config::parse(
        &json!({"providers": [
            {"id": "idp", "kind": "generic", "issuer": idp.issuer, "client_id": idp::RELAY_CLIENT,
             "client_secret": idp::RELAY_SECRET, "redirect_uris": [idp::LOOPBACK_REDIRECT],
             "extra_audiences": [idp::NATIVE_CLIENT]},
            {"id": "idp2", "kind": "generic", "issuer": idp.issuer, "client_id": idp::RELAY_CLIENT,
             "client_secret": idp::RELAY_SECRET, "redirect_uris": [idp::LOOPBACK_REDIRECT]},
        ]})
        .to_string(),
        std::path::Path::new("."),
        &|_| None,
    )
    .expect("providers");
    let relay = start_with(&db, |c| {
        c.master_keys =
            Some(tacho_relay::secrets::MasterKeys::parse(&master_keys).expect("master key"));
        c.oidc_providers = providers;
    })
    .await;

    // A: two devices, a trip with points, a car, a hook token and a trip it opened, a Zammad
    // connection; all through the API.
    let a_dev = Uuid::now_v7();
    let a_session = relay.signup("alice@example.org", a_dev).await;
    let at = token(&a_session);
    let watch = Uuid::now_v7();
    let (s, ws) = relay
        .post(
            "/v1/devices/session",
            Some(&at),
            &json!({"device_id": watch}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ws}");
    let trip = Uuid::now_v7();
    let ops = [upsert(a_dev, 1, "trip", trip), points(a_dev, 2, trip)];
    let (s, b) = relay
        .post("/v1/push", Some(&at), &json!({"ops": ops}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let car = Uuid::now_v7();
    let (s, b) = relay
        .post(
            "/v1/push",
            Some(&token(&ws)),
            &json!({"ops": [upsert(watch, 1, "car", car)]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, snapshot) = relay.get("/v1/snapshot", Some(&at)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(snapshot["cursor"], 3, "{snapshot}");
    let (s, a_hook) = relay
        .post(
            "/v1/hooks/tokens",
            Some(&at),
            &json!({"label": "A's car", "car": car.to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a_hook}");
    let a_hook_token = a_hook["token"].as_str().expect("hook token").to_owned();
    let hook_event = "a-start";
    let (s, started) = relay
        .post(
            "/v1/hooks/trip/start",
            Some(&a_hook_token),
            &json!({"event_id": hook_event, "car": car.to_string(), "lat": 53.0, "lon": 8.8}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{started}");
    assert_eq!(started["state"], "active", "{started}");
    let hook_trip: Uuid = started["trip_id"]
        .as_str()
        .expect("trip_id")
        .parse()
        .expect("uuid");
    let (s, a_zammad) = relay
        .post(
            "/v1/connections/zammad",
            Some(&at),
            &json!({"base_url": "https://helpdesk.a.example.org", "api_token": "a-api-token",
                    "webhook_secret": "a-webhook-secret"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a_zammad}");
    let zammad = a_zammad["id"].as_str().expect("id").to_owned();
    let (s, snapshot) = relay.get("/v1/snapshot", Some(&at)).await;
    assert_eq!(s, StatusCode::OK);
    let op_ids = snapshot["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .map(|o| o["op_id"].clone())
        .collect();
    // A's OpenID identity (linked to A's password account with A's token), a pending login of
    // A's, a login of A's identity with its code, a nonce of A's with A's token for it, and
    // another of A's ID tokens.
    let alice = idp::User::new("alice-oidc", "alice@example.org");
    let link = oidc_login(&relay, &idp, &alice).await;
    let linked = oidc_finish(&relay, &link, Some(&at), a_dev).await;
    assert_eq!(linked["account_id"], a_session["account_id"]);
    let a_pending = oidc_login(&relay, &idp, &alice).await;
    let a_identity_login = oidc_login(&relay, &idp, &alice).await;
    let (a_token, a_nonce) = oidc_token(&relay, &idp, &alice).await;
    let a_identity_token = oidc_token(&relay, &idp, &alice).await;
    let conflict = Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO connector_conflicts (id, connection_id, account_id, kind, message, \
         raised_at, state) VALUES ($1, $2, $3, 'refused', 'A''s', 1, 'open')",
    )
    .bind(&conflict)
    .bind(&zammad)
    .bind(a_session["account_id"].as_str().expect("account"))
    .execute(&relay.state.db().pool)
    .await
    .expect("A's conflict");
    let victim = Victim {
        oidc_login: a_pending.clone(),
        oidc_identity_login: a_identity_login,
        oidc_nonce: a_nonce.clone(),
        oidc_identity_token: a_identity_token,
        session: a_session.clone(),
        device: a_dev,
        watch,
        trip,
        car,
        hook_token_id: a_hook["id"].as_str().expect("id").to_owned(),
        hook_token: a_hook_token,
        hook_event,
        hook_trip,
        zammad: zammad.clone(),
        conflict: conflict.clone(),
        op_ids,
        snapshot,
    };

    let b_dev = Uuid::now_v7();
    let b_session = relay.signup("mallory@example.org", b_dev).await;
    let bt = token(&b_session);
    let (s, b_hook) = relay
        .post("/v1/hooks/tokens", Some(&bt), &json!({"label": "B's"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b_hook}");
    let b_zammad_secret = "b-webhook-secret";
    let (s, b_zammad) = relay
        .post(
            "/v1/connections/zammad",
            Some(&bt),
            &json!({"base_url": "https://helpdesk.b.example.org", "api_token": "b-api-token",
                    "webhook_secret": b_zammad_secret}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b_zammad}");
    // B's own OpenID identity, linked to B's account with B's token.
    let mallory = idp::User::new("mallory-oidc", "mallory@example.org");
    let b_link = oidc_login(&relay, &idp, &mallory).await;
    let b_linked = oidc_finish(&relay, &b_link, Some(&bt), b_dev).await;
    assert_eq!(b_linked["account_id"], b_session["account_id"]);
    let b_login = oidc_login(&relay, &idp, &mallory).await;
    let b_token = oidc_token(&relay, &idp, &mallory).await;
    let b_token_2 = oidc_token(&relay, &idp, &mallory).await;
    let mut attacker = Attacker {
        oidc_verifier: idp::pkce().0,
        oidc_login: b_login,
        oidc_token: b_token,
        oidc_token_2: b_token_2,
        email: "mallory@example.org",
        token: bt,
        device: b_dev,
        next_seq: 0,
        hook_token: b_hook["token"].as_str().expect("hook token").to_owned(),
        zammad_secret: b_zammad_secret,
    };
    assert_ne!(b_session["space_id"], a_session["space_id"]);

    let (s, doc) = relay.get("/v1/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    let found = id_taking_operations(&doc);
    let known: BTreeSet<(String, String)> = id_routes()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
    let unknown: Vec<_> = found.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "operations that take an object id but have no row in authz.rs id_routes(): {unknown:?} \
         — add how to create the object and the refusal to expect"
    );
    let stale: Vec<_> = known.difference(&found).collect();
    assert!(
        stale.is_empty(),
        "id_routes() rows no longer in the OpenAPI document (or no longer taking an id): {stale:?}"
    );

    let mut tried = 0;
    for (method, path) in &found {
        let list = attempts(method, path, &victim, &mut attacker)
            .unwrap_or_else(|| panic!("no attempts for {method} {path}"));
        assert!(!list.is_empty(), "{method} {path}: no attempts");
        for attempt in list {
            let (status, body) = relay
                .send(
                    method,
                    &attempt.path,
                    attempt.token.as_deref(),
                    attempt.body.as_ref(),
                    attempt.raw.as_deref(),
                    &attempt.headers,
                )
                .await;
            let what = format!("{method} {} ({})", attempt.path, attempt.what);
            match attempt.expect {
                Expect::Refused(want, code) => {
                    assert!(
                        !status.is_success() && !status.is_server_error(),
                        "{what}: B got {status} {body}"
                    );
                    assert_eq!(
                        (status, body["code"].as_str()),
                        (want, Some(code)),
                        "{what}: {body}"
                    );
                }
                Expect::OwnOp { why } => {
                    assert_eq!(status, StatusCode::OK, "{what} ({why}): {body}");
                    let push = if body["push"].is_object() {
                        &body["push"]
                    } else {
                        &body
                    };
                    assert_eq!(
                        (&push["accepted"], &push["duplicates"]),
                        (&json!(1), &json!(0)),
                        "{what} ({why}): {body}"
                    );
                }
                Expect::OwnAccountOnly { why, not_trip } => {
                    assert_eq!(status, StatusCode::OK, "{what} ({why}): {body}");
                    assert_eq!(
                        body["duplicate"], false,
                        "{what}: answered from A's event: {body}"
                    );
                    assert_ne!(body["trip_id"], json!(not_trip), "{what}: A's trip: {body}");
                }
            }
            tried += 1;
        }
    }
    assert!(tried >= 29, "only {tried} attempts ran");

    // Nothing of A changed, and A's devices are still A's.
    let (s, after) = relay
        .get("/v1/snapshot", Some(&token(&victim.session)))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(after, victim.snapshot, "A's log changed under B's attempts");
    // A's hook token is still A's: listed, and it still drives A's open trip.
    let (s, listed) = relay.get("/v1/hooks/tokens", Some(&at)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        listed["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .any(|t| t["id"] == victim.hook_token_id.as_str()),
        "A's hook token is gone: {listed}"
    );
    let (s, pinged) = relay
        .post(
            "/v1/hooks/trip/ping",
            Some(&victim.hook_token),
            &json!({"event_id": "a-ping", "lat": 53.001, "lon": 8.801}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "A's hook token still works: {pinged}");
    assert_eq!(pinged["trip_id"], json!(victim.hook_trip), "{pinged}");
    assert_eq!(pinged["duplicate"], false, "{pinged}");
    // A's Zammad connection is unchanged, got no event from B's deliveries, and still takes
    // deliveries signed with its own secret.
    let (s, shown) = relay
        .get(&format!("/v1/connections/zammad/{zammad}"), Some(&at))
        .await;
    assert_eq!((s, &shown), (StatusCode::OK, &a_zammad));
    assert_eq!(
        zammad_events(&relay, &zammad).await,
        0,
        "B's delivery stored"
    );
    let raw = json!({"ticket": {"id": 7}, "article": {}}).to_string();
    let (s, b) = relay
        .send(
            "post",
            &format!("/v1/hooks/zammad/{zammad}"),
            None,
            None,
            Some(&raw),
            &[
                (
                    "X-Hub-Signature",
                    zammad_signature("a-webhook-secret", &raw),
                ),
                ("X-Zammad-Delivery", "a-1".to_owned()),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "A's own delivery: {b}");
    assert_eq!(zammad_events(&relay, &zammad).await, 1);
    let (s, b) = relay
        .post(
            "/v1/push",
            Some(&token(&victim.session)),
            &json!({"ops": [upsert(a_dev, 3, "trip", trip)]}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "A can still push after B's attempts: {b}"
    );
    let (s, b) = relay
        .post("/v1/auth/login", None, &creds("alice@example.org", a_dev))
        .await;
    assert_eq!(s, StatusCode::OK, "A can still log in on its device: {b}");
    // A's pending OpenID login and A's nonce survived B's attempts and still sign A in.
    let finished = oidc_finish(&relay, &a_pending, None, a_dev).await;
    assert_eq!(finished["account_id"], a_session["account_id"]);
    let (s, b) = relay
        .post(
            "/v1/auth/oidc/idp/id-token",
            None,
            &json!({"id_token": a_token, "nonce": a_nonce, "device_id": a_dev}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "A's nonce still works: {b}");
    assert_eq!(b["account_id"], a_session["account_id"]);
    // B's own log holds none of A's ops.
    let (s, b_snap) = relay.get("/v1/snapshot", Some(&attacker.token)).await;
    assert_eq!(s, StatusCode::OK);
    let a_ids: BTreeSet<String> = victim.op_ids.iter().map(ToString::to_string).collect();
    // B's ops come from B's device, or from B's automation device (B's own hook start).
    let b_automation: String =
        sqlx::query("SELECT device_id FROM automation_devices WHERE account_id = $1")
            .bind(b_session["account_id"].as_str().expect("account_id"))
            .fetch_one(&relay.state.db().pool)
            .await
            .expect("B's automation device")
            .try_get("device_id")
            .expect("device_id");
    let b_devices = [json!(attacker.device), json!(b_automation)];
    for op in b_snap["ops"].as_array().expect("ops") {
        // Op ids are unique per space: an id of A's here is B's own op (B's device, B's text),
        // never A's op.
        if a_ids.contains(&op["op_id"].to_string()) {
            assert_eq!(op["device"], json!(attacker.device), "{b_snap}");
        }
        assert!(b_devices.contains(&op["device"]), "{b_snap}");
        assert_ne!(op["entity_id"], json!(victim.hook_trip), "{b_snap}");
        assert_ne!(op["fields"]["car_id"], json!(victim.car), "{b_snap}");
    }
}

fn assert_refused(status: StatusCode, body: &Value, code: &str, what: &str) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    assert_eq!(body["code"], code, "{what}: {body}");
}

async fn forged_expired_and_replayed_tokens_are_refused(db: TestDb) {
    let relay = start_with(&db, |c| {
        c.access_ttl = Duration::from_millis(1500);
        c.refresh_reuse_grace = Duration::ZERO;
    })
    .await;
    let device = Uuid::now_v7();
    let session = relay.signup("trent@example.org", device).await;
    let t = token(&session);
    assert_eq!(relay.get("/v1/snapshot", Some(&t)).await.0, StatusCode::OK);
    let claims = Claims {
        account: session["account_id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid"),
        space: session["space_id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid"),
        device,
        exp_ms: chrono::Utc::now().timestamp_millis() + 3_600_000,
        iat_ms: 0,
    };
    let (signed, _) = t.rsplit_once('.').expect("signature");

    // Forged: the right claims without a signature, with an empty one, signed with another key,
    // under another prefix, or cut short.
    for (what, forged) in [
        ("no signature", signed.to_owned()),
        ("empty signature", format!("{signed}.")),
        ("signed with another key", sign(&[0_u8; 32], &claims)),
        ("signed with an empty key", sign(&[], &claims)),
        ("v2 prefix", t.replacen("v1.", "v2.", 1)),
        ("no prefix", t.trim_start_matches("v1.").to_owned()),
        ("truncated", t[..t.len() - 4].to_owned()),
        ("garbage", "v1.%%%.%%%".to_owned()),
        ("very long", format!("{t}{}", "A".repeat(6000))),
    ] {
        let (s, b) = relay.get("/v1/snapshot", Some(&forged)).await;
        assert_refused(s, &b, "bad_token", what);
    }
    // A token signed by another relay (another database, another key) is refused here.
    let other_db = TestDb::sqlite();
    let other = start_with(&other_db, |_| {}).await;
    let foreign = token(&other.signup("trent@example.org", device).await);
    let (s, b) = relay.get("/v1/snapshot", Some(&foreign)).await;
    assert_refused(s, &b, "bad_token", "token of another relay");
    // Validly signed but for claims with a longer expiry than issued: only the relay's key signs,
    // so a token re-signed with a far expiry must come from the key itself. Prove the key is the
    // only way: the relay's own key accepts it, any other key doesn't (checked above).
    let resigned = sign(relay.state.accounts().tokens().key(), &claims);
    assert_eq!(
        relay.get("/v1/snapshot", Some(&resigned)).await.0,
        StatusCode::OK
    );
    // Expired, correctly signed.
    let expired = sign(
        relay.state.accounts().tokens().key(),
        &Claims {
            exp_ms: chrono::Utc::now().timestamp_millis() - 1,
            ..claims.clone()
        },
    );
    let (s, b) = relay.get("/v1/snapshot", Some(&expired)).await;
    assert_refused(s, &b, "token_expired", "expired");
    // Wrong scheme or token kind.
    let (s, b) = relay.call("get", "/v1/snapshot", None, None).await;
    assert_refused(s, &b, "missing_token", "no header");
    let res = relay
        .http
        .get(format!("{}/v1/snapshot", relay.base))
        .header("Authorization", format!("Basic {t}"))
        .send()
        .await
        .expect("send");
    let (s, b) = answer(res).await;
    assert_refused(s, &b, "bad_token", "Basic scheme");
    let refresh = session["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let (s, b) = relay.get("/v1/snapshot", Some(&refresh)).await;
    assert_refused(s, &b, "bad_token", "refresh token used as access token");
    let (s, b) = relay
        .post("/v1/auth/refresh", None, &json!({"refresh_token": t}))
        .await;
    assert_refused(s, &b, "bad_token", "access token used as refresh token");

    // Replayed: a spent refresh token (and then the whole family), an access token after expiry,
    // and a refresh token after logout.
    let (s, next) = relay
        .post("/v1/auth/refresh", None, &json!({"refresh_token": refresh}))
        .await;
    assert_eq!(s, StatusCode::OK, "{next}");
    let (s, b) = relay
        .post("/v1/auth/refresh", None, &json!({"refresh_token": refresh}))
        .await;
    assert_refused(s, &b, "refresh_reused", "replayed refresh token");
    let (s, b) = relay
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": next["refresh_token"]}),
        )
        .await;
    assert_refused(s, &b, "bad_token", "refresh token of a revoked family");

    let (s, login) = relay
        .post("/v1/auth/login", None, &creds("trent@example.org", device))
        .await;
    assert_eq!(s, StatusCode::OK, "{login}");
    let (s, _) = relay
        .post("/v1/auth/logout", Some(&token(&login)), &json!({}))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = relay
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_refused(s, &b, "bad_token", "refresh token after logout");

    tokio::time::sleep(Duration::from_millis(1700)).await;
    for (what, old) in [
        ("first access token", &t),
        ("refreshed access token", &token(&next)),
    ] {
        let (s, b) = relay.get("/v1/snapshot", Some(old)).await;
        assert_refused(s, &b, "token_expired", what);
        let (s, b) = relay.post("/v1/push", Some(old), &json!({"ops": []})).await;
        assert_refused(s, &b, "token_expired", what);
    }
}

on_both_databases!(
    every_id_taking_route_refuses_another_account,
    forged_expired_and_replayed_tokens_are_refused,
);

/// The route discovery itself: a path parameter, an id in the query and an id in the body are
/// all found, and id-free operations are not.
#[test]
fn discovery_finds_ids_in_paths_queries_and_bodies() {
    let doc = json!({
        "paths": {
            "/v1/things/{thing}": {"delete": {}},
            "/v1/list": {"get": {"parameters": [{"name": "owner_id", "in": "query", "schema": {"type": "string"}}]}},
            "/v1/plain": {"get": {"parameters": [{"name": "cursor", "in": "query", "schema": {"type": "integer"}}]}},
            "/v1/body": {"post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}}}},
            "/v1/nested": {"post": {"requestBody": {"content": {"application/json": {"schema": {"type": "array", "items": {"properties": {"x": {"type": "string", "format": "uuid"}}}}}}}}},
            "/v1/none": {"post": {"requestBody": {"content": {"application/json": {"schema": {"properties": {"token": {"type": "string"}}}}}}}},
        },
        "components": {"schemas": {"B": {"properties": {"hook_id": {"type": "string"}}}}},
    });
    let found: Vec<(String, String)> = id_taking_operations(&doc).into_iter().collect();
    let want: Vec<(String, String)> = [
        ("delete", "/v1/things/{thing}"),
        ("get", "/v1/list"),
        ("post", "/v1/body"),
        ("post", "/v1/nested"),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
    .collect::<BTreeSet<_>>()
    .into_iter()
    .collect();
    assert_eq!(found, want);
}
