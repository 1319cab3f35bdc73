//! End-to-end tests: the real relay on a loopback port, spoken to over HTTP with reqwest.
//!
//! Every storage scenario runs twice: against a temporary SQLite file and against a fresh
//! PostgreSQL database `tacho_test_<random>` made through the `postgres` database on
//! 127.0.0.1:5432 (override with `TACHO_TEST_PG_URL`) and dropped afterwards. If PostgreSQL is
//! unreachable the PostgreSQL variants fail; they never skip.

// Test helpers may panic on broken fixtures; that is a test failure, not a bug in the relay.
#![allow(clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tacho_relay::{AppState, Config};
use uuid::Uuid;

#[path = "support/harness.rs"]
#[macro_use]
mod harness;
use harness::*;
#[path = "support/api.rs"]
mod api;
use api::*;

on_both_databases!(
    signup_login_refresh_rotation_and_reuse,
    a_refresh_retried_within_the_grace_period_is_not_reuse,
    second_device_pulls_with_cursors_and_duplicates_change_nothing,
    bad_ops_are_refused_and_the_queue_moves_on,
    malformed_requests_get_json_errors,
    accounts_are_isolated,
    expired_and_forged_tokens_are_refused,
    long_poll_wakes_on_push,
    many_long_polls_of_one_space_follow_the_log_exactly,
    concurrent_pushes_get_gap_free_cursors,
    health_readiness_and_openapi,
    a_locked_month_refuses_later_changes_and_keeps_earlier_ones,
);

async fn signup_login_refresh_rotation_and_reuse(db: TestDb) {
    // No retry grace here: any second use of a refresh token is reuse.
    let relay = start_with(&db, |c| c.refresh_reuse_grace = Duration::ZERO).await;
    let device = Uuid::now_v7();
    let session = relay.signup("Ann@Example.org", device).await;
    assert_eq!(session["device_id"], device.to_string());
    for key in [
        "account_id",
        "space_id",
        "access_token",
        "access_expires_at",
        "refresh_token",
    ] {
        assert!(session[key].is_string(), "{key} missing in {session}");
    }

    let (s, b) = relay
        .post(
            "/v1/auth/signup",
            None,
            &creds("ann@example.org", Uuid::now_v7()),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "email_taken");
    let mut weak = creds("bob@example.org", Uuid::now_v7());
    weak["password"] = json!("short");
    let (s, b) = relay.post("/v1/auth/signup", None, &weak).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "weak_password");
    let (s, b) = relay
        .post(
            "/v1/auth/signup",
            None,
            &creds("no-at-sign", Uuid::now_v7()),
        )
        .await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "bad_email");

    let mut wrong = creds("ann@example.org", device);
    wrong["password"] = json!("incorrect horse battery");
    let (s, b) = relay.post("/v1/auth/login", None, &wrong).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_credentials");
    let (s, b) = relay
        .post("/v1/auth/login", None, &creds("nobody@example.org", device))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_credentials");
    let (s, login) = relay
        .post("/v1/auth/login", None, &creds("ANN@example.org", device))
        .await;
    assert_eq!(s, StatusCode::OK, "{login}");
    assert_eq!(login["account_id"], session["account_id"]);
    assert_eq!(login["space_id"], session["space_id"]);

    // Rotation: each refresh spends the token and hands out a new one.
    let r0 = session["refresh_token"].clone();
    let (s, next) = relay
        .post("/v1/auth/refresh", None, &json!({"refresh_token": r0}))
        .await;
    assert_eq!(s, StatusCode::OK, "{next}");
    assert_ne!(next["refresh_token"], r0);
    assert_eq!(next["device_id"], device.to_string());
    assert_eq!(
        relay.get("/v1/snapshot", Some(&token(&next))).await.0,
        StatusCode::OK
    );
    let r1 = next["refresh_token"].clone();
    let (s, next2) = relay
        .post("/v1/auth/refresh", None, &json!({"refresh_token": r1}))
        .await;
    assert_eq!(s, StatusCode::OK, "{next2}");
    let r2 = next2["refresh_token"].clone();

    // Replaying a spent token revokes the whole family, including the newest token.
    let (s, b) = relay
        .post("/v1/auth/refresh", None, &json!({"refresh_token": r0}))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "refresh_reused");
    let (s, b) = relay
        .post("/v1/auth/refresh", None, &json!({"refresh_token": r2}))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
    let (s, b) = relay
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": "garbage"}),
        )
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_token");

    // The login's family is separate and still alive until logout.
    let lr = login["refresh_token"].clone();
    let (s, after) = relay
        .post("/v1/auth/refresh", None, &json!({"refresh_token": lr}))
        .await;
    assert_eq!(s, StatusCode::OK, "{after}");
    let (s, b) = relay
        .post("/v1/auth/logout", Some(&token(&after)), &json!({}))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, b) = relay
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": after["refresh_token"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
}

