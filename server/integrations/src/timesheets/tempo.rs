//! Tempo Cloud REST API v4 client (contract: `contracts/timesheets.md` §1.2).
//!
//! Region: the host is the base URL the person gives (`https://api.tempo.io`, or the regional
//! `https://api.eu.tempo.io` / `https://api.us.tempo.io`); a token used on the wrong cluster
//! answers an authorization error, which surfaces as [`Failure::Auth`] at verification.
//!
//! Tempo reads wall time: `startDate` + `startTime` in the connection's zone, no offset. Entries
//! are sent only once stopped (no running timers). `PUT` replaces the whole record and has no
//! `issueId`: an update re-sends every field (carrying over the work attributes Tempo holds,
//! which are organisation-defined and may be required), and a move to another issue is
//! delete + create.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use reqwest::{Method, Url};
use serde::{Deserialize, Serialize};

use super::wire::{self, Answer};
use super::{
    Changes, Entry, Lookup, LookupItem, PullCursor, RemoteEntry, Service, Target, Verified, Written,
};
use crate::http::{Failure, Http, Secret};

/// Page size asked for (Tempo's default is 50, its v4 maximum 5000).
const PAGE_LIMIT: u32 = 1000;

/// How far before the send time a worklog's `updatedAt` may lie and still be ours (clock skew
/// between the relay and Tempo).
const FIND_SLACK: chrono::Duration = chrono::Duration::minutes(5);

/// How far the next pull reaches back before the start of the previous one.
const PULL_OVERLAP: chrono::Duration = chrono::Duration::minutes(1);

/// A configured Tempo v4 client.
#[derive(Debug, Clone)]
pub struct Client {
    http: Http,
    api: Url,
    token: Secret,
    account_id: String,
    time_zone: Tz,
}

/// `WorklogInput` (create, with `issueId`) and `WorklogUpdate` (PUT, without).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WorklogInput<'a> {
    author_account_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    issue_id: Option<i64>,
    start_date: String,
    start_time: String,
    time_spent_seconds: i64,
    /// The seconds when billable, else 0.
    billable_seconds: i64,
    description: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct IssueRef {
    id: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorRef {
    account_id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Attributes {
    #[serde(default)]
    values: Vec<serde_json::Value>,
}

/// A `Worklog` as Tempo answers it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Worklog {
    tempo_worklog_id: i64,
    issue: IssueRef,
    author: AuthorRef,
    time_spent_seconds: i64,
    #[serde(default)]
    billable_seconds: Option<i64>,
    start_date: String,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    attributes: Option<Attributes>,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    next: Option<String>,
}

/// A list answer: `{self, metadata{count,offset,limit,next,previous}, results[]}`.
#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    metadata: Metadata,
    results: Vec<Worklog>,
}

/// Tempo's 400/404 body: `{"errors":{"message":…}}`; an array of such objects is read too.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    errors: Errors,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Errors {
    One { message: String },
    Many(Vec<ErrorItem>),
}

#[derive(Debug, Deserialize)]
struct ErrorItem {
    message: String,
}

fn error_message(answer: &Answer) -> Option<String> {
    let body: ErrorBody = serde_json::from_slice(&answer.body).ok()?;
    let message = match body.errors {
        Errors::One { message } => message,
        Errors::Many(items) => items
            .into_iter()
            .map(|i| i.message)
            .collect::<Vec<_>>()
            .join("; "),
    };
    Some(message).filter(|m| !m.trim().is_empty())
}

fn failure(answer: &Answer) -> Failure {
    wire::classify(answer, error_message(answer))
}

/// `instant` as Tempo's wall-time pair in `zone`: (`yyyy-MM-dd`, `HH:mm:ss`).
fn wall_time(zone: Tz, instant: DateTime<Utc>) -> (String, String) {
    let local = wire::whole_seconds(instant).with_timezone(&zone);
    (
        local.format("%Y-%m-%d").to_string(),
        local.format("%H:%M:%S").to_string(),
    )
}

/// A wall-time pair back to an instant. An ambiguous time (the repeated hour when clocks go
/// back) reads as the earlier instant; a time in the skipped hour (never written by Tacho)
/// reads as one hour later, where the clock actually was.
fn instant(zone: Tz, date: &str, time: Option<&str>) -> Result<DateTime<Utc>, Failure> {
    let bad = |what: &str| Failure::Protocol {
        message: format!("Tempo {what} is not readable"),
    };
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| bad("startDate"))?;
    let time = match time {
        Some(t) => parse_clock(t).ok_or_else(|| bad("startTime"))?,
        None => NaiveTime::MIN,
    };
    let naive = NaiveDateTime::new(date, time);
    zone.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| bad("start"))
}

