//! Kimai 2.x client (contract: `contracts/timesheets.md` §1.3).
//!
//! Requests carry HTML5 local time (`YYYY-MM-DDTHH:mm:ss`) in the Kimai user's zone and no
//! offset (Kimai reads an offset wrongly); answers carry an offset as `+02:00` or `+0200`.
//! `tags` go out as one comma-separated string and come back as an array. `fixedRate` and
//! `hourlyRate` are never sent: sending them (even 0) overrides the rates Kimai computes. A
//! running entry is one without `end`; updates are `PATCH`.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use reqwest::{Method, Url};
use serde::{Deserialize, Serialize};

use super::KimaiAuth;
use super::wire::{self, Answer};
use super::{
    Changes, Entry, Lookup, LookupItem, PullCursor, RemoteEntry, Service, Target, Verified, Written,
};
use crate::http::{Failure, Http, Secret};

/// Page size asked for in lists (Kimai's default is 50).
const PAGE_SIZE: u32 = 100;

/// Half the width of the window `find` reads around the entry's start. Kimai's `begin`/`end`
/// list filters both compare the record's begin, so an hour either side is ample while staying
/// one page in practice.
const FIND_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// How far the next pull reaches back before the start of the previous one.
const PULL_OVERLAP: chrono::Duration = chrono::Duration::minutes(1);

/// Guard against a server that never ends its pages.
const MAX_PAGES: u32 = 1000;

/// A configured Kimai 2.x client.
#[derive(Debug, Clone)]
pub struct Client {
    http: Http,
    api: Url,
    token: Secret,
    auth: KimaiAuth,
    time_zone: Tz,
}

/// `TimesheetEditForm`, for `POST` and `PATCH`.
#[derive(Debug, Serialize)]
struct Form<'a> {
    begin: String,
    /// Absent while running.
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<String>,
    project: i64,
    activity: i64,
    description: &'a str,
    /// Comma-separated names.
    tags: String,
    billable: bool,
}

/// A reference that is an id, or an object with one (`?full=true` expands them).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Ref {
    Id(i64),
    Object { id: i64 },
}

impl Ref {
    fn id(&self) -> i64 {
        match self {
            Self::Id(id) | Self::Object { id } => *id,
        }
    }
}

/// `TimesheetEntity` as Kimai answers it.
#[derive(Debug, Clone, Deserialize)]
struct Timesheet {
    id: i64,
    begin: String,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    duration: Option<i64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    billable: Option<bool>,
    project: Ref,
    activity: Ref,
}

#[derive(Debug, Deserialize)]
struct Named {
    id: i64,
    name: String,
    #[serde(default)]
    customer: Option<Ref>,
    #[serde(default)]
    project: Option<Ref>,
}

#[derive(Debug, Deserialize)]
struct Version {
    #[serde(default)]
    version: Option<String>,
}

/// `{"code":400,"message":"…","errors":{"children":{"begin":{"errors":["…"]}}}}`; children nest.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Option<FieldErrors>,
}

