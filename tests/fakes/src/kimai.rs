//! Fake Kimai 2.x under `/api` (contract sheet §1.3).
//!
//! Strict where the sheet is: Bearer and legacy `X-AUTH-USER`/`X-AUTH-TOKEN` auth, `begin`/`end` as
//! HTML5 local time without an offset (read in the user's zone; an offset is refused), `tags` a
//! comma-separated string, the project/activity pairing, Symfony's "no extra fields" rule, answers
//! rendering times with the user's offset as `+0200`, paging headers and 404 for a page past the last.
//! `fixedRate`/`hourlyRate` are accepted and recorded so a test can assert they were never sent.

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
use chrono::{DateTime, NaiveDateTime, SubsecRound, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::fields::{self, Obj};
use crate::server::{Answer, FakeServer, is_json, lock, query_get, query_pairs};

/// The API token (Bearer) [`FakeKimai::start`] accepts out of the box.
pub const TOKEN: &str = "kimai-test-token";
/// The legacy `X-AUTH-USER` accepted out of the box.
pub const USERNAME: &str = "anna";
/// The legacy `X-AUTH-TOKEN` (API password) for [`USERNAME`].
pub const API_PASSWORD: &str = "kimai-api-password";
/// The user behind both credentials.
pub const USER_ID: u64 = 1;
/// Customer that exists out of the box.
pub const CUSTOMER_ID: u64 = 1;
/// Project "Website" (customer [`CUSTOMER_ID`]).
pub const PROJECT_ID: u64 = 1;
/// Project "Support" (customer [`CUSTOMER_ID`]).
pub const OTHER_PROJECT_ID: u64 = 2;
/// Activity "Design", bound to [`PROJECT_ID`].
pub const ACTIVITY_ID: u64 = 1;
/// Activity "Meeting", global (usable with every project).
pub const GLOBAL_ACTIVITY_ID: u64 = 2;
/// Activity "Hotline", bound to [`OTHER_PROJECT_ID`].
pub const OTHER_ACTIVITY_ID: u64 = 3;
/// Default page size of `GET /api/timesheets`.
pub const DEFAULT_SIZE: usize = 50;
/// Hourly rate used for `rate` when none was sent.
const DEFAULT_HOURLY_RATE: f64 = 60.0;
/// Symfony's message for a field it could not read.
const NOT_VALID: &str = "This value is not valid.";

/// A timesheet record as the fake stores it (instants in UTC; rendered in the user's zone).
#[derive(Debug, Clone, PartialEq)]
pub struct KimaiTimesheet {
    /// Id.
    pub id: u64,
    /// Begin.
    pub begin: DateTime<Utc>,
    /// End; `None` while running.
    pub end: Option<DateTime<Utc>>,
    /// Seconds (0 while running).
    pub duration: i64,
    /// Project id.
    pub project: u64,
    /// Activity id.
    pub activity: u64,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// `fixedRate` exactly as sent (`None` = never sent).
    pub fixed_rate: Option<f64>,
    /// `hourlyRate` exactly as sent (`None` = never sent).
    pub hourly_rate: Option<f64>,
    /// Billable flag.
    pub billable: bool,
    /// Exported flag.
    pub exported: bool,
    /// Owner.
    pub user: u64,
    /// Custom fields `(name, value)`.
    pub meta_fields: Vec<(String, String)>,
    /// Last modification (what `modified_after` compares).
    pub modified_at: DateTime<Utc>,
}

/// A project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KimaiProject {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Customer id.
    pub customer: u64,
    /// Whether global activities may be used with it.
    pub global_activities: bool,
}

/// An activity; `project: None` means global.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KimaiActivity {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Bound project, or `None` for a global activity.
    pub project: Option<u64>,
}

/// The server rules `/api/config/timesheet` reports (and the fake enforces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KimaiConfig {
    /// `activeEntriesHardLimit`: at 1 a new running entry stops the running one; above, a new one
    /// beyond the limit is refused.
    pub active_entries_hard_limit: u32,
    /// `isAllowFutureTimes`.
    pub allow_future_times: bool,
    /// `isAllowOverlapping`.
    pub allow_overlapping: bool,
}