fn parse_clock(raw: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(raw, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M"))
        .ok()
}

fn parse_utc(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn issue_of(target: &Target) -> Result<i64, Failure> {
    match wire::target_for(Service::Tempo, target)? {
        Target::Tempo { issue_id } => Ok(*issue_id),
        _ => Err(wire::refuse("not a Tempo target")),
    }
}

/// The body for `entry`: `issue` for a create, `None` for a PUT (which has no `issueId`).
fn input<'a>(
    account_id: &'a str,
    zone: Tz,
    entry: &'a Entry,
    issue: Option<i64>,
    attributes: Vec<serde_json::Value>,
) -> Result<WorklogInput<'a>, Failure> {
    issue_of(&entry.target)?;
    let seconds = wire::stopped_seconds(Service::Tempo, entry)?;
    let (start_date, start_time) = wall_time(zone, entry.start);
    Ok(WorklogInput {
        author_account_id: account_id,
        issue_id: issue,
        start_date,
        start_time,
        time_spent_seconds: seconds,
        billable_seconds: if entry.billable { seconds } else { 0 },
        description: &entry.description,
        attributes,
    })
}

impl Worklog {
    fn to_remote(&self, zone: Tz) -> Result<RemoteEntry, Failure> {
        let start = instant(zone, &self.start_date, self.start_time.as_deref())?;
        Ok(RemoteEntry {
            remote_id: self.tempo_worklog_id.to_string(),
            start,
            stop: Some(start + chrono::Duration::seconds(self.time_spent_seconds)),
            seconds: self.time_spent_seconds,
            description: self.description.clone().unwrap_or_default(),
            tags: Vec::new(),
            billable: self.billable_seconds.unwrap_or(0) > 0,
            target: Target::Tempo {
                issue_id: self.issue.id,
            },
            updated_at: self.updated_at.as_deref().and_then(parse_utc),
        })
    }
}

/// The worklog a lost write of `entry` produced, among `worklogs` of its issue and date.
///
/// Key: (issue, author, startDate, startTime, timeSpentSeconds) compared as wall time in the
/// connection's zone, not excluded, and (when Tempo tells) updated no earlier than the send
/// minus [`FIND_SLACK`], so an older hand-made twin is not adopted. Weakness: a twin logged
/// by hand after the send, at the same second with the same duration, cannot be told apart;
/// the oldest id is taken.
fn find_match<'a>(
    worklogs: &'a [Worklog],
    account_id: &str,
    zone: Tz,
    entry: &Entry,
    sent_at: DateTime<Utc>,
    exclude: &HashSet<String>,
) -> Option<&'a Worklog> {
    let issue = issue_of(&entry.target).ok()?;
    let seconds = wire::seconds(entry).ok()??;
    let (date, time) = wall_time(zone, entry.start);
    let time = parse_clock(&time)?;
    worklogs
        .iter()
        .filter(|w| w.issue.id == issue && w.author.account_id == account_id)
        .filter(|w| w.start_date == date)
        .filter(|w| w.start_time.as_deref().and_then(parse_clock) == Some(time))
        .filter(|w| w.time_spent_seconds == seconds)
        .filter(|w| !exclude.contains(&w.tempo_worklog_id.to_string()))
        .filter(|w| {
            w.updated_at
                .as_deref()
                .and_then(parse_utc)
                .is_none_or(|u| u >= sent_at - FIND_SLACK)
        })
        .min_by_key(|w| w.tempo_worklog_id)
}

impl Client {
    /// A client for the API at `api` (base URL + API path).
    pub fn new(http: Http, api: Url, token: Secret, account_id: String, time_zone: Tz) -> Self {
        Self {
            http,
            api,
            token,
            account_id,
            time_zone,
        }
    }

