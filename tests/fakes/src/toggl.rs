//! Fake Toggl Track API v9 under `/api/v9` (contract sheet §1.1).
//!
//! Strict where the sheet is: Basic `<token>:api_token` auth (401 without a header, 403 for a wrong
//! one), bare-object answers, bare JSON string errors, `workspace_id` equal to the path id,
//! `created_with`, `start` and (our rule) `duration` required on create, start + duration = stop, the
//! `since` tombstone feed, the sliding hourly quota answering 402 and the optional leaky bucket
//! answering 429. Single objects render times as `…Z`, lists as `…+00:00`, so a client must parse both.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use base64::Engine;
use chrono::{DateTime, Datelike, NaiveDate, SubsecRound, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::fields::{self, Obj};
use crate::server::{Answer, FakeServer, is_json, lock, query_get, query_pairs};

/// The API token [`FakeToggl::start`] accepts out of the box.
pub const TOKEN: &str = "toggl-test-token";
/// The user id behind [`TOKEN`].
pub const USER_ID: u64 = 7_000_001;
/// The workspace that exists out of the box.
pub const WORKSPACE_ID: u64 = 1_234_567;
/// Toggl's Free plan quota: requests per sliding window.
pub const DEFAULT_QUOTA: u32 = 30;
/// Ids start above `u32::MAX`, as real Toggl ids do, so a 32-bit id type fails at once.
const FIRST_ID: u64 = 4_300_000_000;

/// A time entry as the fake stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct TogglEntry {
    /// Toggl id.
    pub id: u64,
    /// Workspace.
    pub workspace_id: u64,
    /// Owner.
    pub user_id: u64,
    /// Project, if any.
    pub project_id: Option<u64>,
    /// Task, if any.
    pub task_id: Option<u64>,
    /// Billable flag.
    pub billable: bool,
    /// Start, UTC, whole seconds.
    pub start: DateTime<Utc>,
    /// Stop; `None` while running.
    pub stop: Option<DateTime<Utc>>,
    /// Seconds; -1 while running.
    pub duration: i64,
    /// Description, if any.
    pub description: Option<String>,
    /// Tag names.
    pub tags: Vec<String>,
    /// Tag ids.
    pub tag_ids: Vec<u64>,
    /// The client name sent as `created_with`.
    pub created_with: String,
    /// Last modification (Toggl's `at`).
    pub at: DateTime<Utc>,
    /// Set when deleted (the tombstone `since` returns).
    pub server_deleted_at: Option<DateTime<Utc>>,
}

impl TogglEntry {
    /// Whether the timer is still running.
    pub fn is_running(&self) -> bool {
        self.stop.is_none()
    }
}

struct Quota {
    limit: u32,
    window: Duration,
    hits: VecDeque<Instant>,
}

impl Quota {
    fn prune(&mut self, now: Instant) {
        while self
            .hits
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.hits.pop_front();
        }
    }

    fn remaining(&self) -> u32 {
        self.limit
            .saturating_sub(u32::try_from(self.hits.len()).unwrap_or(u32::MAX))
    }

    /// Whole seconds until the oldest counted request leaves the window.
    fn resets_in(&self, now: Instant) -> u64 {
        self.hits.front().map_or(0, |t| {
            let left = self.window.saturating_sub(now.duration_since(*t));
            left.as_millis()
                .div_ceil(1000)
                .try_into()
                .unwrap_or(u64::MAX)
        })
    }
}

struct Bucket {
    capacity: f64,
    leak_every: Duration,
    level: f64,
    last: Instant,
}

struct TogglState {
    tokens: HashMap<String, u64>,
    workspaces: BTreeSet<u64>,
    /// Projects: id → (workspace, name, client).
    projects: BTreeMap<u64, (u64, String, Option<u64>)>,
    /// Tasks: id → (workspace, project, name).
    tasks: BTreeMap<u64, (u64, u64, String)>,
    entries: BTreeMap<u64, TogglEntry>,
    next_id: u64,
    quota: Quota,
    bucket: Option<Bucket>,
}

type Shared = Arc<Mutex<TogglState>>;

/// A running fake Toggl. Derefs to [`FakeServer`] for `base_url`, the request log and chaos.
pub struct FakeToggl {
    server: FakeServer,
    state: Shared,
}

