//! Toggl Track v9 client (contract: `contracts/timesheets.md` §1.1).
//!
//! Times go out as UTC RFC 3339 (`…Z`) and come back as `Z` or `+00:00`. `duration` is always
//! sent (-1 while running: a create without it is stored as a zero-length entry), together with
//! `created_with: "tacho"` and the workspace of the path. Every answer's quota headers are
//! recorded (shared by the clones of one client), since the hourly quota (402) is the limit
//! that binds, not the 429 bucket.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Method, Url};
use serde::{Deserialize, Serialize};

use super::wire::{self, Answer};
use super::{
    Changes, Entry, Lookup, LookupItem, PullCursor, Quota, RemoteEntry, Service, Target, Verified,
    Written,
};
use crate::http::{Failure, Http, Secret};

/// What `created_with` says on every entry Tacho creates.
pub const CREATED_WITH: &str = "tacho";

/// How far before the send time `find` reads back: the `since` filter compares Toggl's `at`
/// (its clock) with ours, so a few minutes of skew must not hide the record.
const FIND_SLACK: chrono::Duration = chrono::Duration::minutes(5);

/// How far the next pull reaches back before the start of the previous one, so a change
/// written while that pull ran (and stamped before it) is not skipped; the relay dedupes.
const PULL_OVERLAP: chrono::Duration = chrono::Duration::minutes(1);

/// The pause after a 402 without `X-Toggl-Quota-Resets-In` (the quota window is an hour).
const DEFAULT_QUOTA_RESET: Duration = Duration::from_secs(60 * 60);

/// A configured Toggl Track v9 client.
#[derive(Debug, Clone)]
pub struct Client {
    http: Http,
    api: Url,
    token: Secret,
    workspace_id: i64,
    quota: Arc<Mutex<Option<Quota>>>,
}

/// The body of a create and of an update (Toggl's PUT takes the same payload).
#[derive(Debug, Serialize)]
struct Payload<'a> {
    created_with: &'static str,
    workspace_id: i64,
    start: String,
    /// Seconds; -1 while running.
    duration: i64,
    description: &'a str,
    project_id: Option<i64>,
    task_id: Option<i64>,
    billable: bool,
    tags: &'a [String],
}

/// A time entry as Toggl answers it (bare object, list items alike).
#[derive(Debug, Clone, Deserialize)]
struct TimeEntry {
    id: i64,
    workspace_id: i64,
    #[serde(default)]
    project_id: Option<i64>,
    #[serde(default)]
    task_id: Option<i64>,
    #[serde(default)]
    billable: Option<bool>,
    start: String,
    #[serde(default)]
    stop: Option<String>,
    duration: i64,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    server_deleted_at: Option<String>,
}

/// `GET /me`.
#[derive(Debug, Deserialize)]
struct Me {
    id: i64,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    fullname: Option<String>,
}

/// `GET /workspaces/{wid}` (only proves it is reachable; the name is shown).
#[derive(Debug, Deserialize)]
struct Workspace {
    id: i64,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Project {
    id: i64,
    name: String,
    #[serde(default)]
    client_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Task {
    id: i64,
    name: String,
    #[serde(default)]
    project_id: Option<i64>,
}

/// `/workspaces/{wid}/tasks` answers a paged wrapper, the per-project list a bare array.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Tasks {
    Bare(Option<Vec<Task>>),
    Paged { data: Option<Vec<Task>> },
}

fn parse_time(raw: &str) -> Result<DateTime<Utc>, Failure> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Failure::Protocol {
            message: format!("Toggl time `{raw}` is not RFC 3339: {e}"),
        })
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    wire::whole_seconds(instant).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The payload for `entry` in workspace `workspace_id`.
fn payload(workspace_id: i64, entry: &Entry) -> Result<Payload<'_>, Failure> {
    let (project_id, task_id) = match wire::target_for(Service::Toggl, &entry.target)? {
        Target::Toggl {
            project_id,
            task_id,
        } => (*project_id, *task_id),
        _ => (None, None),
    };
    Ok(Payload {
        created_with: CREATED_WITH,
        workspace_id,
        start: rfc3339(entry.start),
        duration: wire::seconds(entry)?.unwrap_or(-1),
        description: &entry.description,
        project_id,
        task_id,
        billable: entry.billable,
        tags: &entry.tags,
    })
}