struct KimaiState {
    tokens: HashMap<String, u64>,
    legacy: HashMap<String, (String, u64)>,
    zone: Tz,
    customers: BTreeMap<u64, String>,
    projects: BTreeMap<u64, KimaiProject>,
    activities: BTreeMap<u64, KimaiActivity>,
    sheets: BTreeMap<u64, KimaiTimesheet>,
    next_id: u64,
    config: KimaiConfig,
    meta_fields: Vec<String>,
}

type Shared = Arc<Mutex<KimaiState>>;

/// A running fake Kimai. Derefs to [`FakeServer`] for `base_url`, the request log and chaos.
pub struct FakeKimai {
    server: FakeServer,
    state: Shared,
}

impl Deref for FakeKimai {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeKimai {
    /// Starts the fake: user [`USER_ID`] in Europe/Berlin (so offsets are never zero by accident),
    /// with [`TOKEN`] and the legacy [`USERNAME`]/[`API_PASSWORD`], one customer, two projects and
    /// three activities (see the constants), hard limit 1, future times and overlaps allowed.
    pub async fn start() -> std::io::Result<Self> {
        let project = |id, name: &str| {
            (
                id,
                KimaiProject {
                    id,
                    name: name.to_owned(),
                    customer: CUSTOMER_ID,
                    global_activities: true,
                },
            )
        };
        let activity = |id, name: &str, project| {
            (
                id,
                KimaiActivity {
                    id,
                    name: name.to_owned(),
                    project,
                },
            )
        };
        let state = Arc::new(Mutex::new(KimaiState {
            tokens: HashMap::from([(TOKEN.to_owned(), USER_ID)]),
            legacy: HashMap::from([(USERNAME.to_owned(), (API_PASSWORD.to_owned(), USER_ID))]),
            zone: chrono_tz::Europe::Berlin,
            customers: BTreeMap::from([(CUSTOMER_ID, "Acme".to_owned())]),
            projects: BTreeMap::from([
                project(PROJECT_ID, "Website"),
                project(OTHER_PROJECT_ID, "Support"),
            ]),
            activities: BTreeMap::from([
                activity(ACTIVITY_ID, "Design", Some(PROJECT_ID)),
                activity(GLOBAL_ACTIVITY_ID, "Meeting", None),
                activity(OTHER_ACTIVITY_ID, "Hotline", Some(OTHER_PROJECT_ID)),
            ]),
            sheets: BTreeMap::new(),
            next_id: 1,
            config: KimaiConfig {
                active_entries_hard_limit: 1,
                allow_future_times: true,
                allow_overlapping: true,
            },
            meta_fields: Vec::new(),
        }));
        let api = Router::new()
            .route("/ping", get(ping))
            .route("/version", get(version))
            .route("/config/timesheet", get(config))
            .route("/customers", get(customers))
            .route("/projects", get(projects))
            .route("/activities", get(activities))
            .route("/timesheets", get(list).post(create))
            .route("/timesheets/{id}", get(one).patch(update).delete(delete))
            .route("/timesheets/{id}/stop", get(stop).patch(stop))
            .route("/timesheets/{id}/meta", axum::routing::patch(meta))
            .layer(from_fn_with_state(state.clone(), guard))
            .with_state(state.clone());
        let server = FakeServer::start(Router::new().nest("/api", api)).await?;
        Ok(Self { server, state })
    }

    /// Stops the server (dropping the handle does the same).
    pub fn stop(self) {}

    /// Accepts another Bearer token for `user`.
    pub fn add_token(&self, token: &str, user: u64) {
        lock(&self.state).tokens.insert(token.to_owned(), user);
    }

    /// Accepts another legacy `X-AUTH-USER`/`X-AUTH-TOKEN` pair for `user`.
    pub fn add_legacy_login(&self, username: &str, api_password: &str, user: u64) {
        lock(&self.state)
            .legacy
            .insert(username.to_owned(), (api_password.to_owned(), user));
    }

    /// Revokes a Bearer token or a legacy user name: later requests with it get 401.
    pub fn revoke_token(&self, token_or_username: &str) {
        let mut s = lock(&self.state);
        s.tokens.remove(token_or_username);
        s.legacy.remove(token_or_username);
    }

    /// The user's time zone, in which HTML5 times are read and answers rendered.
    pub fn set_time_zone(&self, zone: Tz) {
        lock(&self.state).zone = zone;
    }

    /// Adds a customer.
    pub fn add_customer(&self, id: u64, name: &str) {
        lock(&self.state).customers.insert(id, name.to_owned());
    }