async fn second_device_pulls_with_cursors_and_duplicates_change_nothing(db: TestDb) {
    let relay = start(&db).await;
    let phone = Uuid::now_v7();
    let watch = Uuid::now_v7();
    let session = relay.signup("cara@example.org", phone).await;
    let phone_token = token(&session);
    let (s, ws) = relay
        .post(
            "/v1/devices/session",
            Some(&phone_token),
            &json!({"device_id": watch, "device_name": "watch"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ws}");
    assert_eq!(ws["account_id"], session["account_id"]);
    assert_eq!(ws["space_id"], session["space_id"]);
    assert_eq!(ws["device_id"], watch.to_string());
    let watch_token = token(&ws);

    let batch: Vec<Value> = (1..=5).map(|seq| op(phone, seq)).collect();
    let (s, pushed) = relay.push(&phone_token, &batch).await;
    assert_eq!(s, StatusCode::OK, "{pushed}");
    assert_eq!(pushed, json!({"accepted": 5, "duplicates": 0, "head": 5}));

    let mut cursor = 0;
    let mut seen = Vec::new();
    for (want, more) in [(2, true), (2, true), (1, false)] {
        let (s, page) = relay
            .get(
                &format!("/v1/pull?cursor={cursor}&limit=2"),
                Some(&watch_token),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let ops = page["ops"].as_array().expect("ops");
        assert_eq!(ops.len(), want, "{page}");
        assert_eq!(page["has_more"], more, "{page}");
        for o in ops {
            cursor += 1;
            assert_eq!(o["cursor"], cursor, "cursors are gap-free: {page}");
        }
        assert_eq!(page["cursor"], cursor);
        seen.extend(ops.iter().cloned());
    }
    for (got, sent) in seen.iter().zip(&batch) {
        let mut got = got.clone();
        got.as_object_mut().expect("object").remove("cursor");
        assert_eq!(&got, sent, "ops come back as pushed");
    }
    let (s, empty) = relay.get("/v1/pull?cursor=5", Some(&watch_token)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(empty, json!({"ops": [], "cursor": 5, "has_more": false}));

    // The same batch again: all duplicates, nothing changes.
    let (s, again) = relay.push(&phone_token, &batch).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again, json!({"accepted": 0, "duplicates": 5, "head": 5}));
    let snap = relay.snapshot(&watch_token).await;
    assert_eq!(snap["cursor"], 5);
    assert_eq!(snap["ops"].as_array().expect("ops").len(), 5);

    // A duplicate prefix followed by new ops: the new ones continue the sequences.
    let mut mixed = batch[3..].to_vec();
    mixed.push(op(phone, 6));
    let (s, r) = relay.push(&phone_token, &mixed).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r, json!({"accepted": 1, "duplicates": 2, "head": 6}));

    // The watch writes too, with its own sequence, through /v1/sync.
    let (s, synced) = relay
        .post(
            "/v1/sync",
            Some(&watch_token),
            &json!({"ops": [op(watch, 1)], "cursor": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{synced}");
    assert_eq!(
        synced["push"],
        json!({"accepted": 1, "duplicates": 0, "head": 7})
    );
    let pulled: Vec<i64> = synced["pull"]["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .map(|o| o["cursor"].as_i64().expect("cursor"))
        .collect();
    assert_eq!(pulled, vec![6, 7]);
    assert_eq!(synced["pull"]["cursor"], 7);
    assert_eq!(synced["pull"]["ops"][1]["device"], watch.to_string());
}

async fn bad_ops_are_refused_and_the_queue_moves_on(db: TestDb) {
    let relay = start(&db).await;
    let device = Uuid::now_v7();
    let t = token(&relay.signup("dan@example.org", device).await);
    let (s, b) = relay.push(&t, &[op(device, 1)]).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // A gap: the relay expects 2.
    let (s, b) = relay.push(&t, &[op(device, 3)]).await;
    assert_error(s, &b, StatusCode::CONFLICT, "seq_gap");
    assert_eq!(b["expected_seq"], 2);
    // A gap inside a batch stores none of it, not even the valid prefix.
    let (s, b) = relay.push(&t, &[op(device, 2), op(device, 4)]).await;
    assert_error(s, &b, StatusCode::CONFLICT, "seq_gap");
    assert_eq!(b["expected_seq"], 2);

    // Somebody else's op.
    let (s, b) = relay.push(&t, &[op(Uuid::now_v7(), 2)]).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "wrong_device");

    // An op dated an hour ahead, after a valid one: the valid one is kept,
    // the bad one is refused and consumes its sequence number so the
    // device's queue can move on (the device parks it).
    let mut future = op(device, 3);
    future["hlc"] = json!(now_hlc() + (3_600_000 << 16));
    let (s, b) = relay.push(&t, &[op(device, 2), future.clone()]).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_op");
    assert_eq!(b["op_id"], future["op_id"]);
    assert_eq!(b["index"], 1);
    assert_eq!(b["accepted"], 1);
    // Sending the refused op again (its answer may have been lost) refuses it
    // again, without consuming anything more.
    let (s, b) = relay.push(&t, &[future.clone()]).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_op");
    assert_eq!(b["op_id"], future["op_id"]);
    assert_eq!(b["accepted"], 0);

    // Invalid and out of sequence: refused, nothing consumed.
    let mut zero = op(device, 0);
    zero["device_seq"] = json!(0);
    let (s, b) = relay.push(&t, &[zero]).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_op");
    assert_eq!(b["index"], 0);
    let mut empty = op(device, 4);
    empty["fields"] = json!({});
    let (s, b) = relay.push(&t, &[empty]).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_op");
    assert_eq!(b["accepted"], 0);
    let mut far = op(device, 5);
    far["entity"] = json!("place");
    far["fields"] = json!({"center": {"lat": 95.0, "lon": 5.0}});
    let (s, b) = relay.push(&t, &[far]).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_op");
    assert!(
        b["message"].as_str().unwrap_or_default().contains("lat"),
        "{b}"
    );

    let too_many: Vec<Value> = (6..=1006).map(|seq| op(device, seq)).collect();
    let (s, b) = relay.push(&t, &too_many).await;
    assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "too_many_ops");

    let snap = relay.snapshot(&t).await;
    assert_eq!(snap["cursor"], 2, "{snap}");
    assert_eq!(snap["ops"].as_array().expect("ops").len(), 2);
    // 3, 4 and 5 were consumed by refusals: 6 is next.
    let (s, b) = relay.push(&t, &[op(device, 6)]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["head"], 3);
}

async fn malformed_requests_get_json_errors(db: TestDb) {
    let relay = start(&db).await;
    let device = Uuid::now_v7();
    let t = token(&relay.signup("eve@example.org", device).await);
    let url = format!("{}/v1/push", relay.base);
    let send =
        |req: reqwest::RequestBuilder| async move { answer(req.send().await.expect("send")).await };

    let (s, b) = send(
        relay
            .http
            .post(&url)
            .bearer_auth(&t)
            .header("content-type", "application/json")
            .body("{\"ops\": ["),
    )
    .await;
    assert!(s.is_client_error(), "{s}");
    assert_error(s, &b, s, "malformed_json");

    let (s, b) = send(
        relay
            .http
            .post(&url)
            .bearer_auth(&t)
            .header("content-type", "text/plain")
            .body("{}"),
    )
    .await;
    assert_error(
        s,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    // An oversized body, over a raw socket: the relay answers 413 from the
    // declared length and may close before the rest is sent, which an HTTP
    // client library would report as a broken request instead of the answer.
    let (s, b) = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = relay.base.trim_start_matches("http://").to_owned();
        let sock = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        let (mut rd, mut wr) = sock.into_split();
        let len = 5 * 1024 * 1024;
        let head = format!(
            "POST /v1/push HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {t}\r\n\
             Content-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        );
        // The writer may be cut off once the relay has answered: that's fine.
        let writer = tokio::spawn(async move {
            let _ = wr.write_all(head.as_bytes()).await;
            let _ = wr.write_all(&vec![b' '; len]).await;
        });
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(Ok(n)) =
            tokio::time::timeout(std::time::Duration::from_secs(5), rd.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        writer.abort();
        let text = String::from_utf8_lossy(&raw).to_string();
        let status: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
        let json_start = body.find('{').unwrap_or(0);
        let json_end = body.rfind('}').map_or(body.len(), |i| i + 1);
        (
            StatusCode::from_u16(status).expect("status"),
            serde_json::from_str::<Value>(&body[json_start..json_end]).unwrap_or(Value::Null),
        )
    };
    assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");

    let mut unknown = op(device, 1);
    unknown["entity"] = json!("spaceship");
    let (s, b) = relay.push(&t, &[unknown]).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");

    let (s, b) = relay.get("/v1/pull?cursor=abc", Some(&t)).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_query");
    let (s, b) = relay.get("/v1/nothing-here", Some(&t)).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = relay.get("/v1/push", Some(&t)).await;
    assert_error(s, &b, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(relay.snapshot(&t).await["cursor"], 0);
}

async fn accounts_are_isolated(db: TestDb) {
    let relay = start(&db).await;
    let a_dev = Uuid::now_v7();
    let a = relay.signup("fay@example.org", a_dev).await;
    let (s, b) = relay.push(&token(&a), &[op(a_dev, 1), op(a_dev, 2)]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let a_snapshot = relay.snapshot(&token(&a)).await;

    let b_dev = Uuid::now_v7();
    let bs = relay.signup("gus@example.org", b_dev).await;
    let bt = token(&bs);
    assert_ne!(bs["space_id"], a["space_id"]);
    let (s, page) = relay.get("/v1/pull?cursor=0", Some(&bt)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["ops"], json!([]), "B must not see A's ops");
    assert_eq!(relay.snapshot(&bt).await, json!({"cursor": 0, "ops": []}));
    let (s, b) = relay.push(&bt, &[op(a_dev, 3)]).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "wrong_device");
    // Re-using one of A's op ids is not a "duplicate" for B, nor refused (which would tell B the
    // id exists): op ids are unique per space, so it is a new op of B's own log.
    let (_, a_ops) = relay.get("/v1/pull?cursor=0", Some(&token(&a))).await;
    let mut copy = op(b_dev, 1);
    copy["op_id"] = a_ops["ops"][0]["op_id"].clone();
    let (s, b) = relay.push(&bt, &[copy]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (&b["accepted"], &b["duplicates"]),
        (&json!(1), &json!(0)),
        "{b}"
    );
    assert_eq!(
        relay.snapshot(&token(&a)).await,
        a_snapshot,
        "A's log changed"
    );

    // A's device id can't be claimed by B in any way.
    let (s, b) = relay
        .post(
            "/v1/devices/session",
            Some(&bt),
            &json!({"device_id": a_dev}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "device_taken");
    let (s, b) = relay
        .post("/v1/auth/login", None, &creds("gus@example.org", a_dev))
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "device_taken");
    let (s, b) = relay
        .post("/v1/auth/signup", None, &creds("hal@example.org", a_dev))
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "device_taken");
    assert_eq!(relay.snapshot(&token(&a)).await["cursor"], 2);
}

async fn expired_and_forged_tokens_are_refused(db: TestDb) {
    let relay = start_with(&db, |c| c.access_ttl = Duration::from_millis(800)).await;
    let device = Uuid::now_v7();
    let session = relay.signup("ivy@example.org", device).await;
    let t = token(&session);
    assert_eq!(relay.get("/v1/snapshot", Some(&t)).await.0, StatusCode::OK);

    let (s, b) = relay.get("/v1/snapshot", None).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "missing_token");
    // Flip the last signature character.
    let mut forged = t.clone();
    let last = forged.pop().expect("char");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let (s, b) = relay.get("/v1/snapshot", Some(&forged)).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_token");
    // Another account's claims under this token's signature.
    let other = relay.signup("jon@example.org", Uuid::now_v7()).await;
    let (_, sig) = t.rsplit_once('.').expect("sig");
    let (payload, _) = token(&other)
        .rsplit_once('.')
        .map(|(p, s)| (p.to_owned(), s.to_owned()))
        .expect("parts");
    let (s, b) = relay
        .get("/v1/snapshot", Some(&format!("{payload}.{sig}")))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "bad_token");

    // A second instance on the same database accepts the first one's tokens (shared key).
    let twin = start(&db).await;
    assert_eq!(twin.get("/v1/snapshot", Some(&t)).await.0, StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (s, b) = relay.get("/v1/snapshot", Some(&t)).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "token_expired");
    // The refresh token still buys a fresh access token.
    let (s, fresh) = relay
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": session["refresh_token"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{fresh}");
    assert_eq!(
        relay.get("/v1/snapshot", Some(&token(&fresh))).await.0,
        StatusCode::OK
    );
}

async fn long_poll_wakes_on_push(db: TestDb) {
    let relay = start(&db).await;
    let phone = Uuid::now_v7();
    let pt = token(&relay.signup("kim@example.org", phone).await);
    let (_, ws) = relay
        .post(
            "/v1/devices/session",
            Some(&pt),
            &json!({"device_id": Uuid::now_v7()}),
        )
        .await;
    let wt = token(&ws);

    // Nothing new: the poll ends at its wait.
    let started = Instant::now();
    let (s, page) = relay.get("/v1/pull?cursor=0&wait=1", Some(&wt)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["ops"], json!([]));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );

    let poll = {
        let (http, url, wt) = (
            relay.http.clone(),
            format!("{}/v1/pull?cursor=0&wait=20", relay.base),
            wt.clone(),
        );
        tokio::spawn(async move {
            let started = Instant::now();
            let res = answer(http.get(url).bearer_auth(wt).send().await.expect("send")).await;
            (res, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (s, b) = relay.push(&pt, &[op(phone, 1)]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let ((s, page), took) = poll.await.expect("poll");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["ops"].as_array().expect("ops").len(), 1, "{page}");
    assert_eq!(page["cursor"], 1);
    assert!(took < Duration::from_secs(5), "long-poll took {took:?}");
}

/// Forty devices of one space keep long-polling while the phone pushes 60
/// ops in 12 batches; each follows the log exactly (every op once, in cursor
/// order, bodies as pushed), whether its page came from the database or from
/// the space's recent ops in memory, including after it falls behind.
async fn many_long_polls_of_one_space_follow_the_log_exactly(db: TestDb) {
    let relay = start(&db).await;
    let phone = Uuid::now_v7();
    let pt = token(&relay.signup("fleet@example.org", phone).await);
    let mut pollers = Vec::new();
    for i in 0..40_u64 {
        let (_, ws) = relay
            .post(
                "/v1/devices/session",
                Some(&pt),
                &json!({"device_id": Uuid::now_v7()}),
            )
            .await;
        let (http, base, wt) = (relay.http.clone(), relay.base.clone(), token(&ws));
        pollers.push(tokio::spawn(async move {
            let (mut cursor, mut seen) = (0_i64, Vec::new());
            while seen.len() < 60 {
                // Some devices fall behind and catch up with small pages.
                if i % 4 == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let limit = if i % 3 == 0 { 7 } else { 1000 };
                let url = format!("{base}/v1/pull?cursor={cursor}&limit={limit}&wait=10");
                let (s, page) =
                    answer(http.get(url).bearer_auth(&wt).send().await.expect("send")).await;
                assert_eq!(s, StatusCode::OK, "{page}");
                for op in page["ops"].as_array().expect("ops") {
                    cursor += 1;
                    assert_eq!(op["cursor"], cursor, "poller {i}: {page}");
                    seen.push(op["fields"]["n"].as_u64().expect("n"));
                }
                assert_eq!(page["cursor"], cursor, "poller {i}");
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for batch in 0..12_u64 {
        let ops: Vec<Value> = (1..=5).map(|k| op(phone, batch * 5 + k)).collect();
        let (s, b) = relay.push(&pt, &ops).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let want: Vec<u64> = (1..=60).collect();
    for poller in pollers {
        let seen = tokio::time::timeout(Duration::from_secs(30), poller)
            .await
            .expect("a poller stalled")
            .expect("poller");
        assert_eq!(seen, want);
    }
}

async fn concurrent_pushes_get_gap_free_cursors(db: TestDb) {
    let relay = start(&db).await;
    let phone = Uuid::now_v7();
    let pt = token(&relay.signup("ned@example.org", phone).await);
    let watch = Uuid::now_v7();
    let (_, ws) = relay
        .post(
            "/v1/devices/session",
            Some(&pt),
            &json!({"device_id": watch}),
        )
        .await;
    let writers = [(phone, pt.clone()), (watch, token(&ws))].map(|(device, t)| {
        let relay = relay.clone();
        tokio::spawn(async move {
            for seq in 1..=15 {
                let (s, b) = relay.push(&t, &[op(device, seq)]).await;
                assert_eq!(s, StatusCode::OK, "{b}");
                assert_eq!(b["accepted"], 1, "{b}");
            }
        })
    });
    for w in writers {
        w.await.expect("writer");
    }
    let snap = relay.snapshot(&pt).await;
    let ops = snap["ops"].as_array().expect("ops");
    assert_eq!(snap["cursor"], 30);
    let cursors: Vec<i64> = ops
        .iter()
        .map(|o| o["cursor"].as_i64().expect("cursor"))
        .collect();
    assert_eq!(
        cursors,
        (1..=30).collect::<Vec<_>>(),
        "gap-free and ordered"
    );
    for device in [phone, watch] {
        let seqs: Vec<u64> = ops
            .iter()
            .filter(|o| o["device"] == device.to_string())
            .map(|o| o["device_seq"].as_u64().expect("seq"))
            .collect();
        assert_eq!(seqs, (1..=15).collect::<Vec<_>>());
    }
}

async fn health_readiness_and_openapi(db: TestDb) {
    let relay = start(&db).await;
    assert_eq!(relay.get("/healthz", None).await.0, StatusCode::OK);
    assert_eq!(relay.get("/readyz", None).await.0, StatusCode::OK);
    let (s, caps) = relay.get("/v1/capabilities", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        caps,
        json!({"api": 1, "schema": 1, "registration": "open", "max_push_ops": 1000, "max_pull_ops": 1000, "long_poll_max_s": 30, "oidc_providers": []})
    );

    let (s, doc) = relay.get("/v1/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')),
        "{doc}"
    );
    let contract = [
        ("get", "/v1/capabilities"),
        ("post", "/v1/auth/signup"),
        ("post", "/v1/auth/login"),
        ("post", "/v1/auth/refresh"),
        ("post", "/v1/devices/session"),
        ("post", "/v1/auth/logout"),
        ("post", "/v1/push"),
        ("get", "/v1/pull"),
        ("get", "/v1/snapshot"),
        ("post", "/v1/sync"),
        ("get", "/healthz"),
        ("get", "/readyz"),
    ];
    for (method, path) in contract {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from the OpenAPI document"
        );
    }

    for schema in [
        "Session",
        "PushResult",
        "PullResult",
        "OpDoc",
        "RelayOpDoc",
        "ErrorBody",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }

    // Storage gone: not ready, but still alive.
    relay.state.db().pool.close().await;
    let (s, b) = relay.get("/readyz", None).await;
    assert_error(s, &b, StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    assert_eq!(relay.get("/healthz", None).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_policies() {
    let db = TestDb::sqlite();
    let closed = start_with(&db, |c| c.registration = tacho_relay::Registration::Closed).await;
    let (s, b) = closed
        .post(
            "/v1/auth/signup",
            None,
            &creds("x@example.org", Uuid::now_v7()),
        )
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "registration_closed");
    let listed = start_with(&db, |c| {
        c.registration = tacho_relay::Registration::Allowlist;
        c.allow_emails = vec!["ok@example.org".into()];
    })
    .await;
    let (s, b) = listed
        .post(
            "/v1/auth/signup",
            None,
            &creds("no@example.org", Uuid::now_v7()),
        )
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "registration_closed");
    listed.signup("OK@example.org", Uuid::now_v7()).await;
    assert_eq!(
        listed.get("/v1/capabilities", None).await.1["registration"],
        "allowlist"
    );
}

/// Two instances on one PostgreSQL database: a long-poll on B wakes when a device pushes to A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_wakeups_through_postgres() {
    let db = TestDb::postgres().await;
    assert!(db.is_postgres());
    let a = start(&db).await;
    let b = start(&db).await;
    let phone = Uuid::now_v7();
    let pt = token(&a.signup("lea@example.org", phone).await);
    let (s, ws) = b
        .post(
            "/v1/devices/session",
            Some(&pt),
            &json!({"device_id": Uuid::now_v7()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "tokens of A work on B: {ws}");
    let wt = token(&ws);

    let poll = {
        let (http, url) = (
            b.http.clone(),
            format!("{}/v1/pull?cursor=0&wait=25", b.base),
        );
        tokio::spawn(async move {
            let started = Instant::now();
            let res = answer(http.get(url).bearer_auth(wt).send().await.expect("send")).await;
            (res, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (s, r) = a.push(&pt, &[op(phone, 1), op(phone, 2)]).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let ((s, page), took) = poll.await.expect("poll");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["ops"].as_array().expect("ops").len(), 2, "{page}");
    assert!(
        took < Duration::from_secs(5),
        "cross-instance wake took {took:?}"
    );
}

/// Shutdown ends waiting long-polls at once instead of holding the drain for up to 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_ends_long_polls() {
    let db = TestDb::sqlite();
    let state = AppState::new(Config::new(db.url.clone()))
        .await
        .expect("relay starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tacho_relay::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    let relay = Relay {
        base,
        http: reqwest::Client::new(),
        state,
    };
    let t = token(&relay.signup("max@example.org", Uuid::now_v7()).await);
    let poll = {
        let (http, url) = (
            relay.http.clone(),
            format!("{}/v1/pull?cursor=0&wait=30", relay.base),
        );
        tokio::spawn(async move {
            answer(http.get(url).bearer_auth(t).send().await.expect("send")).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    stop.send(()).expect("stop");
    let (s, page) = poll.await.expect("poll");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["ops"], json!([]));
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server stops promptly")
        .expect("join")
        .expect("serve");
    assert!(started.elapsed() < Duration::from_secs(5));
}

async fn a_refresh_retried_within_the_grace_period_is_not_reuse(db: TestDb) {
    let relay = start_with(&db, |c| c.refresh_reuse_grace = Duration::from_millis(400)).await;
    let device = Uuid::now_v7();
    let session = relay.signup("gus@example.org", device).await;
    let refresh = session["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let (s, first) = relay
        .post("/v1/auth/refresh", None, &json!({"refresh_token": refresh}))
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    // The answer was lost: the client retries with the same token.
    let (s, retry) = relay
        .post("/v1/auth/refresh", None, &json!({"refresh_token": refresh}))
        .await;
    assert_eq!(s, StatusCode::OK, "{retry}");
    assert_ne!(retry["refresh_token"], first["refresh_token"]);
    // Both successors work once each; the family is alive.
    let (s, b) = relay
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": retry["refresh_token"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // After the grace period the same old token is reuse, and revokes the family.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (s, b) = relay
        .post("/v1/auth/refresh", None, &json!({"refresh_token": refresh}))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "refresh_reused");
    let (s, b) = relay.post("/v1/auth/refresh", None, &json!({"refresh_token": b.get("x").cloned().unwrap_or(first["refresh_token"].clone())})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
}

/// Issue 11: a lock holds for the whole space. Device A locks March; device
/// B, which never pulled the lock, pushes changes to a March trip: the one
/// stamped before the lock is kept, the one stamped after is refused with
/// `period_locked` (again when replayed), with the trip's merged state for B
/// to take its change back to. Other months stay open.
async fn a_locked_month_refuses_later_changes_and_keeps_earlier_ones(db: TestDb) {
    let relay = start(&db).await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let ta = token(&relay.signup("lock@example.org", a).await);
    let (status, session_b) = relay
        .post("/v1/auth/login", None, &creds("lock@example.org", b))
        .await;
    assert_eq!(status, StatusCode::OK, "{session_b}");
    let tb = token(&session_b);
    let lock_ms: u64 = 1_775_124_000_000; // 2026-04-02 10:00 UTC
    let hlc = |ms: u64| ms << 16;
    let (march, april) = (Uuid::now_v7(), Uuid::now_v7());
    let upsert = |device: Uuid, seq: u64, ms: u64, entity: &str, id: Uuid, fields: Value| {
        json!({"op_id": Uuid::now_v7(), "device": device, "device_seq": seq, "hlc": hlc(ms),
               "entity": entity, "entity_id": id, "kind": "upsert", "fields": fields, "schema": 1})
    };
    let trip_fields =
        |day: &str| json!({"started_at": day, "time_zone": "UTC", "purpose": "business"});
    let lock = upsert(
        a,
        3,
        lock_ms,
        "period_lock",
        tacho_model::lock::lock_id("2026-03"),
        json!({"month": "2026-03", "time_zone": "UTC"}),
    );
    let (s, body) = relay
        .push(
            &ta,
            &[
                upsert(
                    a,
                    1,
                    lock_ms - 86_400_000,
                    "trip",
                    march,
                    trip_fields("2026-03-10T08:00:00Z"),
                ),
                upsert(
                    a,
                    2,
                    lock_ms - 86_400_000,
                    "trip",
                    april,
                    trip_fields("2026-04-01T08:00:00Z"),
                ),
                lock,
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // Made offline before the lock, arriving after it: kept.
    let before = upsert(
        b,
        1,
        lock_ms - 1_000,
        "trip",
        march,
        json!({"purpose": "private"}),
    );
    let (s, body) = relay.push(&tb, &[before]).await;
    assert_eq!(
        (s, body["accepted"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    // Made after the lock without knowing it: refused, with the trip's state.
    let after = upsert(
        b,
        2,
        lock_ms + 1_000,
        "trip",
        march,
        json!({"note": "detour"}),
    );
    let (s, body) = relay.push(&tb, std::slice::from_ref(&after)).await;
    assert_error(s, &body, StatusCode::UNPROCESSABLE_ENTITY, "period_locked");
    assert_eq!(body["op_id"], after["op_id"], "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("2026-03")),
        "{body}"
    );
    assert_eq!(
        body["entity_state"]["fields"]["purpose"], "private",
        "{body}"
    );
    assert!(
        body["entity_state"]["fields"].get("note").is_none(),
        "{body}"
    );
    // A replay (the answer was lost) is answered alike.
    let (s, body) = relay.push(&tb, std::slice::from_ref(&after)).await;
    assert_error(s, &body, StatusCode::UNPROCESSABLE_ENTITY, "period_locked");
    // Its history entry and a time entry in March are refused too; April is open.
    let edit = json!({"op_id": Uuid::now_v7(), "device": b, "device_seq": 3, "hlc": hlc(lock_ms + 2_000),
        "entity": "trip_edit", "entity_id": march, "kind": "append",
        "items": [{"trip_id": march, "field": "note", "old_value": null, "new_value": "detour",
                   "at": "2026-04-02T10:00:02Z", "device": b}], "schema": 1});
    let (s, body) = relay.push(&tb, &[edit]).await;
    assert_error(s, &body, StatusCode::UNPROCESSABLE_ENTITY, "period_locked");
    assert!(body.get("entity_state").is_none(), "{body}");
    let entry = upsert(
        b,
        4,
        lock_ms + 3_000,
        "time_entry",
        Uuid::now_v7(),
        json!({"start": "2026-03-31T22:00:00Z", "description": "late"}),
    );
    let (s, body) = relay.push(&tb, &[entry]).await;
    assert_error(s, &body, StatusCode::UNPROCESSABLE_ENTITY, "period_locked");
    assert_eq!(body["entity_state"]["fields"], json!({}), "{body}");
    let open = upsert(
        b,
        5,
        lock_ms + 4_000,
        "trip",
        april,
        json!({"purpose": "private"}),
    );
    let (s, body) = relay.push(&tb, &[open]).await;
    assert_eq!(
        (s, body["accepted"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );

    // Only what was kept reaches device A.
    let snap = relay.snapshot(&ta).await;
    let bodies = snap.to_string();
    assert!(bodies.contains("\"private\""), "{snap}");
    assert!(!bodies.contains("detour"), "{snap}");
}
