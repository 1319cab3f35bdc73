//! Fake Tempo Cloud REST API v4 under `/4` (contract sheet §1.2).
//!
//! Strict where the sheet is: Bearer auth (401 as text/html), the four required `WorklogInput`
//! fields with their exact formats (`issueId` an integer, `startDate` `yyyy-MM-dd`, `startTime`
//! `HH:mm:ss`), PUT replacing the whole record and refusing `issueId`, DELETE 204, the paged list
//! with `metadata.next`, and deletions that simply vanish (no tombstones in `updatedFrom`).

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
use chrono::{DateTime, NaiveDate, NaiveTime, SubsecRound, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::fields::{self, Obj};
use crate::server::{Answer, FakeServer, is_json, lock, query_pairs};

/// The API token [`FakeTempo::start`] accepts out of the box.
pub const TOKEN: &str = "tempo-test-token";
/// The Jira account id behind [`TOKEN`].
pub const ACCOUNT_ID: &str = "5b10ac8d82e05b22cc7d4ef5";
/// An issue that exists out of the box (in project [`PROJECT_ID`]).
pub const ISSUE_ID: i64 = 10_001;
/// The Jira project of [`ISSUE_ID`].
pub const PROJECT_ID: i64 = 10_000;
/// Default page size of `GET /4/worklogs`.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page size v4 allows.
pub const MAX_LIMIT: usize = 5000;

/// A worklog as the fake stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempoWorklog {
    /// `tempoWorklogId`.
    pub id: u64,
    /// Jira issue id.
    pub issue_id: i64,
    /// `authorAccountId`.
    pub author_account_id: String,
    /// Worker-local date.
    pub start_date: NaiveDate,
    /// Worker-local time (`00:00:00` when not sent).
    pub start_time: NaiveTime,
    /// Seconds worked.
    pub time_spent_seconds: i64,
    /// Billable seconds (defaults to `time_spent_seconds`).
    pub billable_seconds: i64,
    /// Description (empty when not sent).
    pub description: String,
    /// Remaining estimate, if sent.
    pub remaining_estimate_seconds: Option<i64>,
    /// Work attributes `(key, value)`.
    pub attributes: Vec<(String, String)>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last modification.
    pub updated_at: DateTime<Utc>,
}

struct TempoState {
    tokens: HashMap<String, String>,
    issues: HashMap<i64, i64>,
    worklogs: BTreeMap<u64, TempoWorklog>,
    next_id: u64,
    worker_zone: Tz,
}

type Shared = Arc<Mutex<TempoState>>;

/// A running fake Tempo. Derefs to [`FakeServer`] for `base_url`, the request log and chaos.
pub struct FakeTempo {
    server: FakeServer,
    state: Shared,
}