    /// Adds a project.
    pub fn add_project(&self, project: KimaiProject) {
        lock(&self.state).projects.insert(project.id, project);
    }

    /// Adds an activity.
    pub fn add_activity(&self, activity: KimaiActivity) {
        lock(&self.state).activities.insert(activity.id, activity);
    }

    /// Configures a timesheet custom field (e.g. for a source id): only configured names are
    /// accepted by `PATCH /api/timesheets/{id}/meta`.
    pub fn add_meta_field(&self, name: &str) {
        lock(&self.state).meta_fields.push(name.to_owned());
    }

    /// Replaces the timesheet rules.
    pub fn set_config(&self, config: KimaiConfig) {
        lock(&self.state).config = config;
    }

    /// Live timesheets, by id.
    pub fn timesheets(&self) -> Vec<KimaiTimesheet> {
        lock(&self.state).sheets.values().cloned().collect()
    }

    /// One timesheet by id.
    pub fn timesheet(&self, id: u64) -> Option<KimaiTimesheet> {
        lock(&self.state).sheets.get(&id).cloned()
    }

    /// How many live timesheets match `pred`.
    pub fn count(&self, pred: impl Fn(&KimaiTimesheet) -> bool) -> usize {
        lock(&self.state)
            .sheets
            .values()
            .filter(|t| pred(t))
            .count()
    }

    /// A person records time in Kimai's UI (no project/activity checks).
    pub fn create_timesheet(
        &self,
        project: u64,
        activity: u64,
        begin: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
        description: Option<&str>,
    ) -> KimaiTimesheet {
        let mut s = lock(&self.state);
        let now = now();
        let begin = begin.trunc_subsecs(0);
        let end = end.map(|e| e.trunc_subsecs(0));
        let sheet = KimaiTimesheet {
            id: s.next_id,
            begin,
            end,
            duration: end.map_or(0, |e| (e - begin).num_seconds()),
            project,
            activity,
            description: description.map(str::to_owned),
            tags: Vec::new(),
            fixed_rate: None,
            hourly_rate: None,
            billable: true,
            exported: false,
            user: USER_ID,
            meta_fields: Vec::new(),
            modified_at: now,
        };
        s.next_id += 1;
        s.sheets.insert(sheet.id, sheet.clone());
        sheet
    }

    /// A person edits a timesheet; `duration` is recomputed and `modified_at` bumped.
    pub fn edit_timesheet(
        &self,
        id: u64,
        edit: impl FnOnce(&mut KimaiTimesheet),
    ) -> Option<KimaiTimesheet> {
        let mut s = lock(&self.state);
        let sheet = s.sheets.get_mut(&id)?;
        edit(sheet);
        sheet.duration = sheet.end.map_or(0, |e| (e - sheet.begin).num_seconds());
        sheet.modified_at = now();
        Some(sheet.clone())
    }

    /// A person deletes a timesheet: afterwards `GET /api/timesheets/{id}` answers 404.
    pub fn delete_timesheet(&self, id: u64) -> bool {
        lock(&self.state).sheets.remove(&id).is_some()
    }
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": status.as_u16(), "message": message})),
    )
        .into_response()
}

fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "Not found")
}

/// Symfony form errors, collected over all fields as Kimai reports them.
#[derive(Default)]
struct FormErrors {
    global: Vec<String>,
    children: BTreeMap<String, Vec<String>>,
}

impl FormErrors {
    fn add(&mut self, field: &str, message: &str) {
        self.children
            .entry(field.to_owned())
            .or_default()
            .push(message.to_owned());
    }

    fn into_result(self) -> Result<(), Response> {
        if self.global.is_empty() && self.children.is_empty() {
            return Ok(());
        }
        let children: serde_json::Map<String, Value> = self
            .children
            .into_iter()
            .map(|(k, v)| (k, json!({"errors": v})))
            .collect();
        let mut errors = json!({"children": children});
        if !self.global.is_empty() {
            errors["errors"] = json!(self.global);
        }
        Err((
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"code": 400, "message": "Validation Failed", "errors": errors})),
        )
            .into_response())
    }
}

#[derive(Clone, Copy)]
struct User(u64);