impl Deref for FakeToggl {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeToggl {
    /// Starts the fake with [`TOKEN`] (user [`USER_ID`]), workspace [`WORKSPACE_ID`] and the Free
    /// plan quota (30 requests per 60 minutes); no leaky bucket.
    pub async fn start() -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(TogglState {
            tokens: HashMap::from([(TOKEN.to_owned(), USER_ID)]),
            workspaces: BTreeSet::from([WORKSPACE_ID]),
            projects: BTreeMap::new(),
            tasks: BTreeMap::new(),
            entries: BTreeMap::new(),
            next_id: FIRST_ID,
            quota: Quota {
                limit: DEFAULT_QUOTA,
                window: Duration::from_secs(3600),
                hits: VecDeque::new(),
            },
            bucket: None,
        }));
        let api = Router::new()
            .route("/me", get(me))
            .route("/me/time_entries", get(list))
            .route("/me/time_entries/current", get(current))
            .route("/me/time_entries/{id}", get(one))
            .route("/workspaces/{wid}", get(workspace))
            .route("/workspaces/{wid}/projects", get(projects))
            .route("/workspaces/{wid}/tasks", get(tasks))
            .route("/workspaces/{wid}/time_entries", post(create))
            .route(
                "/workspaces/{wid}/time_entries/{id}",
                put(update).delete(delete),
            )
            .route("/workspaces/{wid}/time_entries/{id}/stop", patch(stop))
            .layer(from_fn_with_state(state.clone(), guard))
            .with_state(state.clone());
        let server = FakeServer::start(Router::new().nest("/api/v9", api)).await?;
        Ok(Self { server, state })
    }

    /// Stops the server (dropping the handle does the same).
    pub fn stop(self) {}

    /// Accepts another API token, for user `user_id`.
    pub fn add_token(&self, token: &str, user_id: u64) {
        lock(&self.state).tokens.insert(token.to_owned(), user_id);
    }

    /// Revokes a token: later requests with it get 403.
    pub fn revoke_token(&self, token: &str) {
        lock(&self.state).tokens.remove(token);
    }

    /// Adds a project (optionally under a client) to a workspace, for the picker lists.
    pub fn add_project(
        &self,
        workspace_id: u64,
        project_id: u64,
        name: &str,
        client_id: Option<u64>,
    ) {
        lock(&self.state)
            .projects
            .insert(project_id, (workspace_id, name.to_owned(), client_id));
    }

    /// Adds a task of a project to a workspace, for the picker lists.
    pub fn add_task(&self, workspace_id: u64, project_id: u64, task_id: u64, name: &str) {
        lock(&self.state)
            .tasks
            .insert(task_id, (workspace_id, project_id, name.to_owned()));
    }

    /// Makes a workspace exist.
    pub fn add_workspace(&self, workspace_id: u64) {
        lock(&self.state).workspaces.insert(workspace_id);
    }

    /// Sets the quota: `limit` requests per sliding `window` (shorten the window in tests).
    /// Forgets the requests counted so far.
    pub fn set_quota(&self, limit: u32, window: Duration) {
        let mut s = lock(&self.state);
        s.quota = Quota {
            limit,
            window,
            hits: VecDeque::new(),
        };
    }

    /// Enables the technical leaky bucket: `capacity` requests in a burst, one more each
    /// `leak_every`; beyond it, 429 with `Retry-After`. `None` disables it.
    pub fn set_leaky_bucket(&self, bucket: Option<(u32, Duration)>) {
        lock(&self.state).bucket = bucket.map(|(capacity, leak_every)| Bucket {
            capacity: f64::from(capacity),
            leak_every,
            level: 0.0,
            last: Instant::now(),
        });
    }

    /// Live (not deleted) entries, by id.
    pub fn entries(&self) -> Vec<TogglEntry> {
        lock(&self.state)
            .entries
            .values()
            .filter(|e| e.server_deleted_at.is_none())
            .cloned()
            .collect()
    }

    /// Every entry including tombstones.
    pub fn all_entries(&self) -> Vec<TogglEntry> {
        lock(&self.state).entries.values().cloned().collect()
    }

    /// One entry by id, tombstones included.
    pub fn entry(&self, id: u64) -> Option<TogglEntry> {
        lock(&self.state).entries.get(&id).cloned()
    }

    /// How many live entries match `pred`.
    pub fn count(&self, pred: impl Fn(&TogglEntry) -> bool) -> usize {
        self.entries().iter().filter(|e| pred(e)).count()
    }

    /// A person creates an entry in Toggl's UI: `duration` < 0 means running.
    pub fn create_entry(
        &self,
        workspace_id: u64,
        start: DateTime<Utc>,
        duration: i64,
        description: Option<&str>,
    ) -> TogglEntry {
        let mut s = lock(&self.state);
        let now = now();
        let start = start.trunc_subsecs(0);
        let entry = TogglEntry {
            id: s.next_id,
            workspace_id,
            user_id: USER_ID,
            project_id: None,
            task_id: None,
            billable: false,
            start,
            stop: (duration >= 0).then(|| start + TimeDelta::seconds(duration)),
            duration: if duration < 0 { -1 } else { duration },
            description: description.map(str::to_owned),
            tags: Vec::new(),
            tag_ids: Vec::new(),
            created_with: "Toggl Track web".to_owned(),
            at: now,
            server_deleted_at: None,
        };
        s.next_id += 1;
        s.entries.insert(entry.id, entry.clone());
        entry
    }

    /// A person edits an entry; `at` is bumped as Toggl does. `None` if unknown or deleted.
    pub fn edit_entry(&self, id: u64, edit: impl FnOnce(&mut TogglEntry)) -> Option<TogglEntry> {
        let mut s = lock(&self.state);
        let entry = s
            .entries
            .get_mut(&id)
            .filter(|e| e.server_deleted_at.is_none())?;
        edit(entry);
        entry.at = now();
        Some(entry.clone())
    }

    /// A person deletes an entry: it becomes a tombstone. `false` if unknown or already deleted.
    pub fn delete_entry(&self, id: u64) -> bool {
        let mut s = lock(&self.state);
        match s
            .entries
            .get_mut(&id)
            .filter(|e| e.server_deleted_at.is_none())
        {
            Some(entry) => {
                let now = now();
                entry.server_deleted_at = Some(now);
                entry.at = now;
                true
            }
            None => false,
        }
    }
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// Toggl's error shape: a bare JSON string.
fn err(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(Value::String(message.to_owned()))).into_response()
}