impl Deref for FakeTempo {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeTempo {
    /// Starts the fake with [`TOKEN`] (account [`ACCOUNT_ID`]), issue [`ISSUE_ID`] in project
    /// [`PROJECT_ID`], and the worker's zone UTC.
    pub async fn start() -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(TempoState {
            tokens: HashMap::from([(TOKEN.to_owned(), ACCOUNT_ID.to_owned())]),
            issues: HashMap::from([(ISSUE_ID, PROJECT_ID)]),
            worklogs: BTreeMap::new(),
            next_id: 2001,
            worker_zone: Tz::UTC,
        }));
        let api = Router::new()
            .route("/worklogs", get(list).post(create))
            .route("/worklogs/{id}", get(one).put(update).delete(delete))
            .layer(from_fn_with_state(state.clone(), guard))
            .with_state(state.clone());
        let server = FakeServer::start(Router::new().nest("/4", api)).await?;
        Ok(Self { server, state })
    }

    /// Stops the server (dropping the handle does the same).
    pub fn stop(self) {}

    /// Accepts another Bearer token, acting as `account_id`.
    pub fn add_token(&self, token: &str, account_id: &str) {
        lock(&self.state)
            .tokens
            .insert(token.to_owned(), account_id.to_owned());
    }

    /// Revokes a token: later requests with it get 401.
    pub fn revoke_token(&self, token: &str) {
        lock(&self.state).tokens.remove(token);
    }

    /// Makes a Jira issue exist, in a project.
    pub fn add_issue(&self, issue_id: i64, project_id: i64) {
        lock(&self.state).issues.insert(issue_id, project_id);
    }

    /// The worker's zone, from which `startDateTimeUtc` is derived.
    pub fn set_worker_zone(&self, zone: Tz) {
        lock(&self.state).worker_zone = zone;
    }

    /// Live worklogs, by id.
    pub fn worklogs(&self) -> Vec<TempoWorklog> {
        lock(&self.state).worklogs.values().cloned().collect()
    }

    /// One worklog by id.
    pub fn worklog(&self, id: u64) -> Option<TempoWorklog> {
        lock(&self.state).worklogs.get(&id).cloned()
    }

    /// How many live worklogs match `pred`.
    pub fn count(&self, pred: impl Fn(&TempoWorklog) -> bool) -> usize {
        lock(&self.state)
            .worklogs
            .values()
            .filter(|w| pred(w))
            .count()
    }

    /// A person logs work in Tempo's UI.
    pub fn create_worklog(
        &self,
        issue_id: i64,
        author_account_id: &str,
        start_date: NaiveDate,
        start_time: NaiveTime,
        time_spent_seconds: i64,
    ) -> TempoWorklog {
        let mut s = lock(&self.state);
        let now = now();
        let w = TempoWorklog {
            id: s.next_id,
            issue_id,
            author_account_id: author_account_id.to_owned(),
            start_date,
            start_time,
            time_spent_seconds,
            billable_seconds: time_spent_seconds,
            description: String::new(),
            remaining_estimate_seconds: None,
            attributes: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        s.next_id += 1;
        s.worklogs.insert(w.id, w.clone());
        w
    }

    /// A person edits a worklog; `updatedAt` is bumped. `None` if unknown.
    pub fn edit_worklog(
        &self,
        id: u64,
        edit: impl FnOnce(&mut TempoWorklog),
    ) -> Option<TempoWorklog> {
        let mut s = lock(&self.state);
        let w = s.worklogs.get_mut(&id)?;
        edit(w);
        w.updated_at = now();
        Some(w.clone())
    }

    /// A person deletes a worklog: it is gone, with no trace in `updatedFrom` results.
    pub fn delete_worklog(&self, id: u64) -> bool {
        lock(&self.state).worklogs.remove(&id).is_some()
    }
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// Tempo's 400/404 shape.
fn err(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"errors": {"message": message}}))).into_response()
}

fn bad(message: &str) -> Response {
    err(StatusCode::BAD_REQUEST, message)
}

/// 401/403 come as text/html.
fn html(status: StatusCode, text: &str) -> Response {
    let mut r = (status, format!("<html><body><h1>{text}</h1></body></html>")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

async fn guard(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let known = token.is_some_and(|t| lock(&state).tokens.contains_key(t));
    if known {
        next.run(req).await
    } else {
        html(StatusCode::UNAUTHORIZED, "Unauthorized")
    }
}

fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn render(w: &TempoWorklog, origin: &str, zone: Tz) -> Value {
    let local = w.start_date.and_time(w.start_time);
    let utc = zone
        .from_local_datetime(&local)
        .earliest()
        .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc));
    json!({
        "self": format!("{origin}/4/worklogs/{}", w.id),
        "tempoWorklogId": w.id,
        "issue": {"self": format!("https://jira.example.invalid/rest/api/2/issue/{}", w.issue_id), "id": w.issue_id},
        "timeSpentSeconds": w.time_spent_seconds,
        "billableSeconds": w.billable_seconds,
        "startDate": w.start_date.format("%Y-%m-%d").to_string(),
        "startTime": w.start_time.format("%H:%M:%S").to_string(),
        "startDateTimeUtc": utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "description": w.description,
        "createdAt": w.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "updatedAt": w.updated_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "author": {"self": format!("https://jira.example.invalid/rest/api/2/user?accountId={}", w.author_account_id), "accountId": w.author_account_id},
        "remainingEstimateSeconds": w.remaining_estimate_seconds,
        "attributes": {
            "self": format!("{origin}/4/worklogs/{}/work-attribute-values", w.id),
            "values": w.attributes.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        },
    })
}

fn strict_date(raw: &str, name: &str) -> Result<NaiveDate, Response> {
    if raw.len() != 10 {
        return Err(bad(&format!("{name} must be in the format yyyy-MM-dd")));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| bad(&format!("{name} must be in the format yyyy-MM-dd")))
}

fn strict_time(raw: &str) -> Result<NaiveTime, Response> {
    if raw.len() != 8 {
        return Err(bad("startTime must be in the format HH:mm:ss"));
    }
    NaiveTime::parse_from_str(raw, "%H:%M:%S")
        .map_err(|_| bad("startTime must be in the format HH:mm:ss"))
}

fn body_object(headers: &HeaderMap, body: &Bytes) -> Result<Obj, Response> {
    if !is_json(headers) {
        return Err(bad("Content-Type must be application/json"));
    }
    fields::object(body).map_err(|m| bad(&m))
}

