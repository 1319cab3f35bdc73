//! The sync client: signs in to a relay, pushes the outbox in batches, pulls
//! and applies pages of other devices' ops. See docs/sync-protocol.md.
//!
//! Network calls never hold the core's lock; each result is applied in one
//! store transaction (ops and cursor together), so a crash or a lost
//! response at any point is repaired by simply syncing again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
pub(crate) use tacho_model::api::ErrorBody;
use tacho_model::api::{
    Credentials, DeviceSessionRequest, PullQuery, PullResult, PushRequest, RefreshRequest, Session,
    code,
};
use tacho_model::op::Op;
use tacho_model::wire::IncomingOp;
use tacho_store::SyncSession;

use crate::{Core, CoreError, CoreEvent, Result};

/// Ops per push request (the relay accepts up to 1 000).
const PUSH_BATCH: usize = 500;
/// Ops per pull page.
const PULL_LIMIT: usize = 1_000;
/// Refresh the access token when it has less than this left.
const REFRESH_MARGIN_S: i64 = 60;

/// What one sync run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Own ops the relay confirmed in this run.
    pub pushed: usize,
    /// Ops pulled from the relay.
    pub pulled: usize,
    /// Pulled ops that changed local data.
    pub changed: usize,
    /// Own ops the relay refused as invalid and that were parked.
    pub parked: usize,
    /// Pulled ops this build's merge rules refuse (the relay took them before it knew those
    /// rules, e.g. nonsense values from before the field schema): kept out and logged.
    pub refused: usize,
    /// The pull cursor after the run.
    pub cursor: u64,
}

/// A signed-in session for another device of the same account, minted by
/// the phone and handed to the watch (e.g. over WatchConnectivity) so the
/// watch never needs the password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceHandoff {
    /// Relay base URL.
    pub relay_url: String,
    /// Account.
    pub account_id: String,
    /// The account's space.
    pub space_id: String,
    /// The device the session is for (the watch's own device id).
    pub device_id: String,
    /// Access token of that device.
    pub access_token: String,
    /// Its expiry.
    pub access_expires_at: DateTime<Utc>,
    /// Its refresh token (rotates on first use).
    pub refresh_token: String,
}

/// Sign-in state, for a settings screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncStatus {
    /// Relay URL, when signed in.
    pub relay_url: Option<String>,
    /// Account id, when signed in.
    pub account_id: Option<String>,
    /// Own ops not yet confirmed by the relay.
    pub pending_ops: u64,
    /// Ops parked as invalid.
    pub parked_ops: usize,
    /// Last successful sync.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Last error.
    pub last_error: Option<String>,
}

/// A relay `Session` answer as the client keeps it (ids as text, the expiry parsed).
#[derive(Debug)]
pub(crate) struct SessionBody {
    account_id: String,
    space_id: String,
    access_token: String,
    access_expires_at: DateTime<Utc>,
    refresh_token: String,
}

impl TryFrom<Session> for SessionBody {
    type Error = CoreError;

    fn try_from(s: Session) -> Result<Self> {
        let access_expires_at = DateTime::parse_from_rfc3339(&s.access_expires_at)
            .map_err(|e| CoreError::Network {
                reason: format!(
                    "the relay sent a bad session expiry `{}`: {e}",
                    s.access_expires_at
                ),
            })?
            .with_timezone(&Utc);
        Ok(Self {
            account_id: s.account_id.to_string(),
            space_id: s.space_id.to_string(),
            access_token: s.access_token,
            access_expires_at,
            refresh_token: s.refresh_token,
        })
    }
}

/// Reads a relay's `Session` answer.
pub(crate) async fn session_of(resp: reqwest::Response) -> Result<SessionBody> {
    resp.json::<Session>().await.map_err(network)?.try_into()
}

/// Builds the one HTTP client a [`Core`] keeps for all its relay calls.
pub(crate) fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| CoreError::Network {
            reason: format!("can't build the HTTP client: {e}"),
        })
}

/// A failed HTTP call, with its whole cause chain (reqwest's own message is only "error
/// sending request for url (…)"; the cause, "Connection refused", is in its sources).
pub(crate) fn network(e: reqwest::Error) -> CoreError {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        source = cause.source();
    }
    CoreError::Network { reason }
}

pub(crate) fn url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

pub(crate) async fn error_of(resp: reqwest::Response) -> (reqwest::StatusCode, ErrorBody) {
    let status = resp.status();
    let body = resp.json::<ErrorBody>().await.unwrap_or_default();
    (status, body)
}