fn bad(message: &str) -> Response {
    err(StatusCode::BAD_REQUEST, message)
}

/// The user behind the request's Basic credentials, or the 401/403 answer.
fn authenticate(state: &TogglState, headers: &HeaderMap) -> Result<u64, Response> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut()
            .insert("X-Authorization-Missing", HeaderValue::from_static("true"));
        return Err(r);
    };
    let forbidden = || err(StatusCode::FORBIDDEN, "Incorrect username and/or password");
    let encoded = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or_else(forbidden)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(forbidden)?;
    match decoded.split_once(':') {
        Some((token, "api_token")) => state.tokens.get(token).copied().ok_or_else(forbidden),
        _ => Err(forbidden()),
    }
}

/// Auth, then the leaky bucket (429), then the hourly quota (402), and the quota headers on every
/// answer of an authenticated request.
async fn guard(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let user = {
        let mut s = lock(&state);
        let user = match authenticate(&s, req.headers()) {
            Ok(user) => user,
            Err(answer) => return answer,
        };
        let now = Instant::now();
        if let Some(bucket) = s.bucket.as_mut() {
            let leaked = now.duration_since(bucket.last).as_secs_f64()
                / bucket.leak_every.as_secs_f64().max(1e-9);
            bucket.level = (bucket.level - leaked).max(0.0);
            bucket.last = now;
            if bucket.level + 1.0 > bucket.capacity {
                let retry = bucket.leak_every.as_secs().max(1).to_string();
                let mut r = err(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
                if let Ok(v) = HeaderValue::from_str(&retry) {
                    r.headers_mut().insert("Retry-After", v);
                }
                return r;
            }
            bucket.level += 1.0;
        }
        s.quota.prune(now);
        if s.quota.remaining() == 0 {
            let mut r = err(
                StatusCode::PAYMENT_REQUIRED,
                "You have hit your hourly limit for API calls. Your quota will reset soon.",
            );
            quota_headers(&s.quota, now, r.headers_mut());
            return r;
        }
        s.quota.hits.push_back(now);
        user
    };
    req.extensions_mut().insert(User(user));
    let mut response = next.run(req).await;
    let s = lock(&state);
    quota_headers(&s.quota, Instant::now(), response.headers_mut());
    response
}

fn quota_headers(quota: &Quota, now: Instant, headers: &mut HeaderMap) {
    if let Ok(v) = HeaderValue::from_str(&quota.remaining().to_string()) {
        headers.insert("X-Toggl-Quota-Remaining", v);
    }
    if let Ok(v) = HeaderValue::from_str(&quota.resets_in(now).to_string()) {
        headers.insert("X-Toggl-Quota-Resets-In", v);
    }
}

#[derive(Clone, Copy)]
struct User(u64);

fn user_of(req_ext: &axum::http::Extensions) -> u64 {
    req_ext.get::<User>().map_or(0, |u| u.0)
}

/// Single objects say `Z`, lists `+00:00` (both seen in recorded traffic).
#[derive(Clone, Copy)]
enum Style {
    Zulu,
    Offset,
}

fn ts(t: DateTime<Utc>, style: Style) -> String {
    match style {
        Style::Zulu => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Style::Offset => t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
    }
}

fn render(e: &TogglEntry, style: Style) -> Value {
    json!({
        "id": e.id,
        "workspace_id": e.workspace_id,
        "project_id": e.project_id,
        "task_id": e.task_id,
        "billable": e.billable,
        "start": ts(e.start, style),
        "stop": e.stop.map(|t| ts(t, style)),
        "duration": e.duration,
        "description": e.description,
        "tags": e.tags,
        "tag_ids": e.tag_ids,
        "duronly": true,
        "at": ts(e.at, style),
        "server_deleted_at": e.server_deleted_at.map(|t| ts(t, style)),
        "user_id": e.user_id,
        "uid": e.user_id,
        "wid": e.workspace_id,
        "pid": e.project_id,
        "tid": e.task_id,
    })
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

async fn me(req: Request) -> Response {
    let user = user_of(req.extensions());
    ok(json!({
        "id": user,
        "email": "person@example.invalid",
        "fullname": "Test Person",
        "timezone": "UTC",
        "default_workspace_id": WORKSPACE_ID,
        "beginning_of_week": 1,
    }))
}

/// An id path segment; anything else is not a route Toggl has.
fn id(raw: &str) -> Result<u64, Response> {
    raw.parse()
        .map_err(|_| err(StatusCode::NOT_FOUND, "Resource can not be found"))
}

fn body_object(headers: &HeaderMap, body: &Bytes) -> Result<Obj, Response> {
    if !is_json(headers) {
        return Err(bad("Content-Type must be application/json"));
    }
    fields::object(body).map_err(|m| bad(&m))
}

fn parse_start(raw: &str) -> Result<DateTime<Utc>, Response> {
    let t = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| bad("invalid start time, expected RFC 3339"))?
        .with_timezone(&Utc);
    if !(2006..=2030).contains(&t.year()) {
        return Err(bad("Start time year must be between 2006 and 2030"));
    }
    Ok(t.trunc_subsecs(0))
}

fn parse_stop(raw: &str) -> Result<DateTime<Utc>, Response> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc).trunc_subsecs(0))
        .map_err(|_| bad("invalid stop time, expected RFC 3339"))
}