async fn guard(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let user = {
        let s = lock(&state);
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let legacy_user = headers.get("X-AUTH-USER").and_then(|v| v.to_str().ok());
        let legacy_token = headers.get("X-AUTH-TOKEN").and_then(|v| v.to_str().ok());
        match (bearer, legacy_user, legacy_token) {
            (Some(t), _, _) => s.tokens.get(t).copied(),
            (None, Some(u), Some(t)) => s.legacy.get(u).filter(|(p, _)| p == t).map(|(_, id)| *id),
            _ => None,
        }
    };
    match user {
        Some(user) => {
            req.extensions_mut().insert(User(user));
            next.run(req).await
        }
        None => plain(StatusCode::UNAUTHORIZED, "Unauthorized"),
    }
}

fn user_of(req: &Request) -> u64 {
    req.extensions().get::<User>().map_or(0, |u| u.0)
}

/// `+0200`-style offset, as Kimai renders it.
fn render_time(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone)
        .format("%Y-%m-%dT%H:%M:%S%z")
        .to_string()
}

fn rate(t: &KimaiTimesheet) -> f64 {
    match t.fixed_rate {
        Some(fixed) => fixed,
        #[allow(clippy::cast_precision_loss)]
        None => t.hourly_rate.unwrap_or(DEFAULT_HOURLY_RATE) * t.duration as f64 / 3600.0,
    }
}

fn render(t: &KimaiTimesheet, zone: Tz) -> Value {
    json!({
        "id": t.id,
        "begin": render_time(t.begin, zone),
        "end": t.end.map(|e| render_time(e, zone)),
        "duration": t.duration,
        "description": t.description,
        "rate": rate(t),
        "internalRate": rate(t),
        "fixedRate": t.fixed_rate,
        "hourlyRate": t.hourly_rate,
        "exported": t.exported,
        "billable": t.billable,
        "tags": t.tags,
        "metaFields": t.meta_fields.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
        "user": t.user,
        "project": t.project,
        "activity": t.activity,
    })
}