/// Sends a request to the relay: a transport failure is a network error, an answer other than
/// 2xx becomes the typed error of its status and JSON body.
pub(crate) async fn relay_answer(request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
    let resp = request.send().await.map_err(network)?;
    if !resp.status().is_success() {
        let (status, body) = error_of(resp).await;
        return Err(relay_error(status, &body));
    }
    Ok(resp)
}

pub(crate) fn relay_error(status: reqwest::StatusCode, body: &ErrorBody) -> CoreError {
    // Every relay error carries `{code, message}`; without them the answer was cut off or
    // replaced on the way (e.g. a refusal whose body was truncated): retry, like a lost answer.
    if body.code.is_empty() && body.message.is_empty() && status.is_client_error() {
        return CoreError::Network {
            reason: format!("the relay's answer ({status}) arrived unreadable; try again"),
        };
    }
    let reason = if body.message.is_empty() {
        format!("the relay answered {status}")
    } else {
        format!("{} ({})", body.message, body.code)
    };
    match status.as_u16() {
        401 | 403 => CoreError::Auth { reason },
        409 => CoreError::Conflict { reason },
        400 | 413 | 415 | 422 => CoreError::BadInput { reason },
        _ => CoreError::Network { reason },
    }
}

impl Core {
    /// Creates an account on `relay_url` and signs this device in.
    pub async fn signup(&self, relay_url: &str, email: &str, password: &str) -> Result<SyncStatus> {
        self.sign_in("/v1/auth/signup", relay_url, email, password)
            .await
    }

    /// Signs this device in to an existing account.
    pub async fn login(&self, relay_url: &str, email: &str, password: &str) -> Result<SyncStatus> {
        self.sign_in("/v1/auth/login", relay_url, email, password)
            .await
    }

    async fn sign_in(
        &self,
        path: &str,
        relay_url: &str,
        email: &str,
        password: &str,
    ) -> Result<SyncStatus> {
        let relay_url = relay_url.trim().trim_end_matches('/').to_owned();
        if !(relay_url.starts_with("http://") || relay_url.starts_with("https://")) {
            return Err(CoreError::bad_input(format!(
                "`{relay_url}` is not a relay URL (expected http:// or https://)"
            )));
        }
        let device = self.device()?;
        let resp = relay_answer(self.http().post(url(&relay_url, path)).json(&Credentials {
            email: email.trim().to_owned(),
            password: password.to_owned(),
            device_id: device.0,
            device_name: self.device_name().to_owned(),
        }))
        .await?;
        let body = session_of(resp).await?;
        self.store_session(relay_url, body)?;
        self.sync_status().await
    }

    /// Mints a session on the relay for another device of this account
    /// (`device_id` is that device's own id, see [`Core::device`]).
    pub async fn mint_device_session(
        &self,
        device_id: &str,
        device_name: &str,
    ) -> Result<DeviceHandoff> {
        let device: tacho_model::id::DeviceId = device_id
            .parse()
            .map_err(|e: tacho_model::id::ParseIdError| CoreError::bad_input(e.to_string()))?;
        if device == self.device()? {
            return Err(CoreError::bad_input(
                "that is this device's own id; mint a session for another device",
            ));
        }
        let session = self.access_token(false).await?;
        let resp = relay_answer(
            self.http()
                .post(url(&session.relay_url, "/v1/devices/session"))
                .bearer_auth(&session.access_token)
                .json(&DeviceSessionRequest {
                    device_id: device.0,
                    device_name: device_name.to_owned(),
                }),
        )
        .await?;
        let body = session_of(resp).await?;
        Ok(DeviceHandoff {
            relay_url: session.relay_url,
            account_id: body.account_id,
            space_id: body.space_id,
            device_id: device.to_string(),
            access_token: body.access_token,
            access_expires_at: body.access_expires_at,
            refresh_token: body.refresh_token,
        })
    }

    /// Signs this device in with a session another device minted for it.
    pub async fn adopt_device_session(&self, handoff: DeviceHandoff) -> Result<SyncStatus> {
        if handoff.device_id != self.device()?.to_string() {
            return Err(CoreError::bad_input(format!(
                "this session was minted for device {}, not for this one",
                handoff.device_id
            )));
        }
        self.store_session(
            handoff.relay_url,
            SessionBody {
                account_id: handoff.account_id,
                space_id: handoff.space_id,
                access_token: handoff.access_token,
                access_expires_at: handoff.access_expires_at,
                refresh_token: handoff.refresh_token,
            },
        )?;
        self.sync_status().await
    }