fn tag_list(obj: &Obj) -> Result<Option<Vec<String>>, Response> {
    match obj.get("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad("tags must be strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad("tags must be an array of strings")),
    }
}

fn tag_id_list(obj: &Obj) -> Result<Option<Vec<u64>>, Response> {
    match obj.get("tag_ids") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_u64().ok_or_else(|| bad("tag_ids must be integers")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad("tag_ids must be an array of integers")),
    }
}

fn opt_id(obj: &Obj, key: &str) -> Result<Option<u64>, Response> {
    match fields::opt_i64(obj, key).map_err(|m| bad(&m))? {
        Some(v) => u64::try_from(v)
            .map(Some)
            .map_err(|_| bad(&format!("{key} must be positive"))),
        None => Ok(None),
    }
}

/// A stop (`None` while running) and its duration.
type Timing = (Option<DateTime<Utc>>, i64);

/// Stop and duration from what was sent, checking start + duration = stop.
fn timing(
    start: DateTime<Utc>,
    duration: Option<i64>,
    stop: Option<DateTime<Utc>>,
) -> Result<Option<Timing>, Response> {
    match (duration, stop) {
        (Some(d), Some(stop)) => {
            if d < 0 || start + TimeDelta::seconds(d) != stop {
                Err(bad("stop must equal start + duration"))
            } else {
                Ok(Some((Some(stop), d)))
            }
        }
        (Some(d), None) if d < 0 => Ok(Some((None, -1))),
        (Some(d), None) => Ok(Some((Some(start + TimeDelta::seconds(d)), d))),
        (None, Some(stop)) if stop < start => Err(bad("stop must not be before start")),
        (None, Some(stop)) => Ok(Some((Some(stop), (stop - start).num_seconds()))),
        (None, None) => Ok(None),
    }
}

