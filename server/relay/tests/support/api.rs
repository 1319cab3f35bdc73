//! Requests and ops shared by `relay.rs` and `hooks.rs` (the other suites speak to the relay
//! through helpers of their own).
#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::harness::{Relay, answer};

impl Relay {
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.expect("send")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.expect("send")).await
    }

    pub async fn signup(&self, email: &str, device: Uuid) -> Value {
        let (status, session) = self
            .post("/v1/auth/signup", None, &creds(email, device))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        session
    }

    pub async fn push(&self, token: &str, ops: &[Value]) -> (StatusCode, Value) {
        self.post("/v1/push", Some(token), &json!({ "ops": ops }))
            .await
    }

    pub async fn snapshot(&self, token: &str) -> Value {
        let (status, snap) = self.get("/v1/snapshot", Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{snap}");
        snap
    }
}

pub fn creds(email: &str, device: Uuid) -> Value {
    json!({"email": email, "password": "correct horse battery", "device_id": device, "device_name": "test"})
}

pub fn token(session: &Value) -> String {
    session["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

pub fn now_hlc() -> u64 {
    let ms = u64::try_from(chrono::Utc::now().timestamp_millis()).expect("ms");
    ms << 16
}

pub fn op(device: Uuid, seq: u64) -> Value {
    json!({
        "op_id": Uuid::now_v7(),
        "device": device,
        "device_seq": seq,
        "hlc": now_hlc() + seq,
        "entity": "trip",
        "entity_id": Uuid::now_v7(),
        "kind": "upsert",
        "fields": {"purpose": "business", "n": seq},
        "schema": 1,
    })
}

pub fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], want_code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}