    /// Stores a session after sign-in or a handoff. Signing in again to the
    /// same account on the same relay keeps the sync progress; another
    /// account or relay starts from the beginning.
    pub(crate) fn store_session(&self, relay_url: String, body: SessionBody) -> Result<()> {
        let previous = self
            .with_store(|inner| Ok(inner.store.session()?))?
            .filter(|p| p.relay_url == relay_url && p.account_id == body.account_id);
        let session = SyncSession {
            relay_url,
            account_id: body.account_id,
            space_id: body.space_id,
            access_token: body.access_token,
            access_expires_at: body.access_expires_at,
            refresh_token: body.refresh_token,
            pull_cursor: previous.as_ref().map_or(0, |s| s.pull_cursor),
            pushed_seq: previous.as_ref().map_or(0, |s| s.pushed_seq),
            last_sync_at: None,
            last_error: None,
        };
        self.save_session(&session, previous.is_none())
    }

    /// Sign-in and queue state.
    pub async fn sync_status(&self) -> Result<SyncStatus> {
        let (session, pending, parked) = self.with_store(|inner| {
            Ok((
                inner.store.session()?,
                inner.store.outbox_len()?,
                inner.store.parked_ops()?.len(),
            ))
        })?;
        Ok(SyncStatus {
            relay_url: session.as_ref().map(|s| s.relay_url.clone()),
            account_id: session.as_ref().map(|s| s.account_id.clone()),
            pending_ops: pending,
            parked_ops: parked,
            last_sync_at: session.as_ref().and_then(|s| s.last_sync_at),
            last_error: session.and_then(|s| s.last_error),
        })
    }

    /// Ops the relay refused as invalid, with its reasons.
    pub async fn parked_ops(&self) -> Result<Vec<crate::ParkedOp>> {
        self.with_store(|inner| Ok(inner.store.parked_ops()?))
    }

    pub(crate) fn session(&self) -> Result<SyncSession> {
        self.load_session()?
            .ok_or_else(|| CoreError::Auth {
                reason: "this database is not signed in to a relay; run `tacho login` or `tacho signup` first".into(),
            })
    }

    /// A valid access token, refreshing (and storing the rotated refresh
    /// token) when it is about to expire.
    pub(crate) async fn access_token(&self, force_refresh: bool) -> Result<SyncSession> {
        let session = self.session()?;
        let fresh =
            session.access_expires_at - self.now() > chrono::Duration::seconds(REFRESH_MARGIN_S);
        if fresh && !force_refresh {
            return Ok(session);
        }
        let resp = relay_answer(
            self.http()
                .post(url(&session.relay_url, "/v1/auth/refresh"))
                .json(&RefreshRequest {
                    refresh_token: session.refresh_token.clone(),
                }),
        )
        .await?;
        let body = session_of(resp).await?;
        let updated = SyncSession {
            access_token: body.access_token,
            access_expires_at: body.access_expires_at,
            refresh_token: body.refresh_token,
            ..session
        };
        self.save_session(&updated, false)?;
        Ok(updated)
    }

    /// One full sync: push everything pending, then pull until caught up.
    /// Safe to repeat after any failure; returns an error if any step failed
    /// (the error is also recorded for [`Core::sync_status`]).
    pub async fn sync_once(&self) -> Result<SyncReport> {
        let result = self.sync_inner(0).await;
        let message = result.as_ref().err().map(ToString::to_string);
        self.with_store(|inner| {
            Ok(inner
                .store
                .write(|w| w.record_sync_result(message.as_deref()))?)
        })?;
        let report = result?;
        if report.changed > 0 {
            self.reload_reference()?;
            self.emit(CoreEvent::DataChanged);
        }
        Ok(report)
    }

    /// Syncs, then keeps long-polling the relay and pushing new local ops
    /// until the task is dropped. Errors back off exponentially (1 s to 60 s).
    pub async fn sync_forever(&self, wait_s: u64) -> Result<()> {
        let mut backoff = 1u64;
        loop {
            match self.sync_inner(wait_s.min(30)).await {
                Ok(report) => {
                    backoff = 1;
                    if report.changed > 0 {
                        self.reload_reference()?;
                        self.emit(CoreEvent::DataChanged);
                    }
                    self.with_store(|inner| {
                        Ok(inner.store.write(|w| w.record_sync_result(None))?)
                    })?;
                }
                Err(e) => {
                    tracing::warn!(error = %e, backoff_s = backoff, "sync failed; retrying");
                    let message = e.to_string();
                    self.with_store(|inner| {
                        Ok(inner
                            .store
                            .write(|w| w.record_sync_result(Some(&message)))?)
                    })?;
                    tokio::time::sleep(Duration::from_secs(backoff)).await;
                    backoff = (backoff * 2).min(60);
                }
            }
        }
    }

    fn reload_reference(&self) -> Result<()> {
        self.with_store(|inner| {
            inner.cars = inner.store.cars_with(false, false)?;
            inner.places = inner.store.places()?;
            Ok(())
        })
    }