fn workspace_matches(
    state: &TogglState,
    path_wid: u64,
    obj: &Obj,
    required: bool,
) -> Result<(), Response> {
    if !state.workspaces.contains(&path_wid) {
        return Err(err(StatusCode::FORBIDDEN, "Incorrect workspace"));
    }
    match opt_id(obj, "workspace_id")? {
        Some(w) if w == path_wid => Ok(()),
        Some(_) => Err(bad(
            "workspace_id in the body does not match the workspace in the path",
        )),
        None if required => Err(bad("workspace_id is required")),
        None => Ok(()),
    }
}

/// Toggl stops the user's running timer when another one starts.
fn stop_running(state: &mut TogglState, user: u64, except: u64, now: DateTime<Utc>) {
    for e in state.entries.values_mut() {
        if e.user_id == user && e.id != except && e.server_deleted_at.is_none() && e.stop.is_none()
        {
            e.stop = Some(now.max(e.start));
            e.duration = (now.max(e.start) - e.start).num_seconds();
            e.at = now;
        }
    }
}

async fn create(State(state): State<Shared>, Path(wid): Path<String>, req: Request) -> Answer {
    let user = user_of(req.extensions());
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .map_err(|_| bad("unreadable body"))?;
    let wid = id(&wid)?;
    let obj = body_object(&headers, &body)?;
    let mut s = lock(&state);
    workspace_matches(&s, wid, &obj, true)?;
    let created_with = fields::opt_str(&obj, "created_with")
        .map_err(|m| bad(&m))?
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| bad("created_with needs to be provided an a valid string"))?;
    let start = fields::opt_str(&obj, "start")
        .map_err(|m| bad(&m))?
        .ok_or_else(|| bad("start is required when creating a time entry"))?;
    let start = parse_start(&start)?;
    let duration = fields::opt_i64(&obj, "duration")
        .map_err(|m| bad(&m))?
        .ok_or_else(|| {
            bad("duration is required (this fake follows the sheet: always send duration)")
        })?;
    let stop = fields::opt_str(&obj, "stop")
        .map_err(|m| bad(&m))?
        .map(|s| parse_stop(&s))
        .transpose()?;
    let (stop, duration) = timing(start, Some(duration), stop)?.unwrap_or((None, -1));
    let now = now();
    let entry = TogglEntry {
        id: s.next_id,
        workspace_id: wid,
        user_id: user,
        project_id: opt_id(&obj, "project_id")?,
        task_id: opt_id(&obj, "task_id")?,
        billable: fields::opt_bool(&obj, "billable")
            .map_err(|m| bad(&m))?
            .unwrap_or(false),
        start,
        stop,
        duration,
        description: fields::opt_str(&obj, "description").map_err(|m| bad(&m))?,
        tags: tag_list(&obj)?.unwrap_or_default(),
        tag_ids: tag_id_list(&obj)?.unwrap_or_default(),
        created_with,
        at: now,
        server_deleted_at: None,
    };
    s.next_id += 1;
    if entry.stop.is_none() {
        stop_running(&mut s, user, entry.id, now);
    }
    s.entries.insert(entry.id, entry.clone());
    Ok(ok(render(&entry, Style::Zulu)))
}

fn live_entry(
    state: &mut TogglState,
    wid: u64,
    id: u64,
    user: u64,
) -> Result<&mut TogglEntry, Response> {
    state
        .entries
        .get_mut(&id)
        .filter(|e| e.workspace_id == wid && e.user_id == user && e.server_deleted_at.is_none())
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "Time entry not found"))
}