impl TimeEntry {
    fn to_remote(&self) -> Result<RemoteEntry, Failure> {
        let start = parse_time(&self.start)?;
        let running = self.duration < 0;
        let stop = match (&self.stop, running) {
            (_, true) => None,
            (Some(stop), false) => Some(parse_time(stop)?),
            (None, false) => Some(start + chrono::Duration::seconds(self.duration)),
        };
        Ok(RemoteEntry {
            remote_id: self.id.to_string(),
            start,
            stop,
            seconds: self.duration.max(0),
            description: self.description.clone().unwrap_or_default(),
            tags: self.tags.clone().unwrap_or_default(),
            billable: self.billable.unwrap_or(false),
            target: Target::Toggl {
                project_id: self.project_id,
                task_id: self.task_id,
            },
            updated_at: self.at.as_deref().map(parse_time).transpose()?,
        })
    }
}

/// The record a lost write of `entry` produced, among `entries` read back with `since`.
///
/// Key: same workspace, exact start (whole seconds), same duration (any negative one for a
/// running entry), description and project, not deleted, not already linked (`exclude`). Its
/// weakness: two unlinked entries alike in all of these (a person duplicating one by hand in
/// the same minutes) cannot be told apart; the oldest (lowest id) is taken.
fn find_match<'a>(
    entries: &'a [TimeEntry],
    workspace_id: i64,
    entry: &Entry,
    exclude: &HashSet<String>,
) -> Option<&'a TimeEntry> {
    let start = wire::whole_seconds(entry.start);
    let duration = wire::seconds(entry).ok()?;
    let project = match &entry.target {
        Target::Toggl { project_id, .. } => *project_id,
        _ => return None,
    };
    entries
        .iter()
        .filter(|te| te.workspace_id == workspace_id && te.server_deleted_at.is_none())
        .filter(|te| !exclude.contains(&te.id.to_string()))
        .filter(|te| parse_time(&te.start).is_ok_and(|s| s == start))
        .filter(|te| match duration {
            Some(secs) => te.duration == secs,
            None => te.duration < 0,
        })
        .filter(|te| te.description.as_deref().unwrap_or("") == entry.description)
        .filter(|te| te.project_id == project)
        .min_by_key(|te| te.id)
}

/// Toggl's error body is a bare JSON string; some proxies answer plain text.
fn error_message(answer: &Answer) -> Option<String> {
    serde_json::from_slice::<String>(&answer.body)
        .ok()
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
}

/// The classification of a non-2xx Toggl answer: 402 is the hourly quota.
fn failure(answer: &Answer) -> Failure {
    if answer.status == 402 {
        let resets_in = answer
            .header("x-toggl-quota-resets-in")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_QUOTA_RESET);
        return Failure::Quota { resets_in };
    }
    wire::classify(answer, error_message(answer))
}

/// The quota from an answer's headers, when it carries both.
fn quota_of(answer: &Answer) -> Option<Quota> {
    let remaining = answer
        .header("x-toggl-quota-remaining")?
        .trim()
        .parse()
        .ok()?;
    let resets_in = answer
        .header("x-toggl-quota-resets-in")?
        .trim()
        .parse()
        .ok()?;
    Some(Quota {
        remaining,
        resets_in: Duration::from_secs(resets_in),
    })
}

impl Client {
    /// A client for the API at `api` (base URL + API path).
    pub fn new(http: Http, api: Url, token: Secret, workspace_id: i64) -> Self {
        Self {
            http,
            api,
            token,
            workspace_id,
            quota: Default::default(),
        }
    }