/// Reads an HTML5 local date-time (`YYYY-MM-DDTHH:mm:ss`, no offset) in the user's zone.
fn html5(raw: &str, zone: Tz) -> Option<DateTime<Utc>> {
    if raw.len() != 19 {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S").ok()?;
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

const FORM_FIELDS: &[&str] = &[
    "begin",
    "end",
    "project",
    "activity",
    "description",
    "tags",
    "fixedRate",
    "hourlyRate",
    "user",
    "exported",
    "billable",
];

/// What a create or patch body says, each field `None` when absent; errors collected.
#[derive(Default)]
struct Form {
    begin: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    project: Option<u64>,
    activity: Option<u64>,
    description: Option<String>,
    tags: Option<Vec<String>>,
    fixed_rate: Option<f64>,
    hourly_rate: Option<f64>,
    exported: Option<bool>,
    billable: Option<bool>,
}

fn read_form(obj: &Obj, zone: Tz, errors: &mut FormErrors) -> Form {
    let mut form = Form::default();
    if obj.keys().any(|k| !FORM_FIELDS.contains(&k.as_str())) {
        errors
            .global
            .push("This form should not contain extra fields.".to_owned());
    }
    let mut time = |key: &str| match fields::opt_str(obj, key) {
        Ok(Some(raw)) => {
            let parsed = html5(&raw, zone);
            if parsed.is_none() {
                errors.add(key, NOT_VALID);
            }
            parsed
        }
        Ok(None) => None,
        Err(_) => {
            errors.add(key, NOT_VALID);
            None
        }
    };
    form.begin = time("begin");
    form.end = time("end");
    let id = |key: &str, errors: &mut FormErrors| match fields::opt_i64(obj, key) {
        Ok(v) => v.and_then(|v| u64::try_from(v).ok()),
        Err(_) => {
            errors.add(key, NOT_VALID);
            None
        }
    };
    form.project = id("project", errors);
    form.activity = id("activity", errors);
    match fields::opt_str(obj, "description") {
        Ok(d) => form.description = d,
        Err(_) => errors.add("description", NOT_VALID),
    }
    match obj.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            form.tags = Some(
                s.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        }
        Some(_) => errors.add("tags", NOT_VALID),
    }
    for (key, slot) in [
        ("fixedRate", &mut form.fixed_rate),
        ("hourlyRate", &mut form.hourly_rate),
    ] {
        match fields::opt_f64(obj, key) {
            Ok(v) => *slot = v,
            Err(_) => errors.add(key, NOT_VALID),
        }
    }
    for (key, slot) in [
        ("exported", &mut form.exported),
        ("billable", &mut form.billable),
    ] {
        match fields::opt_bool(obj, key) {
            Ok(v) => *slot = v,
            Err(_) => errors.add(key, NOT_VALID),
        }
    }
    if fields::opt_i64(obj, "user").is_err() {
        errors.add("user", NOT_VALID);
    }
    form
}

/// The rules judged on the merged record: project/activity pairing, end after begin, future times,
/// overlaps.
fn check_record(s: &KimaiState, t: &KimaiTimesheet, errors: &mut FormErrors) {
    let project = s.projects.get(&t.project);
    if project.is_none() {
        errors.add("project", NOT_VALID);
    }
    match s.activities.get(&t.activity) {
        None => errors.add("activity", NOT_VALID),
        Some(a) => match a.project {
            Some(p) if p != t.project => errors.add(
                "activity",
                "The activity does not belong to the selected project.",
            ),
            None if project.is_some_and(|p| !p.global_activities) => {
                errors.add("activity", "The project does not allow global activities.");
            }
            _ => {}
        },
    }
    if t.end.is_some_and(|e| e < t.begin) {
        errors.add("end", "End date must not be earlier then start date.");
    }
    if !s.config.allow_future_times && t.begin > Utc::now() {
        errors.add("begin", "The begin date cannot be in the future.");
    }
    if !s.config.allow_overlapping {
        let far = DateTime::<Utc>::MAX_UTC;
        let overlaps = s.sheets.values().any(|o| {
            o.id != t.id
                && o.user == t.user
                && o.begin < t.end.unwrap_or(far)
                && t.begin < o.end.unwrap_or(far)
        });
        if overlaps {
            errors.add("begin", "You already have an entry for this time.");
        }
    }
}

/// Applies the active-entries hard limit before `t` starts running.
fn make_room(s: &mut KimaiState, t: &KimaiTimesheet, errors: &mut FormErrors) {
    if t.end.is_some() {
        return;
    }
    let running = s
        .sheets
        .values()
        .filter(|o| o.id != t.id && o.user == t.user && o.end.is_none())
        .count();
    let limit = usize::try_from(s.config.active_entries_hard_limit).unwrap_or(usize::MAX);
    if running < limit {
        return;
    }
    if limit == 1 {
        let now = now();
        for o in s
            .sheets
            .values_mut()
            .filter(|o| o.user == t.user && o.end.is_none())
        {
            let end = now.max(o.begin);
            o.end = Some(end);
            o.duration = (end - o.begin).num_seconds();
            o.modified_at = now;
        }
    } else {
        errors.add("begin", "You are already tracking too many activities.");
    }
}

fn body_object(headers: &HeaderMap, body: &Bytes) -> Result<Obj, Response> {
    if !is_json(headers) {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            "Content-Type must be application/json",
        ));
    }
    fields::object(body).map_err(|m| plain(StatusCode::BAD_REQUEST, &m))
}

fn answer(t: &KimaiTimesheet, zone: Tz) -> Response {
    (StatusCode::OK, axum::Json(render(t, zone))).into_response()
}

async fn create(State(state): State<Shared>, req: Request) -> Answer {
    let user = user_of(&req);
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .map_err(|_| plain(StatusCode::BAD_REQUEST, "unreadable body"))?;
    let obj = body_object(&headers, &body)?;
    let mut s = lock(&state);
    let mut errors = FormErrors::default();
    let form = read_form(&obj, s.zone, &mut errors);
    for (key, missing) in [
        ("begin", !obj.contains_key("begin")),
        ("project", !obj.contains_key("project")),
        ("activity", !obj.contains_key("activity")),
    ] {
        if missing {
            errors.add(key, "This value should not be blank.");
        }
    }
    let sheet = KimaiTimesheet {
        id: s.next_id,
        begin: form.begin.unwrap_or(DateTime::<Utc>::MIN_UTC),
        end: form.end,
        duration: 0,
        project: form.project.unwrap_or(0),
        activity: form.activity.unwrap_or(0),
        description: form.description,
        tags: form.tags.unwrap_or_default(),
        fixed_rate: form.fixed_rate,
        hourly_rate: form.hourly_rate,
        billable: form.billable.unwrap_or(true),
        exported: form.exported.unwrap_or(false),
        user,
        meta_fields: Vec::new(),
        modified_at: now(),
    };
    if errors.children.is_empty() && errors.global.is_empty() {
        check_record(&s, &sheet, &mut errors);
    }
    errors.into_result()?;
    let mut errors = FormErrors::default();
    make_room(&mut s, &sheet, &mut errors);
    errors.into_result()?;
    let mut sheet = sheet;
    sheet.duration = sheet.end.map_or(0, |e| (e - sheet.begin).num_seconds());
    s.next_id += 1;
    s.sheets.insert(sheet.id, sheet.clone());
    Ok(answer(&sheet, s.zone))
}

