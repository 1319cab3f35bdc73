//! Fake Zammad time accounting under `/api/v1` (contract sheet §1.4).
//!
//! Strict where the sheet is: `Token token=<t>` auth (no credentials → 403 with `X-Failure`), a
//! per-token role (agents may list, show and create; only admins may update and delete),
//! `time_unit` a decimal STRING (a JSON number is refused with 422), 201 on create, 404 for an
//! unknown ticket, `{error, error_human}` errors, `?page=&per_page=` paging that ends in `[]`.

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Value, json};

use crate::fields::{self, Obj};
use crate::server::{Answer, FakeServer, is_json, lock, query_get, query_pairs};

/// An admin token (`admin.time_accounting`) accepted out of the box.
pub const ADMIN_TOKEN: &str = "zammad-admin-token";
/// The user behind [`ADMIN_TOKEN`].
pub const ADMIN_USER_ID: u64 = 3;
/// An agent token (`ticket.agent` only) accepted out of the box.
pub const AGENT_TOKEN: &str = "zammad-agent-token";
/// The user behind [`AGENT_TOKEN`].
pub const AGENT_USER_ID: u64 = 4;
/// A ticket that exists out of the box.
pub const TICKET_ID: u64 = 101;
/// An activity type that exists out of the box (the docs' example id).
pub const TYPE_ID: u64 = 4;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZammadRole {
    /// `ticket.agent`: list, show, create.
    Agent,
    /// `admin.time_accounting`: also update and delete.
    Admin,
}

/// A time accounting record as the fake stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZammadTimeAccounting {
    /// Id.
    pub id: u64,
    /// Ticket.
    pub ticket_id: u64,
    /// Article, if any.
    pub ticket_article_id: Option<u64>,
    /// Normalised decimal string, e.g. `"15.0"`.
    pub time_unit: String,
    /// Activity type, if any.
    pub type_id: Option<u64>,
    /// Who booked it.
    pub created_by_id: u64,
    /// Creation time (UTC).
    pub created_at: DateTime<Utc>,
    /// Last modification (UTC).
    pub updated_at: DateTime<Utc>,
}

struct ZammadState {
    tokens: HashMap<String, (u64, ZammadRole)>,
    tickets: BTreeMap<u64, String>,
    types: BTreeMap<u64, String>,
    records: BTreeMap<u64, ZammadTimeAccounting>,
    next_id: u64,
}

type Shared = Arc<Mutex<ZammadState>>;

/// A running fake Zammad. Derefs to [`FakeServer`] for `base_url`, the request log and chaos.
pub struct FakeZammad {
    server: FakeServer,
    state: Shared,
}