    async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Answer, Failure> {
        let mut request = self
            .http
            .client()
            .request(method, url)
            .bearer_auth(self.token.expose());
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

    /// Every worklog of a list, following `metadata.next` (on the API's origin only).
    async fn all(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<Worklog>, Failure> {
        let mut url = wire::url(&self.api, path)?;
        let mut query = query.to_vec();
        query.push(("limit", PAGE_LIMIT.to_string()));
        let mut worklogs = Vec::new();
        loop {
            let page: Page = self
                .call::<()>(Method::GET, url, &query, None)
                .await
                .map_err(wire::list_failure(Service::Tempo))?
                .json("Tempo worklogs")?;
            worklogs.extend(page.results);
            match page.metadata.next.filter(|n| !n.is_empty()) {
                Some(next) => {
                    url = wire::same_origin(&self.api, &next)?;
                    query.clear();
                }
                None => return Ok(worklogs),
            }
        }
    }

    /// See [`super::Connector::verify`]: `GET /worklogs?limit=1` proves the token and the
    /// region (a token on the wrong cluster is refused). Tempo has no cheap "who am I" call, so
    /// the account id is only checked to be non-empty; a wrong one shows as worklogs Tempo
    /// refuses on the first push.
    pub async fn verify(&self) -> Result<Verified, Failure> {
        if self.account_id.trim().is_empty() {
            return Err(wire::refuse(
                "the Tempo connection needs the Jira account id",
            ));
        }
        let url = wire::url(&self.api, "worklogs")?;
        match self
            .call::<()>(Method::GET, url, &[("limit", "1".to_owned())], None)
            .await
        {
            Ok(answer) => {
                answer.json::<Page>("Tempo worklogs")?;
                Ok(Verified {
                    account: self.account_id.clone(),
                })
            }
            Err(Failure::NotFound) => Err(Failure::Refused {
                status: 404,
                message: "no Tempo API at this base URL".to_owned(),
            }),
            Err(other) => Err(other),
        }
    }

    fn written(&self, answer: &Answer) -> Result<Written, Failure> {
        let worklog: Worklog = answer.json("Tempo worklog")?;
        let entry = worklog.to_remote(self.time_zone)?;
        Ok(Written {
            remote_id: entry.remote_id.clone(),
            entry,
        })
    }

    /// See [`super::Connector::create`].
    pub async fn create(&self, entry: &Entry) -> Result<Written, Failure> {
        let issue = issue_of(&entry.target)?;
        let body = input(
            &self.account_id,
            self.time_zone,
            entry,
            Some(issue),
            Vec::new(),
        )?;
        let url = wire::url(&self.api, "worklogs")?;
        let answer = self.call(Method::POST, url, &[], Some(&body)).await?;
        self.written(&answer)
    }

    /// See [`super::Connector::update`]. Same issue: read the worklog (for its attributes),
    /// then PUT everything. Another issue: delete, then create; the delete first makes a
    /// retry safe (a second delete finds it gone, which is success), where create-then-delete
    /// would leave a duplicate when the delete failed.
    pub async fn update(
        &self,
        remote_id: &str,
        before: &Target,
        entry: &Entry,
    ) -> Result<Written, Failure> {
        let issue = issue_of(&entry.target)?;
        let id = id_segment(remote_id)?;
        let moved = match before {
            Target::Tempo { issue_id } => *issue_id != issue,
            _ => true,
        };
        if moved {
            // Validate before deleting anything.
            input(
                &self.account_id,
                self.time_zone,
                entry,
                Some(issue),
                Vec::new(),
            )?;
            self.delete(remote_id, before).await?;
            return self.create(entry).await;
        }
        let url = wire::url(&self.api, &format!("worklogs/{id}"))?;
        let current: Worklog = self
            .call::<()>(Method::GET, url.clone(), &[], None)
            .await?
            .json("Tempo worklog")?;
        let attributes = current.attributes.unwrap_or_default().values;
        let body = input(&self.account_id, self.time_zone, entry, None, attributes)?;
        let answer = self.call(Method::PUT, url, &[], Some(&body)).await?;
        self.written(&answer)
    }

    /// See [`super::Connector::delete`].
    pub async fn delete(&self, remote_id: &str, _target: &Target) -> Result<(), Failure> {
        let url = wire::url(&self.api, &format!("worklogs/{}", id_segment(remote_id)?))?;
        match self.call::<()>(Method::DELETE, url, &[], None).await {
            Ok(_) | Err(Failure::NotFound) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// See [`super::Connector::find`] and [`find_match`]: the issue's worklogs on the entry's
    /// local date.
    pub async fn find(
        &self,
        entry: &Entry,
        sent_at: DateTime<Utc>,
        exclude: &HashSet<String>,
    ) -> Result<Option<RemoteEntry>, Failure> {
        let issue = issue_of(&entry.target)?;
        wire::stopped_seconds(Service::Tempo, entry)?;
        let (date, _) = wall_time(self.time_zone, entry.start);
        let worklogs = self
            .all(
                "worklogs",
                &[
                    ("issueId", issue.to_string()),
                    ("from", date.clone()),
                    ("to", date),
                ],
            )
            .await?;
        find_match(
            &worklogs,
            &self.account_id,
            self.time_zone,
            entry,
            sent_at,
            exclude,
        )
        .map(|w| w.to_remote(self.time_zone))
        .transpose()
    }

    /// See [`super::Connector::get`].
    pub async fn get(
        &self,
        remote_id: &str,
        _target: &Target,
    ) -> Result<Option<RemoteEntry>, Failure> {
        let url = wire::url(&self.api, &format!("worklogs/{}", id_segment(remote_id)?))?;
        match self.call::<()>(Method::GET, url, &[], None).await {
            Ok(answer) => answer
                .json::<Worklog>("Tempo worklog")?
                .to_remote(self.time_zone)
                .map(Some),
            Err(Failure::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// See [`super::Connector::lookup`]: Tempo has no picker list (issues are Jira's).
    pub async fn lookup(&self, what: Lookup) -> Result<Vec<LookupItem>, Failure> {
        Err(wire::refuse(format!(
            "Tempo has no {what:?} list: give the Jira issue id (issue=ID)"
        )))
    }

    /// See [`super::Connector::changes`]: `GET /worklogs?updatedFrom=`, all pages, kept to
    /// the account's own worklogs. (`/worklogs/user/{accountId}` would read fewer, but the
    /// contract documents the parameters of `/worklogs` only.) Tempo reports no deletions here
    /// (the relay probes its mapped ids).
    pub async fn changes(
        &self,
        cursor: &PullCursor,
        first_pull: DateTime<Utc>,
    ) -> Result<Changes, Failure> {
        let began = Utc::now();
        let since = wire::whole_seconds(cursor.since.unwrap_or(first_pull));
        let worklogs = self
            .all(
                "worklogs",
                &[(
                    "updatedFrom",
                    since.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                )],
            )
            .await?;
        Ok(Changes {
            changed: worklogs
                .iter()
                .filter(|w| w.author.account_id == self.account_id)
                .map(|w| w.to_remote(self.time_zone))
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
        .map_err(|_| wire::refuse(format!("`{remote_id}` is not a Tempo worklog id")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        parse_utc(rfc3339).expect("time")
    }

    fn entry(start: &str, secs: Option<i64>, billable: bool) -> Entry {
        let start = at(start);
        Entry {
            start,
            stop: secs.map(|s| start + chrono::Duration::seconds(s)),
            description: "Brake job".into(),
            tags: vec!["ignored".into()],
            billable,
            target: Target::Tempo { issue_id: 10001 },
        }
    }

    #[test]
    fn create_body_is_wall_time_in_the_zone() {
        let e = entry("2026-01-15T08:30:00Z", Some(5400), true);
        let body = serde_json::to_value(
            input("acc-1", BERLIN, &e, Some(10001), Vec::new()).expect("input"),
        )
        .expect("json");
        assert_eq!(
            body,
            serde_json::json!({
                "authorAccountId": "acc-1",
                "issueId": 10001,
                "startDate": "2026-01-15",
                "startTime": "09:30:00",
                "timeSpentSeconds": 5400,
                "billableSeconds": 5400,
                "description": "Brake job"
            })
        );
    }

    #[test]
    fn dst_dates_use_the_summer_offset_and_updates_have_no_issue() {
        // 2026-03-29 01:30 UTC is 03:30 CEST, just after Berlin's clocks went forward.
        let e = entry("2026-03-29T01:30:00Z", Some(600), false);
        let attrs = vec![serde_json::json!({"key": "_Account_", "value": "X"})];
        let body = serde_json::to_value(input("acc-1", BERLIN, &e, None, attrs).expect("input"))
            .expect("json");
        assert_eq!(body["startDate"], "2026-03-29");
        assert_eq!(body["startTime"], "03:30:00");
        assert_eq!(body["billableSeconds"], 0);
        assert!(body.get("issueId").is_none());
        assert_eq!(body["attributes"][0]["key"], "_Account_");
        // Just before midnight UTC is the next local day.
        let late = entry("2026-07-01T22:30:00Z", Some(60), false);
        assert_eq!(
            wall_time(BERLIN, late.start),
            ("2026-07-02".to_owned(), "00:30:00".to_owned())
        );
    }

    #[test]
    fn wall_time_reads_back_including_the_skipped_hour() {
        assert_eq!(
            instant(BERLIN, "2026-03-29", Some("03:30:00")),
            Ok(at("2026-03-29T01:30:00Z"))
        );
        // 02:30 does not exist that night: read as 03:30.
        assert_eq!(
            instant(BERLIN, "2026-03-29", Some("02:30:00")),
            Ok(at("2026-03-29T01:30:00Z"))
        );
        // 02:30 happens twice on 2026-10-25: the earlier (CEST) one.
        assert_eq!(
            instant(BERLIN, "2026-10-25", Some("02:30")),
            Ok(at("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            instant(BERLIN, "2026-01-15", None),
            Ok(at("2026-01-14T23:00:00Z"))
        );
        assert!(instant(BERLIN, "15.01.2026", None).is_err());
    }

    #[test]
    fn running_entries_are_refused() {
        let e = entry("2026-01-15T08:30:00Z", None, false);
        assert!(matches!(
            input("a", BERLIN, &e, Some(1), Vec::new()),
            Err(Failure::Refused { status: 400, .. })
        ));
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn errors_parse_and_classify() {
        assert_eq!(
            failure(&answer(
                400,
                r#"{"errors":{"message":"Issue not found: 99"}}"#
            )),
            Failure::Refused {
                status: 400,
                message: "Issue not found: 99".into()
            }
        );
        assert_eq!(
            failure(&answer(
                400,
                r#"{"errors":[{"message":"a"},{"message":"b"}]}"#
            )),
            Failure::Refused {
                status: 400,
                message: "a; b".into()
            }
        );
        assert_eq!(
            failure(&answer(401, "<html><body>Unauthorized</body></html>")),
            Failure::Auth {
                status: 401,
                message: "Unauthorized".into()
            }
        );
        assert!(matches!(
            failure(&answer(403, "<!DOCTYPE html>")),
            Failure::Auth { status: 403, .. }
        ));
        assert_eq!(
            failure(&answer(404, r#"{"errors":{"message":"gone"}}"#)),
            Failure::NotFound
        );
        assert!(failure(&answer(500, "")).is_uncertain());
    }

    fn worklog(id: i64, issue: i64, author: &str, date: &str, time: &str, secs: i64) -> String {
        format!(
            r#"{{"tempoWorklogId":{id},"issue":{{"id":{issue}}},"author":{{"accountId":"{author}"}},
                "timeSpentSeconds":{secs},"billableSeconds":0,"startDate":"{date}","startTime":"{time}",
                "description":"x","updatedAt":"2026-01-15T10:00:00Z"}}"#
        )
    }

    fn parsed(items: &[String]) -> Vec<Worklog> {
        serde_json::from_str(&format!("[{}]", items.join(","))).expect("worklogs")
    }

    #[test]
    fn find_matches_the_natural_key_only() {
        let e = entry("2026-01-15T08:30:00Z", Some(5400), true);
        let sent = at("2026-01-15T09:59:00Z");
        let none = HashSet::new();
        let list = parsed(&[
            worklog(8, 10001, "acc-1", "2026-01-15", "09:30:00", 5400),
            worklog(7, 10001, "acc-1", "2026-01-15", "09:30:00", 5400),
        ]);
        assert_eq!(
            find_match(&list, "acc-1", BERLIN, &e, sent, &none).map(|w| w.tempo_worklog_id),
            Some(7)
        );
        let exclude: HashSet<String> = ["7".to_owned()].into();
        assert_eq!(
            find_match(&list, "acc-1", BERLIN, &e, sent, &exclude).map(|w| w.tempo_worklog_id),
            Some(8)
        );
        for other in [
            worklog(1, 10002, "acc-1", "2026-01-15", "09:30:00", 5400),
            worklog(1, 10001, "acc-2", "2026-01-15", "09:30:00", 5400),
            worklog(1, 10001, "acc-1", "2026-01-16", "09:30:00", 5400),
            worklog(1, 10001, "acc-1", "2026-01-15", "08:30:00", 5400),
            worklog(1, 10001, "acc-1", "2026-01-15", "09:30:00", 5401),
        ] {
            let list = parsed(std::slice::from_ref(&other));
            assert!(
                find_match(&list, "acc-1", BERLIN, &e, sent, &none).is_none(),
                "{other}"
            );
        }
        // Updated long before the send: somebody's older twin, not our write.
        let list = parsed(&[worklog(1, 10001, "acc-1", "2026-01-15", "09:30:00", 5400)]);
        assert!(
            find_match(
                &list,
                "acc-1",
                BERLIN,
                &e,
                at("2026-01-16T00:00:00Z"),
                &none
            )
            .is_none()
        );
    }

    #[test]
    fn worklogs_read_back_as_entries() {
        let list = parsed(&[worklog(7, 10001, "acc-1", "2026-01-15", "09:30:00", 5400)]);
        let remote = list[0].to_remote(BERLIN).expect("remote");
        assert_eq!(remote.start, at("2026-01-15T08:30:00Z"));
        assert_eq!(remote.stop, Some(at("2026-01-15T10:00:00Z")));
        assert_eq!(remote.target, Target::Tempo { issue_id: 10001 });
        assert!(!remote.billable);
        assert_eq!(remote.updated_at, Some(at("2026-01-15T10:00:00Z")));
    }
}