fn id(raw: &str) -> Result<u64, Response> {
    raw.parse().map_err(|_| not_found())
}

fn own(s: &KimaiState, id: u64, user: u64) -> Result<&KimaiTimesheet, Response> {
    s.sheets
        .get(&id)
        .filter(|t| t.user == user)
        .ok_or_else(not_found)
}

async fn update(State(state): State<Shared>, Path(raw): Path<String>, req: Request) -> Answer {
    let user = user_of(&req);
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .map_err(|_| plain(StatusCode::BAD_REQUEST, "unreadable body"))?;
    let tid = id(&raw)?;
    let obj = body_object(&headers, &body)?;
    let mut s = lock(&state);
    let mut sheet = own(&s, tid, user)?.clone();
    let mut errors = FormErrors::default();
    let form = read_form(&obj, s.zone, &mut errors);
    if let Some(b) = form.begin {
        sheet.begin = b;
    }
    if form.end.is_some() {
        sheet.end = form.end;
    }
    if let Some(p) = form.project {
        sheet.project = p;
    }
    if let Some(a) = form.activity {
        sheet.activity = a;
    }
    if obj.contains_key("description") {
        sheet.description = form.description;
    }
    if let Some(tags) = form.tags {
        sheet.tags = tags;
    }
    if form.fixed_rate.is_some() {
        sheet.fixed_rate = form.fixed_rate;
    }
    if form.hourly_rate.is_some() {
        sheet.hourly_rate = form.hourly_rate;
    }
    if let Some(b) = form.billable {
        sheet.billable = b;
    }
    if let Some(e) = form.exported {
        sheet.exported = e;
    }
    if errors.children.is_empty() && errors.global.is_empty() {
        check_record(&s, &sheet, &mut errors);
    }
    errors.into_result()?;
    sheet.duration = sheet.end.map_or(0, |e| (e - sheet.begin).num_seconds());
    sheet.modified_at = now();
    s.sheets.insert(sheet.id, sheet.clone());
    Ok(answer(&sheet, s.zone))
}

async fn delete(State(state): State<Shared>, Path(raw): Path<String>, req: Request) -> Answer {
    let user = user_of(&req);
    let tid = id(&raw)?;
    let mut s = lock(&state);
    own(&s, tid, user)?;
    s.sheets.remove(&tid);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn one(State(state): State<Shared>, Path(raw): Path<String>, req: Request) -> Answer {
    let user = user_of(&req);
    let tid = id(&raw)?;
    let s = lock(&state);
    Ok(answer(own(&s, tid, user)?, s.zone))
}

async fn stop(State(state): State<Shared>, Path(raw): Path<String>, req: Request) -> Answer {
    let user = user_of(&req);
    let tid = id(&raw)?;
    let mut s = lock(&state);
    own(&s, tid, user)?;
    let zone = s.zone;
    let sheet = s.sheets.get_mut(&tid).ok_or_else(not_found)?;
    if sheet.end.is_some() {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            "Timesheet entry already stopped",
        ));
    }
    let now = now();
    let end = now.max(sheet.begin);
    sheet.end = Some(end);
    sheet.duration = (end - sheet.begin).num_seconds();
    sheet.modified_at = now;
    Ok(answer(sheet, zone))
}