/// The fields shared by `WorklogInput` and `WorklogUpdate`; missing optional ones get their defaults,
/// which is what makes PUT a replacement.
struct Input {
    author: String,
    start_date: NaiveDate,
    start_time: NaiveTime,
    seconds: i64,
    billable: i64,
    description: String,
    remaining: Option<i64>,
    attributes: Vec<(String, String)>,
}

fn input(obj: &Obj) -> Result<Input, Response> {
    let author = fields::opt_str(obj, "authorAccountId")
        .map_err(|m| bad(&m))?
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad("authorAccountId is required"))?;
    let start_date = fields::opt_str(obj, "startDate")
        .map_err(|m| bad(&m))?
        .ok_or_else(|| bad("startDate is required"))?;
    let start_date = strict_date(&start_date, "startDate")?;
    let start_time = match fields::opt_str(obj, "startTime").map_err(|m| bad(&m))? {
        Some(t) => strict_time(&t)?,
        None => NaiveTime::MIN,
    };
    let seconds = fields::opt_i64(obj, "timeSpentSeconds")
        .map_err(|m| bad(&m))?
        .ok_or_else(|| bad("timeSpentSeconds is required"))?;
    if seconds < 0 {
        return Err(bad("timeSpentSeconds must not be negative"));
    }
    let billable = fields::opt_i64(obj, "billableSeconds")
        .map_err(|m| bad(&m))?
        .unwrap_or(seconds);
    if billable < 0 {
        return Err(bad("billableSeconds must not be negative"));
    }
    let attributes = match obj.get("attributes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|a| {
                match (
                    a.get("key").and_then(Value::as_str),
                    a.get("value").and_then(Value::as_str),
                ) {
                    (Some(k), Some(v)) => Ok((k.to_owned(), v.to_owned())),
                    _ => Err(bad("attributes must be [{key, value}] strings")),
                }
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("attributes must be an array")),
    };
    fields::opt_bool(obj, "bypassPeriodClosuresAndApprovals").map_err(|m| bad(&m))?;
    Ok(Input {
        author,
        start_date,
        start_time,
        seconds,
        billable,
        description: fields::opt_str(obj, "description")
            .map_err(|m| bad(&m))?
            .unwrap_or_default(),
        remaining: fields::opt_i64(obj, "remainingEstimateSeconds").map_err(|m| bad(&m))?,
        attributes,
    })
}

fn not_found() -> Response {
    err(StatusCode::NOT_FOUND, "Worklog not found")
}

fn id(raw: &str) -> Result<u64, Response> {
    raw.parse().map_err(|_| not_found())
}

async fn create(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    let obj = body_object(&headers, &body)?;
    let issue_id = match obj.get("issueId") {
        None | Some(Value::Null) => return Err(bad("issueId is required")),
        Some(v) => v.as_i64().ok_or_else(|| {
            bad(&format!(
                "issueId must be an integer, got {}",
                fields::kind(v)
            ))
        })?,
    };
    let input = input(&obj)?;
    let mut s = lock(&state);
    if !s.issues.contains_key(&issue_id) {
        return Err(bad(
            "Issue does not exist or you do not have permission to see it.",
        ));
    }
    let now = now();
    let w = TempoWorklog {
        id: s.next_id,
        issue_id,
        author_account_id: input.author,
        start_date: input.start_date,
        start_time: input.start_time,
        time_spent_seconds: input.seconds,
        billable_seconds: input.billable,
        description: input.description,
        remaining_estimate_seconds: input.remaining,
        attributes: input.attributes,
        created_at: now,
        updated_at: now,
    };
    s.next_id += 1;
    s.worklogs.insert(w.id, w.clone());
    Ok((
        StatusCode::OK,
        axum::Json(render(&w, &origin(&headers), s.worker_zone)),
    )
        .into_response())
}

async fn update(
    State(state): State<Shared>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let wid = id(&raw)?;
    let obj = body_object(&headers, &body)?;
    if obj.contains_key("issueId") {
        return Err(bad(
            "issueId is not part of WorklogUpdate: delete and create to move a worklog",
        ));
    }
    let input = input(&obj)?;
    let mut s = lock(&state);
    let zone = s.worker_zone;
    let w = s.worklogs.get_mut(&wid).ok_or_else(not_found)?;
    // A replacement: every field not sent falls back to its default.
    w.author_account_id = input.author;
    w.start_date = input.start_date;
    w.start_time = input.start_time;
    w.time_spent_seconds = input.seconds;
    w.billable_seconds = input.billable;
    w.description = input.description;
    w.remaining_estimate_seconds = input.remaining;
    w.attributes = input.attributes;
    w.updated_at = now();
    Ok((
        StatusCode::OK,
        axum::Json(render(w, &origin(&headers), zone)),
    )
        .into_response())
}