impl Deref for FakeZammad {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeZammad {
    /// Starts the fake with [`ADMIN_TOKEN`] and [`AGENT_TOKEN`], ticket [`TICKET_ID`] and activity
    /// types 1 ("Billable") and [`TYPE_ID`] ("Remote support").
    pub async fn start() -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(ZammadState {
            tokens: HashMap::from([
                (ADMIN_TOKEN.to_owned(), (ADMIN_USER_ID, ZammadRole::Admin)),
                (AGENT_TOKEN.to_owned(), (AGENT_USER_ID, ZammadRole::Agent)),
            ]),
            tickets: BTreeMap::from([(TICKET_ID, "Printer on fire".to_owned())]),
            types: BTreeMap::from([
                (1, "Billable".to_owned()),
                (TYPE_ID, "Remote support".to_owned()),
            ]),
            records: BTreeMap::new(),
            next_id: 1,
        }));
        let api = Router::new()
            .route("/users/me", get(me))
            .route("/time_accounting/types", get(types))
            .route("/tickets/{tid}/time_accountings", get(list).post(create))
            .route(
                "/tickets/{tid}/time_accountings/{id}",
                get(one).put(update).delete(delete),
            )
            .layer(from_fn_with_state(state.clone(), guard))
            .with_state(state.clone());
        let server = FakeServer::start(Router::new().nest("/api/v1", api)).await?;
        Ok(Self { server, state })
    }

    /// Stops the server (dropping the handle does the same).
    pub fn stop(self) {}

    /// Accepts another token for `user_id` with `role`.
    pub fn add_token(&self, token: &str, user_id: u64, role: ZammadRole) {
        lock(&self.state)
            .tokens
            .insert(token.to_owned(), (user_id, role));
    }

    /// Revokes a token: later requests with it get 401.
    pub fn revoke_token(&self, token: &str) {
        lock(&self.state).tokens.remove(token);
    }

    /// Makes a ticket exist.
    pub fn add_ticket(&self, ticket_id: u64, title: &str) {
        lock(&self.state)
            .tickets
            .insert(ticket_id, title.to_owned());
    }

    /// Makes an activity type exist.
    pub fn add_type(&self, type_id: u64, name: &str) {
        lock(&self.state).types.insert(type_id, name.to_owned());
    }

    /// Live records, by id.
    pub fn records(&self) -> Vec<ZammadTimeAccounting> {
        lock(&self.state).records.values().cloned().collect()
    }

    /// One record by id.
    pub fn record(&self, id: u64) -> Option<ZammadTimeAccounting> {
        lock(&self.state).records.get(&id).cloned()
    }

    /// How many live records match `pred`.
    pub fn count(&self, pred: impl Fn(&ZammadTimeAccounting) -> bool) -> usize {
        lock(&self.state)
            .records
            .values()
            .filter(|r| pred(r))
            .count()
    }

    /// A person books time in Zammad's UI. `time_unit` is normalised as Zammad stores it
    /// (`"15"` → `"15.0"`); `None` if it is not a decimal.
    pub fn create_time_accounting(
        &self,
        ticket_id: u64,
        time_unit: &str,
        type_id: Option<u64>,
    ) -> Option<ZammadTimeAccounting> {
        let time_unit = normalise(time_unit)?;
        let mut s = lock(&self.state);
        let now = now();
        let record = ZammadTimeAccounting {
            id: s.next_id,
            ticket_id,
            ticket_article_id: None,
            time_unit,
            type_id,
            created_by_id: ADMIN_USER_ID,
            created_at: now,
            updated_at: now,
        };
        s.next_id += 1;
        s.records.insert(record.id, record.clone());
        Some(record)
    }

    /// A person edits a record; `updated_at` is bumped. `None` if unknown.
    pub fn edit_time_accounting(
        &self,
        id: u64,
        edit: impl FnOnce(&mut ZammadTimeAccounting),
    ) -> Option<ZammadTimeAccounting> {
        let mut s = lock(&self.state);
        let record = s.records.get_mut(&id)?;
        edit(record);
        record.updated_at = now();
        Some(record.clone())
    }

    /// A person deletes a record: it disappears from the ticket's list.
    pub fn delete_time_accounting(&self, id: u64) -> bool {
        lock(&self.state).records.remove(&id).is_some()
    }
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// `"60"`, `"60.00"`, `"060.50"` → `"60.0"`, `"60.0"`, `"60.5"`, as Rails renders a decimal column.
fn normalise(raw: &str) -> Option<String> {
    let (sign, digits) = match raw.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", raw),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if int.is_empty()
        || !all_digits(int)
        || !all_digits(frac)
        || (digits.contains('.') && frac.is_empty())
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = frac.trim_end_matches('0');
    let frac = if frac.is_empty() { "0" } else { frac };
    Some(format!("{sign}{int}.{frac}"))
}

/// Zammad's error shape; 401/403 also carry `X-Failure`.
fn err(status: StatusCode, message: &str) -> Response {
    let mut r = (
        status,
        axum::Json(json!({"error": message, "error_human": message})),
    )
        .into_response();
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
        && let Ok(v) = HeaderValue::from_str(message)
    {
        r.headers_mut().insert("X-Failure", v);
    }
    r
}

fn unprocessable(message: &str) -> Response {
    err(StatusCode::UNPROCESSABLE_ENTITY, message)
}

#[derive(Clone, Copy)]
struct Caller(u64, ZammadRole);

async fn guard(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let Some(raw) = req.headers().get(header::AUTHORIZATION) else {
        return err(StatusCode::FORBIDDEN, "Authentication required");
    };
    let token = raw
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Token token="))
        .map(|t| t.trim().trim_matches('"'));
    let caller = token.and_then(|t| lock(&state).tokens.get(t).copied());
    match caller {
        Some((user, role)) => {
            req.extensions_mut().insert(Caller(user, role));
            next.run(req).await
        }
        None => err(StatusCode::UNAUTHORIZED, "Invalid token"),
    }
}