async fn update(
    State(state): State<Shared>,
    Path((wid, eid)): Path<(String, String)>,
    req: Request,
) -> Answer {
    let user = user_of(req.extensions());
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .map_err(|_| bad("unreadable body"))?;
    let (wid, eid) = (id(&wid)?, id(&eid)?);
    let obj = body_object(&headers, &body)?;
    let mut s = lock(&state);
    workspace_matches(&s, wid, &obj, false)?;
    let start = fields::opt_str(&obj, "start")
        .map_err(|m| bad(&m))?
        .map(|v| parse_start(&v))
        .transpose()?;
    let duration = fields::opt_i64(&obj, "duration").map_err(|m| bad(&m))?;
    let stop = fields::opt_str(&obj, "stop")
        .map_err(|m| bad(&m))?
        .map(|v| parse_stop(&v))
        .transpose()?;
    let description = fields::opt_str(&obj, "description").map_err(|m| bad(&m))?;
    let billable = fields::opt_bool(&obj, "billable").map_err(|m| bad(&m))?;
    let project_id = opt_id(&obj, "project_id")?;
    let task_id = opt_id(&obj, "task_id")?;
    let tags = tag_list(&obj)?;
    let tag_ids = tag_id_list(&obj)?;
    let tag_action = fields::opt_str(&obj, "tag_action").map_err(|m| bad(&m))?;
    if tag_action
        .as_deref()
        .is_some_and(|a| a != "add" && a != "delete")
    {
        return Err(bad("tag_action must be add or delete"));
    }
    let now = now();
    let entry = live_entry(&mut s, wid, eid, user)?;
    let new_start = start.unwrap_or(entry.start);
    let (new_stop, new_duration) = match timing(new_start, duration, stop)? {
        Some(t) => t,
        // Only the start moved (or nothing): a stopped entry keeps its duration.
        None if entry.stop.is_some() => (
            Some(new_start + TimeDelta::seconds(entry.duration)),
            entry.duration,
        ),
        None => (None, -1),
    };
    entry.start = new_start;
    entry.stop = new_stop;
    entry.duration = new_duration;
    if obj.contains_key("description") {
        entry.description = description;
    }
    if let Some(b) = billable {
        entry.billable = b;
    }
    if obj.contains_key("project_id") {
        entry.project_id = project_id;
    }
    if obj.contains_key("task_id") {
        entry.task_id = task_id;
    }
    if let Some(tags) = tags {
        match tag_action.as_deref() {
            Some("add") => {
                for t in tags {
                    if !entry.tags.contains(&t) {
                        entry.tags.push(t);
                    }
                }
            }
            Some(_) => entry.tags.retain(|t| !tags.contains(t)),
            None => entry.tags = tags,
        }
    }
    if let Some(ids) = tag_ids {
        entry.tag_ids = ids;
    }
    entry.at = now;
    let rendered = render(entry, Style::Zulu);
    if new_stop.is_none() {
        stop_running(&mut s, user, eid, now);
    }
    Ok(ok(rendered))
}

async fn delete(
    State(state): State<Shared>,
    Path((wid, eid)): Path<(String, String)>,
    req: Request,
) -> Answer {
    let user = user_of(req.extensions());
    let (wid, eid) = (id(&wid)?, id(&eid)?);
    let mut s = lock(&state);
    if !s.workspaces.contains(&wid) {
        return Err(err(StatusCode::FORBIDDEN, "Incorrect workspace"));
    }
    let entry = live_entry(&mut s, wid, eid, user)?;
    let now = now();
    entry.server_deleted_at = Some(now);
    entry.at = now;
    Ok(StatusCode::OK.into_response())
}

async fn stop(
    State(state): State<Shared>,
    Path((wid, eid)): Path<(String, String)>,
    req: Request,
) -> Answer {
    let user = user_of(req.extensions());
    let (wid, eid) = (id(&wid)?, id(&eid)?);
    let mut s = lock(&state);
    if !s.workspaces.contains(&wid) {
        return Err(err(StatusCode::FORBIDDEN, "Incorrect workspace"));
    }
    let entry = live_entry(&mut s, wid, eid, user)?;
    if entry.stop.is_some() {
        return Err(err(StatusCode::CONFLICT, "Time entry already stopped"));
    }
    let now = now();
    let stop = now.max(entry.start);
    entry.stop = Some(stop);
    entry.duration = (stop - entry.start).num_seconds();
    entry.at = now;
    Ok(ok(render(entry, Style::Zulu)))
}

async fn current(State(state): State<Shared>, req: Request) -> Response {
    let user = user_of(req.extensions());
    let s = lock(&state);
    let running = s
        .entries
        .values()
        .find(|e| e.user_id == user && e.server_deleted_at.is_none() && e.stop.is_none());
    ok(running.map_or(Value::Null, |e| render(e, Style::Zulu)))
}