async fn delete(State(state): State<Shared>, Path(raw): Path<String>) -> Answer {
    let wid = id(&raw)?;
    lock(&state).worklogs.remove(&wid).ok_or_else(not_found)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn one(State(state): State<Shared>, Path(raw): Path<String>, headers: HeaderMap) -> Answer {
    let wid = id(&raw)?;
    let s = lock(&state);
    let w = s.worklogs.get(&wid).ok_or_else(not_found)?;
    Ok((
        StatusCode::OK,
        axum::Json(render(w, &origin(&headers), s.worker_zone)),
    )
        .into_response())
}

fn updated_from(raw: &str) -> Result<DateTime<Utc>, Response> {
    if raw.len() == 10 {
        return Ok(strict_date(raw, "updatedFrom")?
            .and_time(NaiveTime::MIN)
            .and_utc());
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad("updatedFrom must be yyyy-MM-dd or yyyy-MM-ddTHH:mm:ssZ"))
}

fn number(raw: &str, name: &str) -> Result<usize, Response> {
    raw.parse()
        .map_err(|_| bad(&format!("{name} must be a non-negative integer")))
}

async fn list(State(state): State<Shared>, uri: Uri, headers: HeaderMap) -> Answer {
    let q = query_pairs(uri.query());
    let mut issues = Vec::new();
    let mut projects = Vec::new();
    let (mut from, mut to, mut updated, mut offset, mut limit, mut order) =
        (None, None, None, 0, DEFAULT_LIMIT, "ID");
    for (k, v) in &q {
        match k.as_str() {
            "issueId" | "issueId[]" => issues.push(
                v.parse::<i64>()
                    .map_err(|_| bad("issueId must be an integer"))?,
            ),
            "projectId" | "projectId[]" => {
                projects.push(
                    v.parse::<i64>()
                        .map_err(|_| bad("projectId must be an integer"))?,
                );
            }
            "from" => from = Some(strict_date(v, "from")?),
            "to" => to = Some(strict_date(v, "to")?),
            "updatedFrom" => updated = Some(updated_from(v)?),
            "offset" => offset = number(v, "offset")?,
            "limit" => limit = number(v, "limit")?,
            "orderBy" => order = v.as_str(),
            _ => {}
        }
    }
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad(&format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let s = lock(&state);
    let mut found: Vec<&TempoWorklog> = s
        .worklogs
        .values()
        .filter(|w| issues.is_empty() || issues.contains(&w.issue_id))
        .filter(|w| {
            projects.is_empty()
                || s.issues
                    .get(&w.issue_id)
                    .is_some_and(|p| projects.contains(p))
        })
        .filter(|w| from.is_none_or(|f| w.start_date >= f))
        .filter(|w| to.is_none_or(|t| w.start_date <= t))
        .filter(|w| updated.is_none_or(|u| w.updated_at >= u))
        .collect();
    match order {
        "ID" => {}
        "START_DATE_TIME" => found.sort_by_key(|w| (w.start_date, w.start_time, w.id)),
        "UPDATED" => found.sort_by_key(|w| (w.updated_at, w.id)),
        _ => return Err(bad("orderBy must be ID, START_DATE_TIME or UPDATED")),
    }
    let origin = origin(&headers);
    let total = found.len();
    let page: Vec<Value> = found
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|w| render(w, &origin, s.worker_zone))
        .collect();
    let with_offset = |o: usize| {
        let mut pairs: Vec<String> = q
            .iter()
            .filter(|(k, _)| k != "offset" && k != "limit")
            .map(|(k, v)| {
                let enc = |x: &str| {
                    percent_encoding::utf8_percent_encode(x, percent_encoding::NON_ALPHANUMERIC)
                        .to_string()
                };
                format!("{}={}", enc(k), enc(v))
            })
            .collect();
        pairs.push(format!("offset={o}"));
        pairs.push(format!("limit={limit}"));
        format!("{origin}/4/worklogs?{}", pairs.join("&"))
    };
    let mut metadata = json!({"count": page.len(), "offset": offset, "limit": limit});
    if offset + limit < total {
        metadata["next"] = json!(with_offset(offset + limit));
    }
    if offset > 0 {
        metadata["previous"] = json!(with_offset(offset.saturating_sub(limit)));
    }
    let self_url = match uri.query() {
        Some(query) => format!("{origin}/4/worklogs?{query}"),
        None => format!("{origin}/4/worklogs"),
    };
    Ok((
        StatusCode::OK,
        axum::Json(json!({"self": self_url, "metadata": metadata, "results": page})),
    )
        .into_response())
}