/// `PATCH /api/timesheets/{id}/meta {name, value}`: works only for configured custom fields.
async fn meta(State(state): State<Shared>, Path(raw): Path<String>, req: Request) -> Answer {
    let user = user_of(&req);
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .map_err(|_| plain(StatusCode::BAD_REQUEST, "unreadable body"))?;
    let tid = id(&raw)?;
    let obj = body_object(&headers, &body)?;
    let mut s = lock(&state);
    own(&s, tid, user)?;
    let name = fields::opt_str(&obj, "name").map_err(|m| plain(StatusCode::BAD_REQUEST, &m))?;
    let value = fields::opt_str(&obj, "value").map_err(|m| plain(StatusCode::BAD_REQUEST, &m))?;
    let (Some(name), Some(value)) = (name, value) else {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            "Parameter \"name\" and \"value\" are required",
        ));
    };
    if !s.meta_fields.contains(&name) {
        return Err(plain(StatusCode::NOT_FOUND, "Unknown meta-field requested"));
    }
    let zone = s.zone;
    let sheet = s.sheets.get_mut(&tid).ok_or_else(not_found)?;
    match sheet.meta_fields.iter_mut().find(|(n, _)| *n == name) {
        Some(field) => field.1 = value,
        None => sheet.meta_fields.push((name, value)),
    }
    sheet.modified_at = now();
    Ok(answer(sheet, zone))
}

fn param_error(name: &str, value: &str) -> Response {
    plain(
        StatusCode::BAD_REQUEST,
        &format!("Parameter \"{name}\" of value \"{value}\" violated a constraint"),
    )
}

fn ids(q: &[(String, String)], name: &str) -> Result<Vec<u64>, Response> {
    let bracket = format!("{name}[]");
    q.iter()
        .filter(|(k, _)| *k == name || *k == bracket)
        .flat_map(|(_, v)| {
            v.split(',')
                .map(move |part| (part.trim().to_owned(), v.clone()))
        })
        .filter(|(part, _)| !part.is_empty())
        .map(|(part, whole)| part.parse().map_err(|_| param_error(name, &whole)))
        .collect()
}

fn flag(q: &[(String, String)], name: &str) -> Result<Option<bool>, Response> {
    match query_get(q, name) {
        None => Ok(None),
        Some("1" | "true") => Ok(Some(true)),
        Some("0" | "false") => Ok(Some(false)),
        Some(other) => Err(param_error(name, other)),
    }
}

fn header_value(n: usize) -> HeaderValue {
    HeaderValue::from(u64::try_from(n).unwrap_or(u64::MAX))
}

async fn list(State(state): State<Shared>, uri: Uri, req: Request) -> Answer {
    let user = user_of(&req);
    let q = query_pairs(uri.query());
    let s = lock(&state);
    let time = |name: &str| match query_get(&q, name) {
        None => Ok(None),
        Some(v) => html5(v, s.zone)
            .map(Some)
            .ok_or_else(|| param_error(name, v)),
    };
    let (begin, end, modified_after) = (time("begin")?, time("end")?, time("modified_after")?);
    let mut projects = ids(&q, "projects")?;
    projects.extend(ids(&q, "project")?);
    let mut activities = ids(&q, "activities")?;
    activities.extend(ids(&q, "activity")?);
    let mut customers = ids(&q, "customers")?;
    customers.extend(ids(&q, "customer")?);
    let (active, billable, exported) = (
        flag(&q, "active")?,
        flag(&q, "billable")?,
        flag(&q, "exported")?,
    );
    let term = query_get(&q, "term").map(str::to_lowercase);
    let number = |name: &str, default: usize| match query_get(&q, name) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| param_error(name, v)),
    };
    let (page, size) = (number("page", 1)?, number("size", DEFAULT_SIZE)?);
    let order_by = query_get(&q, "orderBy").unwrap_or("begin");
    let descending = match query_get(&q, "order").unwrap_or("DESC") {
        "DESC" | "desc" => true,
        "ASC" | "asc" => false,
        other => return Err(param_error("order", other)),
    };
    let all_users = query_get(&q, "user") == Some("all");
    let mut found: Vec<&KimaiTimesheet> = s
        .sheets
        .values()
        .filter(|t| all_users || t.user == user)
        .filter(|t| begin.is_none_or(|b| t.begin >= b))
        .filter(|t| end.is_none_or(|e| t.begin <= e))
        .filter(|t| modified_after.is_none_or(|m| t.modified_at >= m))
        .filter(|t| projects.is_empty() || projects.contains(&t.project))
        .filter(|t| activities.is_empty() || activities.contains(&t.activity))
        .filter(|t| {
            customers.is_empty()
                || s.projects
                    .get(&t.project)
                    .is_some_and(|p| customers.contains(&p.customer))
        })
        .filter(|t| active.is_none_or(|a| a == t.end.is_none()))
        .filter(|t| billable.is_none_or(|b| b == t.billable))
        .filter(|t| exported.is_none_or(|e| e == t.exported))
        .filter(|t| {
            term.as_ref().is_none_or(|term| {
                t.description
                    .as_deref()
                    .is_some_and(|d| d.to_lowercase().contains(term))
            })
        })
        .collect();
    match order_by {
        "id" => found.sort_by_key(|t| t.id),
        "begin" => found.sort_by_key(|t| (t.begin, t.id)),
        "end" => found.sort_by_key(|t| (t.end, t.id)),
        "rate" => found.sort_by(|a, b| rate(a).total_cmp(&rate(b)).then(a.id.cmp(&b.id))),
        other => return Err(param_error("orderBy", other)),
    }
    if descending {
        found.reverse();
    }
    let total = found.len();
    let pages = total.div_ceil(size).max(1);
    if page > pages {
        return Err(plain(
            StatusCode::NOT_FOUND,
            &format!(
                "Page \"{page}\" does not exist. The currentPage must be inferior to \"{pages}\""
            ),
        ));
    }
    let items: Vec<Value> = found
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|t| render(t, s.zone))
        .collect();
    let mut r = (StatusCode::OK, axum::Json(Value::Array(items))).into_response();
    let h = r.headers_mut();
    h.insert("X-Page", header_value(page));
    h.insert("X-Total-Count", header_value(total));
    h.insert("X-Total-Pages", header_value(pages));
    h.insert("X-Per-Page", header_value(size));
    Ok(r)
}