async fn one(State(state): State<Shared>, Path(eid): Path<String>, req: Request) -> Answer {
    let user = user_of(req.extensions());
    let eid = id(&eid)?;
    let s = lock(&state);
    s.entries
        .get(&eid)
        .filter(|e| e.user_id == user && e.server_deleted_at.is_none())
        .map(|e| ok(render(e, Style::Zulu)))
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "Time entry not found"))
}

/// A date (`YYYY-MM-DD`, midnight UTC) or an RFC 3339 instant.
fn date_or_instant(raw: &str, name: &str) -> Result<DateTime<Utc>, Response> {
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad(&format!("invalid {name}: expected YYYY-MM-DD or RFC 3339")))
}

async fn list(State(state): State<Shared>, uri: Uri, req: Request) -> Answer {
    let user = user_of(req.extensions());
    let q = query_pairs(uri.query());
    let since = query_get(&q, "since");
    let before = query_get(&q, "before");
    if since.is_some() && before.is_some() {
        return Err(bad(
            "'since' and 'before' can not be present simultaneously",
        ));
    }
    let since = since
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| bad("invalid since: expected a UNIX timestamp"))
        })
        .transpose()?;
    let before = before.map(|v| date_or_instant(v, "before")).transpose()?;
    let range = match (query_get(&q, "start_date"), query_get(&q, "end_date")) {
        (Some(a), Some(b)) => {
            let (a, b) = (
                date_or_instant(a, "start_date")?,
                date_or_instant(b, "end_date")?,
            );
            if b < a {
                return Err(bad("start_date must be earlier than end_date"));
            }
            Some((a, b))
        }
        (None, None) => None,
        _ => return Err(bad("start_date and end_date must be given together")),
    };
    let s = lock(&state);
    let mut found: Vec<&TogglEntry> = s
        .entries
        .values()
        .filter(|e| e.user_id == user)
        .filter(|e| match since {
            Some(since) => e.at.timestamp() >= since,
            None => e.server_deleted_at.is_none(),
        })
        .filter(|e| before.is_none_or(|b| e.start < b))
        .filter(|e| range.is_none_or(|(a, b)| e.start >= a && e.start < b))
        .collect();
    found.sort_by(|a, b| b.start.cmp(&a.start).then(b.id.cmp(&a.id)));
    Ok(ok(Value::Array(
        found
            .into_iter()
            .map(|e| render(e, Style::Offset))
            .collect(),
    )))
}

/// `GET /workspaces/{wid}`: 403 for a workspace the user is not in, as the other workspace routes.
async fn workspace(State(state): State<Shared>, Path(wid): Path<String>) -> Answer {
    let wid = id(&wid)?;
    let s = lock(&state);
    if !s.workspaces.contains(&wid) {
        return Err(err(StatusCode::FORBIDDEN, "Incorrect workspace"));
    }
    Ok(ok(
        json!({ "id": wid, "name": format!("Workspace {wid}"), "premium": false }),
    ))
}

/// `GET /workspaces/{wid}/projects`: a bare array.
async fn projects(State(state): State<Shared>, Path(wid): Path<String>) -> Answer {
    let wid = id(&wid)?;
    let s = lock(&state);
    if !s.workspaces.contains(&wid) {
        return Err(err(StatusCode::FORBIDDEN, "Incorrect workspace"));
    }
    let list: Vec<Value> = s
        .projects
        .iter()
        .filter(|(_, (w, _, _))| *w == wid)
        .map(|(pid, (w, name, client))| {
            json!({ "id": pid, "workspace_id": w, "client_id": client, "name": name, "active": true })
        })
        .collect();
    Ok(ok(Value::Array(list)))
}

/// `GET /workspaces/{wid}/tasks`: the paged wrapper Toggl answers here (`data` plus paging fields).
async fn tasks(State(state): State<Shared>, Path(wid): Path<String>) -> Answer {
    let wid = id(&wid)?;
    let s = lock(&state);
    if !s.workspaces.contains(&wid) {
        return Err(err(StatusCode::FORBIDDEN, "Incorrect workspace"));
    }
    let list: Vec<Value> = s
        .tasks
        .iter()
        .filter(|(_, (w, _, _))| *w == wid)
        .map(|(tid, (w, pid, name))| {
            json!({ "id": tid, "workspace_id": w, "project_id": pid, "name": name, "active": true })
        })
        .collect();
    let total = list.len();
    Ok(ok(
        json!({ "data": list, "page": 1, "per_page": 200, "total_count": total }),
    ))
}