fn caller(req: &Request) -> Caller {
    req.extensions()
        .get::<Caller>()
        .copied()
        .unwrap_or(Caller(0, ZammadRole::Agent))
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn render(r: &ZammadTimeAccounting) -> Value {
    json!({
        "id": r.id,
        "ticket_id": r.ticket_id,
        "ticket_article_id": r.ticket_article_id,
        "time_unit": r.time_unit,
        "type_id": r.type_id,
        "created_by_id": r.created_by_id,
        "created_at": stamp(r.created_at),
        "updated_at": stamp(r.updated_at),
    })
}

async fn me(req: Request) -> Response {
    let Caller(user, role) = caller(&req);
    let roles = match role {
        ZammadRole::Admin => json!([1, 2]),
        ZammadRole::Agent => json!([2]),
    };
    (
        StatusCode::OK,
        axum::Json(json!({
            "id": user, "login": format!("user{user}@example.invalid"), "firstname": "Test",
            "lastname": "Person", "email": format!("user{user}@example.invalid"), "active": true, "role_ids": roles,
        })),
    )
        .into_response()
}

async fn types(State(state): State<Shared>) -> Response {
    let s = lock(&state);
    let list: Vec<Value> = s
        .types
        .iter()
        .map(|(id, name)| {
            json!({"id": id, "name": name, "note": null, "active": true,
                   "created_at": "2024-01-01T00:00:00.000Z", "updated_at": "2024-01-01T00:00:00.000Z"})
        })
        .collect();
    (StatusCode::OK, axum::Json(Value::Array(list))).into_response()
}

fn ticket(s: &ZammadState, raw: &str) -> Result<u64, Response> {
    raw.parse::<u64>()
        .ok()
        .filter(|t| s.tickets.contains_key(t))
        .ok_or_else(|| {
            err(
                StatusCode::NOT_FOUND,
                &format!("Couldn't find Ticket with 'id'={raw}"),
            )
        })
}

fn record_id(s: &ZammadState, ticket_id: u64, raw: &str) -> Result<u64, Response> {
    raw.parse::<u64>()
        .ok()
        .filter(|id| s.records.get(id).is_some_and(|r| r.ticket_id == ticket_id))
        .ok_or_else(|| {
            err(
                StatusCode::NOT_FOUND,
                &format!("Couldn't find Ticket::TimeAccounting with 'id'={raw}"),
            )
        })
}

fn body_object(headers: &HeaderMap, body: &Bytes) -> Result<Obj, Response> {
    if !is_json(headers) {
        return Err(unprocessable("Content-Type must be application/json"));
    }
    fields::object(body).map_err(|m| unprocessable(&m))
}

/// `time_unit` must be a JSON string holding a decimal.
fn time_unit(obj: &Obj, required: bool) -> Result<Option<String>, Response> {
    match obj.get("time_unit") {
        None | Some(Value::Null) if required => Err(unprocessable("time_unit is required")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => normalise(s)
            .map(Some)
            .ok_or_else(|| unprocessable("time_unit must be a decimal string such as \"15.0\"")),
        Some(v) => Err(unprocessable(&format!(
            "time_unit must be a decimal string such as \"15.0\", got {}",
            fields::kind(v)
        ))),
    }
}

fn type_id(s: &ZammadState, obj: &Obj) -> Result<Option<u64>, Response> {
    let id = fields::opt_i64(obj, "type_id").map_err(|m| unprocessable(&m))?;
    match id {
        None => Ok(None),
        Some(id) => u64::try_from(id)
            .ok()
            .filter(|id| s.types.contains_key(id))
            .map(Some)
            .ok_or_else(|| unprocessable(&format!("type_id {id} is not an activity type"))),
    }
}

async fn list(State(state): State<Shared>, Path(tid): Path<String>, uri: Uri) -> Answer {
    let s = lock(&state);
    let tid = ticket(&s, &tid)?;
    let q = query_pairs(uri.query());
    let number = |name: &str| match query_get(&q, name) {
        None => Ok(None),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .map(Some)
            .ok_or_else(|| unprocessable(&format!("{name} must be a positive integer"))),
    };
    let (page, per_page) = (number("page")?, number("per_page")?);
    let all = s.records.values().filter(|r| r.ticket_id == tid);
    let list: Vec<Value> = if page.is_some() || per_page.is_some() {
        let (page, per_page) = (page.unwrap_or(1), per_page.unwrap_or(100));
        all.skip((page - 1) * per_page)
            .take(per_page)
            .map(render)
            .collect()
    } else {
        all.map(render).collect()
    };
    Ok((StatusCode::OK, axum::Json(Value::Array(list))).into_response())
}

async fn one(State(state): State<Shared>, Path((tid, id)): Path<(String, String)>) -> Answer {
    let s = lock(&state);
    let tid = ticket(&s, &tid)?;
    let id = record_id(&s, tid, &id)?;
    let record = s
        .records
        .get(&id)
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "not found"))?;
    Ok((StatusCode::OK, axum::Json(render(record))).into_response())
}