    /// Sends one request with the Basic credential (`<token>:api_token`), records the quota
    /// headers and answers the 2xx answer or the classified failure.
    async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Answer, Failure> {
        let url = wire::url(&self.api, path)?;
        let credential = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:api_token", self.token.expose()));
        let mut request = self.http.client().request(method, url).header(
            reqwest::header::AUTHORIZATION,
            format!("Basic {credential}"),
        );
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = wire::send(request).await?;
        if let (Some(quota), Ok(mut slot)) = (quota_of(&answer), self.quota.lock()) {
            *slot = Some(quota);
        }
        if answer.ok() {
            Ok(answer)
        } else {
            Err(failure(&answer))
        }
    }

    fn entries_path(&self) -> String {
        format!("workspaces/{}/time_entries", self.workspace_id)
    }

    /// See [`super::Connector::verify`]: `GET /me` proves the token, then
    /// `GET /workspaces/{wid}` proves the workspace (one call, outside the `/me` quota of 30/h;
    /// a token that cannot see it is a wrong setting, refused, not an auth failure).
    pub async fn verify(&self) -> Result<Verified, Failure> {
        let me: Me = self
            .call::<()>(Method::GET, "me", &[], None)
            .await?
            .json("Toggl /me")?;
        let path = format!("workspaces/{}", self.workspace_id);
        let workspace: Workspace = match self.call::<()>(Method::GET, &path, &[], None).await {
            Ok(answer) => answer.json("Toggl workspace")?,
            Err(Failure::NotFound) => return Err(self.no_workspace(404)),
            Err(Failure::Auth { status: 403, .. }) => return Err(self.no_workspace(403)),
            Err(other) => return Err(other),
        };
        if workspace.id != self.workspace_id {
            return Err(Failure::Protocol {
                message: "Toggl answered another workspace".to_owned(),
            });
        }
        let account = me
            .email
            .filter(|e| !e.is_empty())
            .or(me.fullname.filter(|n| !n.is_empty()))
            .unwrap_or_else(|| me.id.to_string());
        let workspace = workspace
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| workspace.id.to_string());
        Ok(Verified {
            account: format!("{account} (workspace {workspace})"),
        })
    }

    fn no_workspace(&self, status: u16) -> Failure {
        Failure::Refused {
            status,
            message: format!(
                "workspace {} is not one this Toggl account can use",
                self.workspace_id
            ),
        }
    }

    /// See [`super::Connector::create`].
    pub async fn create(&self, entry: &Entry) -> Result<Written, Failure> {
        let body = payload(self.workspace_id, entry)?;
        let answer = self
            .call(Method::POST, &self.entries_path(), &[], Some(&body))
            .await?;
        written(&answer)
    }

    /// See [`super::Connector::update`]: PUT with the whole payload (the project moves with it).
    pub async fn update(
        &self,
        remote_id: &str,
        _before: &Target,
        entry: &Entry,
    ) -> Result<Written, Failure> {
        let body = payload(self.workspace_id, entry)?;
        let path = format!("{}/{}", self.entries_path(), id_segment(remote_id)?);
        let answer = self.call(Method::PUT, &path, &[], Some(&body)).await?;
        written(&answer)
    }

    /// See [`super::Connector::delete`].
    pub async fn delete(&self, remote_id: &str, _target: &Target) -> Result<(), Failure> {
        let path = format!("{}/{}", self.entries_path(), id_segment(remote_id)?);
        match self.call::<()>(Method::DELETE, &path, &[], None).await {
            Ok(_) | Err(Failure::NotFound) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// `GET /me/time_entries?since=` (modified since, tombstones included).
    async fn since(&self, since: DateTime<Utc>) -> Result<Vec<TimeEntry>, Failure> {
        let answer = self
            .call::<()>(
                Method::GET,
                "me/time_entries",
                &[("since", since.timestamp().to_string())],
                None,
            )
            .await
            .map_err(wire::list_failure(Service::Toggl))?;
        let list: Option<Vec<TimeEntry>> = answer.json("Toggl time entries")?;
        Ok(list.unwrap_or_default())
    }

    /// See [`super::Connector::find`] and [`find_match`] for the key and its weakness.
    pub async fn find(
        &self,
        entry: &Entry,
        sent_at: DateTime<Utc>,
        exclude: &HashSet<String>,
    ) -> Result<Option<RemoteEntry>, Failure> {
        wire::target_for(Service::Toggl, &entry.target)?;
        let entries = self.since(sent_at - FIND_SLACK).await?;
        find_match(&entries, self.workspace_id, entry, exclude)
            .map(TimeEntry::to_remote)
            .transpose()
    }

    /// See [`super::Connector::get`]: `GET /me/time_entries/{id}`; a tombstone is gone too.
    pub async fn get(
        &self,
        remote_id: &str,
        _target: &Target,
    ) -> Result<Option<RemoteEntry>, Failure> {
        let path = format!("me/time_entries/{}", id_segment(remote_id)?);
        match self.call::<()>(Method::GET, &path, &[], None).await {
            Ok(answer) => {
                let te: TimeEntry = answer.json("Toggl time entry")?;
                if te.server_deleted_at.is_some() {
                    Ok(None)
                } else {
                    te.to_remote().map(Some)
                }
            }
            Err(Failure::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// See [`super::Connector::lookup`]: projects (parent: client) and tasks (parent:
    /// project). Toggl answers `null` for an empty list.
    pub async fn lookup(&self, what: Lookup) -> Result<Vec<LookupItem>, Failure> {
        let wid = self.workspace_id;
        match what {
            Lookup::Projects => {
                let path = format!("workspaces/{wid}/projects");
                let answer = self
                    .call::<()>(Method::GET, &path, &[], None)
                    .await
                    .map_err(wire::list_failure(Service::Toggl))?;
                let list: Option<Vec<Project>> = answer.json("Toggl projects")?;
                Ok(list
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| LookupItem {
                        id: p.id,
                        name: p.name,
                        parent: p.client_id,
                    })
                    .collect())
            }
            Lookup::Tasks => {
                let path = format!("workspaces/{wid}/tasks");
                let answer = self
                    .call::<()>(Method::GET, &path, &[], None)
                    .await
                    .map_err(wire::list_failure(Service::Toggl))?;
                let tasks = match answer.json::<Tasks>("Toggl tasks")? {
                    Tasks::Bare(list) | Tasks::Paged { data: list } => list.unwrap_or_default(),
                };
                Ok(tasks
                    .into_iter()
                    .map(|t| LookupItem {
                        id: t.id,
                        name: t.name,
                        parent: t.project_id,
                    })
                    .collect())
            }
            other => Err(wire::refuse(format!(
                "Toggl has no {other:?} list: it has projects and tasks"
            ))),
        }
    }

    /// See [`super::Connector::changes`]: one `since` call; tombstones are deletions; other
    /// workspaces are left out. The next cursor is this pull's start minus [`PULL_OVERLAP`].
    pub async fn changes(
        &self,
        cursor: &PullCursor,
        first_pull: DateTime<Utc>,
    ) -> Result<Changes, Failure> {
        let began = Utc::now();
        let entries = self.since(cursor.since.unwrap_or(first_pull)).await?;
        let mut changes = Changes {
            next: PullCursor {
                since: Some(began - PULL_OVERLAP),
            },
            ..Changes::default()
        };
        for te in entries
            .iter()
            .filter(|te| te.workspace_id == self.workspace_id)
        {
            if te.server_deleted_at.is_some() {
                changes.deleted.push(te.id.to_string());
            } else {
                changes.changed.push(te.to_remote()?);
            }
        }
        Ok(changes)
    }

    /// See [`super::Connector::quota`].
    pub fn quota(&self) -> Option<Quota> {
        self.quota.lock().ok().and_then(|q| *q)
    }
}

fn written(answer: &Answer) -> Result<Written, Failure> {
    let te: TimeEntry = answer.json("Toggl time entry")?;
    let entry = te.to_remote()?;
    Ok(Written {
        remote_id: entry.remote_id.clone(),
        entry,
    })
}

/// A remote id as a path segment: Toggl ids are numbers, anything else is refused before it
/// could change the path.
fn id_segment(remote_id: &str) -> Result<i64, Failure> {
    remote_id
        .parse::<i64>()
        .map_err(|_| wire::refuse(format!("`{remote_id}` is not a Toggl id")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use reqwest::header::HeaderMap;

    fn entry(stop: Option<i64>) -> Entry {
        let start = Utc
            .with_ymd_and_hms(2026, 3, 4, 8, 0, 0)
            .single()
            .expect("date");
        Entry {
            start,
            stop: stop.map(|s| start + chrono::Duration::seconds(s)),
            description: "Fix the brakes".into(),
            tags: vec!["car".into(), "urgent".into()],
            billable: true,
            target: Target::Toggl {
                project_id: Some(12),
                task_id: None,
            },
        }
    }

    fn answer(status: u16, headers: &[(&'static str, &str)], body: &str) -> Answer {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().expect("header"));
        }
        Answer {
            status,
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn payload_is_utc_with_duration_and_created_with() {
        let body =
            serde_json::to_value(payload(77, &entry(Some(5400))).expect("payload")).expect("json");
        assert_eq!(
            body,
            serde_json::json!({
                "created_with": "tacho",
                "workspace_id": 77,
                "start": "2026-03-04T08:00:00Z",
                "duration": 5400,
                "description": "Fix the brakes",
                "project_id": 12,
                "task_id": null,
                "billable": true,
                "tags": ["car", "urgent"]
            })
        );
        let running =
            serde_json::to_value(payload(77, &entry(None)).expect("payload")).expect("json");
        assert_eq!(running["duration"], -1);
    }

    #[test]
    fn payload_refuses_bad_entries() {
        let mut backwards = entry(Some(-5));
        assert!(matches!(
            payload(1, &backwards),
            Err(Failure::Refused { status: 400, .. })
        ));
        backwards.stop = None;
        backwards.target = Target::Tempo { issue_id: 3 };
        assert!(matches!(
            payload(1, &backwards),
            Err(Failure::Refused { status: 400, .. })
        ));
    }

    fn listed(json: &str) -> Vec<TimeEntry> {
        serde_json::from_str(json).expect("list")
    }

    #[test]
    fn answers_parse_with_z_and_plus_zero_offsets() {
        let list = listed(
            r#"[{"id":1,"workspace_id":77,"project_id":12,"task_id":null,"billable":true,
                 "start":"2026-03-04T08:00:00Z","stop":"2026-03-04T09:30:00Z","duration":5400,
                 "description":"a","tags":["x"],"at":"2026-03-04T09:31:00+00:00","server_deleted_at":null},
                {"id":2,"workspace_id":77,"start":"2026-03-04T08:00:00+00:00","stop":null,
                 "duration":-1,"description":null,"tags":null}]"#,
        );
        let a = list[0].to_remote().expect("a");
        let b = list[1].to_remote().expect("b");
        assert_eq!(a.start, entry(None).start);
        assert_eq!(
            a.stop,
            Some(entry(None).start + chrono::Duration::seconds(5400))
        );
        assert_eq!(a.seconds, 5400);
        assert_eq!(
            a.updated_at,
            Some(
                Utc.with_ymd_and_hms(2026, 3, 4, 9, 31, 0)
                    .single()
                    .expect("d")
            )
        );
        assert_eq!(b.start, a.start);
        assert_eq!(b.stop, None);
        assert_eq!(b.seconds, 0);
        assert!(b.tags.is_empty() && b.description.is_empty());
    }

    #[test]
    fn errors_parse_and_classify() {
        assert_eq!(
            failure(&answer(
                400,
                &[],
                "\"Start time year must be between 2006 and 2030\""
            )),
            Failure::Refused {
                status: 400,
                message: "Start time year must be between 2006 and 2030".into()
            }
        );
        assert_eq!(
            failure(&answer(
                402,
                &[("x-toggl-quota-resets-in", "120")],
                "\"quota\""
            )),
            Failure::Quota {
                resets_in: Duration::from_secs(120)
            }
        );
        assert_eq!(
            failure(&answer(402, &[], "")),
            Failure::Quota {
                resets_in: DEFAULT_QUOTA_RESET
            }
        );
        assert!(matches!(
            failure(&answer(403, &[], "Incorrect username and/or password")),
            Failure::Auth { status: 403, ref message } if message == "Incorrect username and/or password"
        ));
        assert!(failure(&answer(503, &[], "")).is_uncertain());
    }

    #[test]
    fn quota_headers_are_read_when_both_are_there() {
        let both = answer(
            200,
            &[
                ("x-toggl-quota-remaining", "17"),
                ("x-toggl-quota-resets-in", "900"),
            ],
            "",
        );
        assert_eq!(
            quota_of(&both),
            Some(Quota {
                remaining: 17,
                resets_in: Duration::from_secs(900)
            })
        );
        assert_eq!(
            quota_of(&answer(200, &[("x-toggl-quota-remaining", "17")], "")),
            None
        );
    }

    fn candidate(id: i64, workspace: i64, start: &str, duration: i64, desc: &str) -> String {
        format!(
            r#"{{"id":{id},"workspace_id":{workspace},"project_id":12,"start":"{start}",
                "duration":{duration},"description":"{desc}"}}"#
        )
    }

    #[test]
    fn find_matches_the_natural_key_only() {
        let e = entry(Some(5400));
        let none = HashSet::new();
        let ok = candidate(5, 77, "2026-03-04T08:00:00Z", 5400, "Fix the brakes");
        let same_later = candidate(9, 77, "2026-03-04T08:00:00+00:00", 5400, "Fix the brakes");
        let list = listed(&format!("[{same_later},{ok}]"));
        assert_eq!(find_match(&list, 77, &e, &none).map(|t| t.id), Some(5));
        let excluded: HashSet<String> = ["5".to_owned()].into();
        assert_eq!(find_match(&list, 77, &e, &excluded).map(|t| t.id), Some(9));
        for other in [
            candidate(1, 78, "2026-03-04T08:00:00Z", 5400, "Fix the brakes"),
            candidate(1, 77, "2026-03-04T08:00:01Z", 5400, "Fix the brakes"),
            candidate(1, 77, "2026-03-04T08:00:00Z", 5460, "Fix the brakes"),
            candidate(1, 77, "2026-03-04T08:00:00Z", 5400, "Fix the brake"),
        ] {
            let list = listed(&format!("[{other}]"));
            assert!(find_match(&list, 77, &e, &none).is_none(), "{other}");
        }
        let deleted = listed(
            r#"[{"id":3,"workspace_id":77,"project_id":12,"start":"2026-03-04T08:00:00Z",
                 "duration":5400,"description":"Fix the brakes","server_deleted_at":"2026-03-04T10:00:00Z"}]"#,
        );
        assert!(find_match(&deleted, 77, &e, &none).is_none());
        let running = listed(&format!(
            "[{}]",
            candidate(4, 77, "2026-03-04T08:00:00Z", -1, "Fix the brakes")
        ));
        assert_eq!(
            find_match(&running, 77, &entry(None), &none).map(|t| t.id),
            Some(4)
        );
        assert!(find_match(&running, 77, &e, &none).is_none());
    }

    #[test]
    fn ids_must_be_numbers() {
        assert_eq!(id_segment("42"), Ok(42));
        assert!(id_segment("../me").is_err());
    }
}