async fn ping() -> Response {
    (StatusCode::OK, axum::Json(json!({"message": "pong"}))).into_response()
}

async fn version() -> Response {
    (
        StatusCode::OK,
        axum::Json(
            json!({"version": "2.26.0", "versionId": 22600, "copyright": "Kimai by Kevin Papst"}),
        ),
    )
        .into_response()
}

async fn config(State(state): State<Shared>) -> Response {
    let c = lock(&state).config.clone();
    (
        StatusCode::OK,
        axum::Json(json!({
            "trackingMode": "default",
            "defaultBeginTime": "now",
            "activeEntriesHardLimit": c.active_entries_hard_limit,
            "isAllowFutureTimes": c.allow_future_times,
            "isAllowOverlapping": c.allow_overlapping,
        })),
    )
        .into_response()
}

async fn customers(State(state): State<Shared>) -> Response {
    let s = lock(&state);
    let list: Vec<Value> = s
        .customers
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name, "visible": true, "billable": true, "currency": "EUR", "metaFields": [], "teams": [], "number": null, "comment": null, "color": null}))
        .collect();
    (StatusCode::OK, axum::Json(Value::Array(list))).into_response()
}

async fn projects(State(state): State<Shared>, uri: Uri) -> Answer {
    let q = query_pairs(uri.query());
    let mut customers = ids(&q, "customers")?;
    customers.extend(ids(&q, "customer")?);
    let s = lock(&state);
    let list: Vec<Value> = s
        .projects
        .values()
        .filter(|p| customers.is_empty() || customers.contains(&p.customer))
        .map(|p| {
            json!({
                "id": p.id, "name": p.name, "customer": p.customer, "visible": true, "billable": true,
                "globalActivities": p.global_activities,
                "parentTitle": s.customers.get(&p.customer),
                "metaFields": [], "teams": [], "comment": null, "color": null, "number": null, "orderNumber": null,
            })
        })
        .collect();
    Ok((StatusCode::OK, axum::Json(Value::Array(list))).into_response())
}

async fn activities(State(state): State<Shared>, uri: Uri) -> Answer {
    let q = query_pairs(uri.query());
    let mut projects = ids(&q, "projects")?;
    projects.extend(ids(&q, "project")?);
    let globals = flag(&q, "globals")?;
    let s = lock(&state);
    let list: Vec<Value> = s
        .activities
        .values()
        .filter(|a| match (globals, a.project) {
            (Some(true), p) => p.is_none(),
            (_, None) => true,
            (_, Some(p)) => projects.is_empty() || projects.contains(&p),
        })
        .map(|a| {
            json!({
                "id": a.id, "name": a.name, "project": a.project, "visible": true, "billable": true,
                "parentTitle": a.project.and_then(|p| s.projects.get(&p)).map(|p| p.name.clone()),
                "metaFields": [], "teams": [], "comment": null, "color": null, "number": null,
            })
        })
        .collect();
    Ok((StatusCode::OK, axum::Json(Value::Array(list))).into_response())
}