async fn create(State(state): State<Shared>, Path(tid): Path<String>, req: Request) -> Answer {
    let Caller(user, _) = caller(&req);
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .map_err(|_| unprocessable("unreadable body"))?;
    let mut s = lock(&state);
    let tid = ticket(&s, &tid)?;
    let obj = body_object(&headers, &body)?;
    let time_unit = time_unit(&obj, true)?.unwrap_or_default();
    let type_id = type_id(&s, &obj)?;
    let article = fields::opt_i64(&obj, "ticket_article_id")
        .map_err(|m| unprocessable(&m))?
        .and_then(|a| u64::try_from(a).ok());
    let now = now();
    let record = ZammadTimeAccounting {
        id: s.next_id,
        ticket_id: tid,
        ticket_article_id: article,
        time_unit,
        type_id,
        created_by_id: user,
        created_at: now,
        updated_at: now,
    };
    s.next_id += 1;
    s.records.insert(record.id, record.clone());
    Ok((StatusCode::CREATED, axum::Json(render(&record))).into_response())
}

fn require_admin(role: ZammadRole) -> Result<(), Response> {
    match role {
        ZammadRole::Admin => Ok(()),
        ZammadRole::Agent => Err(err(StatusCode::FORBIDDEN, "Not authorized")),
    }
}

async fn update(
    State(state): State<Shared>,
    Path((tid, id)): Path<(String, String)>,
    req: Request,
) -> Answer {
    let Caller(_, role) = caller(&req);
    require_admin(role)?;
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .map_err(|_| unprocessable("unreadable body"))?;
    let mut s = lock(&state);
    let tid = ticket(&s, &tid)?;
    let id = record_id(&s, tid, &id)?;
    let obj = body_object(&headers, &body)?;
    let unit = time_unit(&obj, false)?;
    let new_type = type_id(&s, &obj)?;
    let record = s
        .records
        .get_mut(&id)
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "not found"))?;
    if let Some(unit) = unit {
        record.time_unit = unit;
    }
    if obj.contains_key("type_id") {
        record.type_id = new_type;
    }
    record.updated_at = now();
    Ok((StatusCode::OK, axum::Json(render(record))).into_response())
}

async fn delete(
    State(state): State<Shared>,
    Path((tid, id)): Path<(String, String)>,
    req: Request,
) -> Answer {
    let Caller(_, role) = caller(&req);
    require_admin(role)?;
    let mut s = lock(&state);
    let tid = ticket(&s, &tid)?;
    let id = record_id(&s, tid, &id)?;
    s.records.remove(&id);
    Ok((StatusCode::OK, axum::Json(json!({}))).into_response())
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn time_units_render_as_rails_decimals() {
        assert_eq!(normalise("60").as_deref(), Some("60.0"));
        assert_eq!(normalise("60.00").as_deref(), Some("60.0"));
        assert_eq!(normalise("015.50").as_deref(), Some("15.5"));
        assert_eq!(normalise("0.25").as_deref(), Some("0.25"));
        assert_eq!(normalise("-5").as_deref(), Some("-5.0"));
        for bad in ["", "abc", "1.", ".5", "1,5", "1e3", "--1"] {
            assert_eq!(normalise(bad), None, "{bad:?}");
        }
    }
}