#[derive(Debug, Default, Deserialize)]
struct FieldErrors {
    #[serde(default)]
    errors: Vec<String>,
    #[serde(default)]
    children: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Field errors as `path: message`, depth first, in the order Kimai gave them.
fn field_errors(prefix: &str, node: &FieldErrors, out: &mut Vec<String>) {
    for error in &node.errors {
        if prefix.is_empty() {
            out.push(error.clone());
        } else {
            out.push(format!("{prefix}: {error}"));
        }
    }
    for (name, child) in node.children.iter().flatten() {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        if let Ok(child) = serde_json::from_value::<FieldErrors>(child.clone()) {
            field_errors(&path, &child, out);
        }
    }
}

fn error_message(answer: &Answer) -> Option<String> {
    let body: ErrorBody = serde_json::from_slice(&answer.body).ok()?;
    let mut fields = Vec::new();
    if let Some(errors) = &body.errors {
        field_errors("", errors, &mut fields);
    }
    let message = body.message.unwrap_or_default();
    let joined = match (message.is_empty(), fields.is_empty()) {
        (_, true) => message,
        (true, false) => fields.join("; "),
        (false, false) => format!("{message}: {}", fields.join("; ")),
    };
    Some(joined).filter(|m| !m.is_empty())
}

fn failure(answer: &Answer) -> Failure {
    wire::classify(answer, error_message(answer))
}

/// HTML5 local time in `zone`, no offset.
fn html5(zone: Tz, instant: DateTime<Utc>) -> String {
    wire::whole_seconds(instant)
        .with_timezone(&zone)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// An answer's time: ISO 8601 with `+02:00` or `+0200`.
fn parse_time(raw: &str) -> Result<DateTime<Utc>, Failure> {
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Failure::Protocol {
            message: format!("Kimai time `{raw}` has no readable offset"),
        })
}

/// An answer's time; one without offset (not expected, but harmless) is read as wall time in
/// the user's zone rather than refused.
fn parse_answer_time(zone: Tz, raw: &str) -> Result<DateTime<Utc>, Failure> {
    parse_time(raw).or_else(|e| {
        NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S")
            .ok()
            .and_then(|n| zone.from_local_datetime(&n).earliest())
            .map(|t| t.with_timezone(&Utc))
            .ok_or(e)
    })
}

fn ids_of(target: &Target) -> Result<(i64, i64), Failure> {
    match wire::target_for(Service::Kimai, target)? {
        Target::Kimai {
            project_id,
            activity_id,
        } => Ok((*project_id, *activity_id)),
        _ => Err(wire::refuse("not a Kimai target")),
    }
}

fn form(zone: Tz, entry: &Entry) -> Result<Form<'_>, Failure> {
    let (project, activity) = ids_of(&entry.target)?;
    wire::seconds(entry)?;
    if let Some(bad) = entry.tags.iter().find(|t| t.contains(',')) {
        return Err(wire::refuse(format!(
            "Kimai tags are sent comma-separated: tag `{bad}` cannot contain a comma"
        )));
    }
    Ok(Form {
        begin: html5(zone, entry.start),
        end: entry.stop.map(|s| html5(zone, s)),
        project,
        activity,
        description: &entry.description,
        tags: entry.tags.join(","),
        billable: entry.billable,
    })
}

impl Timesheet {
    fn to_remote(&self, zone: Tz) -> Result<RemoteEntry, Failure> {
        let start = parse_answer_time(zone, &self.begin)?;
        let stop = self
            .end
            .as_deref()
            .map(|e| parse_answer_time(zone, e))
            .transpose()?;
        let seconds = self
            .duration
            .or_else(|| stop.map(|s| (s - start).num_seconds()))
            .unwrap_or(0);
        Ok(RemoteEntry {
            remote_id: self.id.to_string(),
            start,
            stop,
            seconds,
            description: self.description.clone().unwrap_or_default(),
            tags: self.tags.clone().unwrap_or_default(),
            billable: self.billable.unwrap_or(false),
            target: Target::Kimai {
                project_id: self.project.id(),
                activity_id: self.activity.id(),
            },
            updated_at: None,
        })
    }
}

/// The timesheet a lost write of `entry` produced, among those read around its start.
///
/// Key: same begin and end (both instants to the second, or both running), project, activity
/// and description, not excluded. Weaknesses: a hand-made twin with the same key cannot be told
/// apart (the oldest id is taken), and if the Kimai admin configured rounding, Kimai stores a
/// rounded begin/end and nothing matches, so the relay would send the entry again; a meta field
/// holding our id (`PATCH …/meta`) would remove both, where the admin configured one.
fn find_match<'a>(
    sheets: &'a [Timesheet],
    zone: Tz,
    entry: &Entry,
    exclude: &HashSet<String>,
) -> Option<&'a Timesheet> {
    let (project, activity) = ids_of(&entry.target).ok()?;
    let start = wire::whole_seconds(entry.start);
    let stop = entry.stop.map(wire::whole_seconds);
    sheets
        .iter()
        .filter(|s| s.project.id() == project && s.activity.id() == activity)
        .filter(|s| !exclude.contains(&s.id.to_string()))
        .filter(|s| s.description.as_deref().unwrap_or("") == entry.description)
        .filter(|s| parse_answer_time(zone, &s.begin).is_ok_and(|b| b == start))
        .filter(|s| match (&s.end, stop) {
            (None, None) => true,
            (Some(end), Some(stop)) => parse_answer_time(zone, end).is_ok_and(|e| e == stop),
            _ => false,
        })
        .min_by_key(|s| s.id)
}