    async fn sync_inner(&self, wait_s: u64) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let mut session = self.access_token(false).await?;
        let client = self.http();
        let mut refreshed = false;
        // Push.
        let mut gap_retries = 0;
        loop {
            let (ops, parked) = self.with_store(|inner| {
                let parked: Vec<_> = inner
                    .store
                    .parked_ops()?
                    .into_iter()
                    .map(|p| p.op.op_id)
                    .collect();
                let ops: Vec<Op> = inner
                    .store
                    .outbox(session.pushed_seq, PUSH_BATCH)?
                    .into_iter()
                    .map(|e| e.op)
                    .filter(|op| !parked.contains(&op.op_id))
                    .collect();
                Ok((ops, parked.len()))
            })?;
            let _ = parked;
            let Some(last) = ops.last().map(|op| op.device_seq) else {
                break;
            };
            let body = PushRequest {
                ops: ops
                    .iter()
                    .map(|op| IncomingOp::from_op(op.clone()))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| CoreError::Network {
                        reason: format!("can't encode an op to push: {e}"),
                    })?,
            };
            let resp = client
                .post(url(&session.relay_url, "/v1/push"))
                .bearer_auth(&session.access_token)
                .json(&body)
                .send()
                .await
                .map_err(network)?;
            let status = resp.status();
            if status.is_success() {
                self.with_store(|inner| Ok(inner.store.write(|w| w.set_pushed_seq(last))?))?;
                session.pushed_seq = last;
                report.pushed += ops.len();
                continue;
            }
            let (status, body) = error_of(resp).await;
            match (status.as_u16(), body.code.as_str()) {
                (401, _) if !refreshed => {
                    session = self.access_token(true).await?;
                    refreshed = true;
                }
                (409, code::SEQ_GAP) if gap_retries < 3 => {
                    // The relay has everything before `expected_seq` (a lost
                    // response) or lost the tail: resume from where it is.
                    let expected = body.expected_seq.unwrap_or(1).max(1);
                    session.pushed_seq = expected - 1;
                    self.with_store(|inner| {
                        Ok(inner.store.write(|w| w.set_pushed_seq(expected - 1))?)
                    })?;
                    gap_retries += 1;
                }
                (422, code::INVALID_OP | code::PERIOD_LOCKED) => {
                    let index = body.index.unwrap_or(0).min(ops.len() - 1);
                    let bad = &ops[index];
                    if body
                        .op_id
                        .as_deref()
                        .is_some_and(|id| id != bad.op_id.to_string())
                    {
                        return Err(relay_error(status, &body));
                    }
                    // The relay stored the ops before it and consumed its
                    // sequence number; park it so the queue moves on.
                    let confirmed = bad.device_seq;
                    self.with_store(|inner| {
                        Ok(inner.store.write(|w| {
                            w.park_op(bad, &body.code, &body.message)?;
                            if body.code == code::PERIOD_LOCKED {
                                w.take_back(bad, body.entity_state.as_ref())?;
                            }
                            w.set_pushed_seq(confirmed)
                        })?)
                    })?;
                    session.pushed_seq = confirmed;
                    report.pushed += index;
                    report.parked += 1;
                }
                _ => return Err(relay_error(status, &body)),
            }
        }
        // Pull.
        let mut cursor = session.pull_cursor;
        let mut first = true;
        loop {
            let wait = if first { wait_s } else { 0 };
            first = false;
            let resp = relay_answer(
                client
                    .get(url(&session.relay_url, "/v1/pull"))
                    .bearer_auth(&session.access_token)
                    .query(&PullQuery {
                        cursor: i64::try_from(cursor).unwrap_or(i64::MAX),
                        limit: Some(PULL_LIMIT as i64),
                        wait,
                    })
                    .timeout(Duration::from_secs(wait + 30)),
            )
            .await?;
            let page: PullResult = resp.json().await.map_err(network)?;
            let page_cursor = u64::try_from(page.cursor).map_err(|_| CoreError::Network {
                reason: format!("the relay sent a bad cursor {}", page.cursor),
            })?;
            let ops: Vec<Op> = serde_json::from_str::<Vec<serde_json::Value>>(page.ops.get())
                .and_then(|ops| ops.into_iter().map(serde_json::from_value).collect())
                .map_err(|e| CoreError::Network {
                    reason: format!("the relay sent an op this build can't read: {e}"),
                })?;
            let applied = self.with_store_long(|inner| {
                Ok(inner.store.write(|w| w.apply_remote(&ops, page_cursor))?)
            })?;
            report.pulled += ops.len();
            report.changed += applied.changed;
            report.refused += applied.invalid;
            cursor = page_cursor.max(cursor);
            if !page.has_more {
                break;
            }
        }
        report.cursor = cursor;
        Ok(report)
    }
}