impl Client {
    /// A client for the API at `api` (base URL + API path).
    pub fn new(http: Http, api: Url, token: Secret, auth: KimaiAuth, time_zone: Tz) -> Self {
        Self {
            http,
            api,
            token,
            auth,
            time_zone,
        }
    }

    async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Answer, Failure> {
        let url = wire::url(&self.api, path)?;
        let mut request = self.http.client().request(method, url);
        request = match &self.auth {
            KimaiAuth::Bearer => request.bearer_auth(self.token.expose()),
            KimaiAuth::Legacy { user } => request
                .header("X-AUTH-USER", user)
                .header("X-AUTH-TOKEN", self.token.expose()),
        };
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = wire::send(request).await?;
        if answer.ok() {
            Ok(answer)
        } else {
            Err(failure(&answer))
        }
    }

    /// Every timesheet of a list, page by page: ends at `X-Total-Pages`, at a short or empty
    /// page, or at the 404 Kimai answers for a page past the last.
    async fn all(&self, query: &[(&str, String)]) -> Result<Vec<Timesheet>, Failure> {
        let mut sheets = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("page", page.to_string()));
            q.push(("size", PAGE_SIZE.to_string()));
            let answer = match self.call::<()>(Method::GET, "timesheets", &q, None).await {
                Ok(answer) => answer,
                Err(Failure::NotFound) if page > 1 => return Ok(sheets),
                Err(other) => return Err(wire::list_failure(Service::Kimai)(other)),
            };
            let batch: Vec<Timesheet> = answer.json("Kimai timesheets")?;
            let total_pages = answer
                .header("x-total-pages")
                .and_then(|v| v.trim().parse::<u32>().ok());
            let short = batch.len() < PAGE_SIZE as usize;
            sheets.extend(batch);
            if short || total_pages.is_some_and(|t| page >= t) {
                return Ok(sheets);
            }
        }
        Err(Failure::Protocol {
            message: format!("Kimai kept paging past {MAX_PAGES} pages"),
        })
    }

    /// See [`super::Connector::verify`]: `GET /api/version` needs a valid token (and shows the
    /// base URL points at a Kimai).
    pub async fn verify(&self) -> Result<Verified, Failure> {
        let version: Version = match self.call::<()>(Method::GET, "version", &[], None).await {
            Ok(answer) => answer.json("Kimai version")?,
            Err(Failure::NotFound) => {
                return Err(Failure::Refused {
                    status: 404,
                    message: "no Kimai API at this base URL".to_owned(),
                });
            }
            Err(other) => return Err(other),
        };
        let who = match &self.auth {
            KimaiAuth::Bearer => "API token".to_owned(),
            KimaiAuth::Legacy { user } => user.clone(),
        };
        Ok(Verified {
            account: format!(
                "{who} on Kimai {}",
                version.version.unwrap_or_else(|| "2.x".to_owned())
            ),
        })
    }

    fn written(&self, answer: &Answer) -> Result<Written, Failure> {
        let sheet: Timesheet = answer.json("Kimai timesheet")?;
        let entry = sheet.to_remote(self.time_zone)?;
        Ok(Written {
            remote_id: entry.remote_id.clone(),
            entry,
        })
    }

    /// See [`super::Connector::create`].
    pub async fn create(&self, entry: &Entry) -> Result<Written, Failure> {
        let body = form(self.time_zone, entry)?;
        let answer = self
            .call(Method::POST, "timesheets", &[], Some(&body))
            .await?;
        self.written(&answer)
    }

    /// See [`super::Connector::update`]: `PATCH` with every field Tacho owns. A running entry
    /// sends no `end`, so PATCH cannot turn a stopped Kimai record back into a running one.
    pub async fn update(
        &self,
        remote_id: &str,
        _before: &Target,
        entry: &Entry,
    ) -> Result<Written, Failure> {
        let body = form(self.time_zone, entry)?;
        let path = format!("timesheets/{}", id_segment(remote_id)?);
        let answer = self.call(Method::PATCH, &path, &[], Some(&body)).await?;
        self.written(&answer)
    }

    /// See [`super::Connector::delete`].
    pub async fn delete(&self, remote_id: &str, _target: &Target) -> Result<(), Failure> {
        let path = format!("timesheets/{}", id_segment(remote_id)?);
        match self.call::<()>(Method::DELETE, &path, &[], None).await {
            Ok(_) | Err(Failure::NotFound) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// See [`super::Connector::find`] and [`find_match`]: the project's and activity's
    /// timesheets beginning within [`FIND_WINDOW`] of the entry's start, all pages.
    pub async fn find(
        &self,
        entry: &Entry,
        _sent_at: DateTime<Utc>,
        exclude: &HashSet<String>,
    ) -> Result<Option<RemoteEntry>, Failure> {
        let (project, activity) = ids_of(&entry.target)?;
        let zone = self.time_zone;
        let sheets = self
            .all(&[
                ("begin", html5(zone, entry.start - FIND_WINDOW)),
                ("end", html5(zone, entry.start + FIND_WINDOW)),
                ("projects[]", project.to_string()),
                ("activities[]", activity.to_string()),
            ])
            .await?;
        find_match(&sheets, zone, entry, exclude)
            .map(|s| s.to_remote(zone))
            .transpose()
    }

    /// See [`super::Connector::get`].
    pub async fn get(
        &self,
        remote_id: &str,
        _target: &Target,
    ) -> Result<Option<RemoteEntry>, Failure> {
        let path = format!("timesheets/{}", id_segment(remote_id)?);
        match self.call::<()>(Method::GET, &path, &[], None).await {
            Ok(answer) => answer
                .json::<Timesheet>("Kimai timesheet")?
                .to_remote(self.time_zone)
                .map(Some),
            Err(Failure::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// See [`super::Connector::lookup`]: projects (parent: customer), activities (parent:
    /// project, none for global ones) and customers.
    pub async fn lookup(&self, what: Lookup) -> Result<Vec<LookupItem>, Failure> {
        let path = match what {
            Lookup::Projects => "projects",
            Lookup::Activities => "activities",
            Lookup::Customers => "customers",
            other => {
                return Err(wire::refuse(format!(
                    "Kimai has no {other:?} list: it has projects, activities and customers"
                )));
            }
        };
        let items: Vec<Named> = self
            .call::<()>(Method::GET, path, &[], None)
            .await
            .map_err(wire::list_failure(Service::Kimai))?
            .json("Kimai list")?;
        Ok(items
            .into_iter()
            .map(|n| LookupItem {
                id: n.id,
                name: n.name,
                parent: match what {
                    Lookup::Projects => n.customer.map(|c| c.id()),
                    Lookup::Activities => n.project.map(|p| p.id()),
                    _ => None,
                },
            })
            .collect())
    }

    /// See [`super::Connector::changes`]: `modified_after` in the user's wall time, all pages.
    /// Kimai keeps no tombstones (the relay probes its mapped ids).
    pub async fn changes(
        &self,
        cursor: &PullCursor,
        first_pull: DateTime<Utc>,
    ) -> Result<Changes, Failure> {
        let began = Utc::now();
        let since = cursor.since.unwrap_or(first_pull);
        let sheets = self
            .all(&[("modified_after", html5(self.time_zone, since))])
            .await?;
        Ok(Changes {
            changed: sheets
                .iter()
                .map(|s| s.to_remote(self.time_zone))
                .collect::<Result<_, _>>()?,
            deleted: Vec::new(),
            next: PullCursor {
                since: Some(began - PULL_OVERLAP),
            },
        })
    }
}

fn id_segment(remote_id: &str) -> Result<i64, Failure> {
    remote_id
        .parse::<i64>()
        .map_err(|_| wire::refuse(format!("`{remote_id}` is not a Kimai timesheet id")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn entry(stop: Option<&str>) -> Entry {
        Entry {
            start: at("2026-06-01T06:00:00Z"),
            stop: stop.map(at),
            description: "Tyres".into(),
            tags: vec!["car".into(), "summer".into()],
            billable: true,
            target: Target::Kimai {
                project_id: 3,
                activity_id: 9,
            },
        }
    }

    #[test]
    fn form_is_wall_time_without_offset_and_comma_tags() {
        let e = entry(Some("2026-06-01T07:30:00Z"));
        let body = serde_json::to_value(form(BERLIN, &e).expect("form")).expect("json");
        assert_eq!(
            body,
            serde_json::json!({
                "begin": "2026-06-01T08:00:00",
                "end": "2026-06-01T09:30:00",
                "project": 3,
                "activity": 9,
                "description": "Tyres",
                "tags": "car,summer",
                "billable": true
            })
        );
        let running =
            serde_json::to_value(form(BERLIN, &entry(None)).expect("form")).expect("json");
        assert!(running.get("end").is_none());
        assert!(running.get("fixedRate").is_none() && running.get("hourlyRate").is_none());
    }

    #[test]
    fn form_refuses_commas_in_tags() {
        let mut e = entry(None);
        e.tags = vec!["a,b".into()];
        assert!(matches!(
            form(BERLIN, &e),
            Err(Failure::Refused { status: 400, .. })
        ));
    }

    #[test]
    fn answers_parse_both_offset_forms() {
        assert_eq!(
            parse_time("2026-06-01T08:00:00+0200"),
            Ok(at("2026-06-01T06:00:00Z"))
        );
        assert_eq!(
            parse_time("2026-06-01T08:00:00+02:00"),
            Ok(at("2026-06-01T06:00:00Z"))
        );
        assert!(parse_time("2026-06-01 08:00").is_err());
        let sheet: Timesheet = serde_json::from_str(
            r#"{"id":41,"begin":"2026-06-01T08:00:00+0200","end":"2026-06-01T09:30:00+0200",
                "duration":5400,"description":"Tyres","tags":["car","summer"],"billable":true,
                "project":3,"activity":{"id":9,"name":"Work"},"user":1,"rate":0}"#,
        )
        .expect("sheet");
        let remote = sheet.to_remote(BERLIN).expect("remote");
        assert_eq!(remote.start, at("2026-06-01T06:00:00Z"));
        assert_eq!(remote.stop, Some(at("2026-06-01T07:30:00Z")));
        assert_eq!(remote.seconds, 5400);
        assert_eq!(remote.tags, vec!["car".to_owned(), "summer".to_owned()]);
        assert_eq!(
            remote.target,
            Target::Kimai {
                project_id: 3,
                activity_id: 9
            }
        );
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn errors_include_the_field_errors() {
        let body = r#"{"code":400,"message":"Validation Failed","errors":{"children":{
            "begin":{"errors":["This value should not be blank."]},
            "project":{},
            "meta":{"children":{"ref":{"errors":["Too long."]}}}}}}"#;
        assert_eq!(
            failure(&answer(400, body)),
            Failure::Refused {
                status: 400,
                message:
                    "Validation Failed: begin: This value should not be blank.; meta.ref: Too long."
                        .into()
            }
        );
        assert_eq!(
            failure(&answer(403, r#"{"code":403,"message":"Access denied."}"#)),
            Failure::Auth {
                status: 403,
                message: "Access denied.".into()
            }
        );
        assert_eq!(failure(&answer(404, "")), Failure::NotFound);
        assert!(failure(&answer(500, "{}")).is_uncertain());
    }

    fn sheets(json: &str) -> Vec<Timesheet> {
        serde_json::from_str(json).expect("sheets")
    }

    #[test]
    fn find_matches_the_natural_key_only() {
        let e = entry(Some("2026-06-01T07:30:00Z"));
        let none = HashSet::new();
        let good = r#"{"id":7,"begin":"2026-06-01T08:00:00+0200","end":"2026-06-01T09:30:00+02:00","description":"Tyres","project":3,"activity":9}"#;
        let twin = good.replace("\"id\":7", "\"id\":8");
        let list = sheets(&format!("[{twin},{good}]"));
        assert_eq!(find_match(&list, BERLIN, &e, &none).map(|s| s.id), Some(7));
        let exclude: HashSet<String> = ["7".to_owned()].into();
        assert_eq!(
            find_match(&list, BERLIN, &e, &exclude).map(|s| s.id),
            Some(8)
        );
        for other in [
            good.replace("08:00:00+0200", "08:00:00+0100"),
            good.replace("09:30:00", "09:31:00"),
            good.replace("\"project\":3", "\"project\":4"),
            good.replace("\"activity\":9", "\"activity\":1"),
            good.replace("Tyres", "tyres"),
        ] {
            let list = sheets(&format!("[{other}]"));
            assert!(find_match(&list, BERLIN, &e, &none).is_none(), "{other}");
        }
        let running = sheets(
            r#"[{"id":3,"begin":"2026-06-01T08:00:00+0200","end":null,"description":"Tyres","project":3,"activity":9}]"#,
        );
        assert_eq!(
            find_match(&running, BERLIN, &entry(None), &none).map(|s| s.id),
            Some(3)
        );
        assert!(find_match(&running, BERLIN, &e, &none).is_none());
    }
}
