//! Zammad time accounting client (contract: `contracts/timesheets.md` §1.4).
//!
//! Zammad keeps an amount per ticket, no start and no description: `time_unit` is a decimal
//! string counted in the unit the instance's admin configured (a connection setting), and the
//! record's `created_at` stands in for the start of a [`RemoteEntry`] (stop = start + the
//! amount). Entries are sent only once stopped. Editing or deleting a record needs the
//! `admin.time_accounting` permission: an agent token's 403 there is a conflict for the person
//! ([`Failure::Refused`]), not a broken credential.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use reqwest::{Method, Url};
use serde::{Deserialize, Serialize};

use super::ZammadUnit;
use super::wire::{self, Answer};
use super::{
    Changes, Entry, Lookup, LookupItem, PullCursor, RemoteEntry, Service, Target, Verified, Written,
};
use crate::http::{Failure, Http, Secret};

/// How long before the send a record may have been created and still be ours (clock skew).
const FIND_SLACK: chrono::Duration = chrono::Duration::seconds(60);

/// Fixed-point scale for comparing `time_unit` amounts as decimals (millionths of a unit).
const MICRO: i64 = 1_000_000;

/// A configured Zammad time accounting client.
#[derive(Debug, Clone)]
pub struct Client {
    http: Http,
    api: Url,
    token: Secret,
    unit: ZammadUnit,
    default_type_id: Option<i64>,
}

impl ZammadUnit {
    /// Seconds in one unit (a day is 8 working hours).
    fn seconds(self) -> i64 {
        match self {
            Self::Minute => 60,
            Self::QuarterHour => 15 * 60,
            Self::Hour => 60 * 60,
            Self::Day => 8 * 60 * 60,
        }
    }
}

/// `seconds` as Zammad's `time_unit` string in `unit`, rounded half up to hundredths (Zammad
/// stores two decimals): 5400 s is `"90.0"` minutes, `"1.5"` hours, `"6.0"` quarter hours.
pub fn time_unit(unit: ZammadUnit, seconds: i64) -> String {
    let per = unit.seconds();
    let hundredths = (seconds.max(0) * 200 + per) / (2 * per);
    let (whole, frac) = (hundredths / 100, hundredths % 100);
    if frac % 10 == 0 {
        format!("{whole}.{}", frac / 10)
    } else {
        format!("{whole}.{frac:02}")
    }
}

/// A decimal amount (`"90"`, `"90.0"`, `"1.50"`) in millionths, so `"90.0"` and `"90.00"` are
/// equal; digits past the sixth decimal are dropped. `None` for anything else.
fn micro_units(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut scaled = 0i64;
    let mut scale = MICRO;
    for c in frac.chars().take(6) {
        scale /= 10;
        scaled += i64::from(c.to_digit(10)?) * scale;
    }
    whole.checked_mul(MICRO)?.checked_add(scaled)
}

/// `time_unit` arrives as a string, or a number from some versions.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Amount {
    Text(String),
    Number(serde_json::Number),
}

impl Amount {
    fn micro(&self) -> Option<i64> {
        match self {
            Self::Text(s) => micro_units(s),
            Self::Number(n) => micro_units(&n.to_string()),
        }
    }
}

/// A time accounting record.
#[derive(Debug, Clone, Deserialize)]
struct Accounting {
    id: i64,
    ticket_id: i64,
    time_unit: Amount,
    #[serde(default)]
    type_id: Option<i64>,
    created_at: String,
    #[serde(default)]
    updated_at: Option<String>,
}

/// The body of a create and of an update.
#[derive(Debug, Serialize)]
struct Body {
    time_unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    type_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Me {
    id: i64,
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ActivityType {
    id: i64,
    name: String,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

/// `{error, error_human}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_human: Option<String>,
}

fn error_message(answer: &Answer) -> Option<String> {
    let body: ErrorBody = serde_json::from_slice(&answer.body).ok()?;
    body.error_human
        .filter(|m| !m.trim().is_empty())
        .or(body.error)
        .filter(|m| !m.trim().is_empty())
}

fn failure(answer: &Answer) -> Failure {
    wire::classify(answer, error_message(answer))
}

/// An edit's failure: a 403 means the token lacks `admin.time_accounting`, a conflict.
fn edit_failure(failure: Failure) -> Failure {
    match failure {
        Failure::Auth {
            status: 403,
            message,
        } => Failure::Refused {
            status: 403,
            message: format!(
                "{message} (changing or deleting time accounting needs the admin.time_accounting permission)"
            ),
        },
        other => other,
    }
}

fn parse_time(raw: &str) -> Result<DateTime<Utc>, Failure> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Failure::Protocol {
            message: format!("Zammad time `{raw}` is not ISO 8601"),
        })
}

/// The ticket and activity type of `target` (the connection's default type when none).
fn ticket_of(target: &Target, default_type: Option<i64>) -> Result<(i64, Option<i64>), Failure> {
    match wire::target_for(Service::Zammad, target)? {
        Target::Zammad { ticket_id, type_id } => Ok((*ticket_id, type_id.or(default_type))),
        _ => Err(wire::refuse("not a Zammad target")),
    }
}

fn body(unit: ZammadUnit, default_type: Option<i64>, entry: &Entry) -> Result<Body, Failure> {
    let (_, type_id) = ticket_of(&entry.target, default_type)?;
    let seconds = wire::stopped_seconds(Service::Zammad, entry)?;
    Ok(Body {
        time_unit: time_unit(unit, seconds),
        type_id,
    })
}

impl Accounting {
    fn to_remote(&self, unit: ZammadUnit) -> Result<RemoteEntry, Failure> {
        let micro = self.time_unit.micro().ok_or_else(|| Failure::Protocol {
            message: "Zammad time_unit is not a decimal".to_owned(),
        })?;
        let seconds = (i128::from(micro) * i128::from(unit.seconds()) + i128::from(MICRO / 2))
            / i128::from(MICRO);
        let seconds = i64::try_from(seconds).map_err(|_| Failure::Protocol {
            message: "Zammad time_unit is out of range".to_owned(),
        })?;
        let start = parse_time(&self.created_at)?;
        Ok(RemoteEntry {
            remote_id: self.id.to_string(),
            start,
            stop: Some(start + chrono::Duration::seconds(seconds)),
            seconds,
            description: String::new(),
            tags: Vec::new(),
            billable: false,
            target: Target::Zammad {
                ticket_id: self.ticket_id,
                type_id: self.type_id,
            },
            updated_at: self.updated_at.as_deref().map(parse_time).transpose()?,
        })
    }
}

/// The record a lost create of `entry` produced, among its ticket's records.
///
/// Key: the same amount (compared as decimals) and activity type, created no earlier than the
/// send minus [`FIND_SLACK`], not excluded; of several, the oldest. This key is WEAK: Zammad
/// keeps no start, description or client marker, so another agent (or the same person in the
/// browser) booking the same amount of the same type on the ticket in that minute is
/// indistinguishable, and would be adopted as ours. An update is not found this way (its
/// `created_at` is old): after an uncertain update the relay reads the record with `get`.
fn find_match<'a>(
    records: &'a [Accounting],
    unit: ZammadUnit,
    default_type: Option<i64>,
    entry: &Entry,
    sent_at: DateTime<Utc>,
    exclude: &HashSet<String>,
) -> Option<&'a Accounting> {
    let (ticket, type_id) = ticket_of(&entry.target, default_type).ok()?;
    let seconds = wire::seconds(entry).ok()??;
    let amount = micro_units(&time_unit(unit, seconds))?;
    records
        .iter()
        .filter(|r| r.ticket_id == ticket && r.type_id == type_id)
        .filter(|r| r.time_unit.micro() == Some(amount))
        .filter(|r| !exclude.contains(&r.id.to_string()))
        .filter_map(|r| Some((parse_time(&r.created_at).ok()?, r)))
        .filter(|(created, _)| *created >= sent_at - FIND_SLACK)
        .min_by_key(|(created, r)| (*created, r.id))
        .map(|(_, r)| r)
}

impl Client {
    /// A client for the API at `api` (base URL + API path).
    pub fn new(
        http: Http,
        api: Url,
        token: Secret,
        unit: ZammadUnit,
        default_type_id: Option<i64>,
    ) -> Self {
        Self {
            http,
            api,
            token,
            unit,
            default_type_id,
        }
    }

    async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Answer, Failure> {
        let url = wire::url(&self.api, path)?;
        let mut request = self.http.client().request(method, url).header(
            reqwest::header::AUTHORIZATION,
            format!("Token token={}", self.token.expose()),
        );
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

    async fn list(&self, ticket: i64) -> Result<Vec<Accounting>, Failure> {
        self.call::<()>(
            Method::GET,
            &format!("tickets/{ticket}/time_accountings"),
            None,
        )
        .await?
        .json("Zammad time accountings")
    }

    /// See [`super::Connector::verify`]: `GET /users/me`.
    pub async fn verify(&self) -> Result<Verified, Failure> {
        let me: Me = match self.call::<()>(Method::GET, "users/me", None).await {
            Ok(answer) => answer.json("Zammad user")?,
            Err(Failure::NotFound) => {
                return Err(Failure::Refused {
                    status: 404,
                    message: "no Zammad API at this base URL".to_owned(),
                });
            }
            Err(other) => return Err(other),
        };
        let account = me
            .login
            .filter(|l| !l.is_empty())
            .or(me.email.filter(|e| !e.is_empty()))
            .unwrap_or_else(|| me.id.to_string());
        Ok(Verified { account })
    }

    fn written(&self, answer: &Answer) -> Result<Written, Failure> {
        let record: Accounting = answer.json("Zammad time accounting")?;
        let entry = record.to_remote(self.unit)?;
        Ok(Written {
            remote_id: entry.remote_id.clone(),
            entry,
        })
    }

    /// See [`super::Connector::create`].
    pub async fn create(&self, entry: &Entry) -> Result<Written, Failure> {
        let (ticket, _) = ticket_of(&entry.target, self.default_type_id)?;
        let body = body(self.unit, self.default_type_id, entry)?;
        let answer = self
            .call(
                Method::POST,
                &format!("tickets/{ticket}/time_accountings"),
                Some(&body),
            )
            .await?;
        self.written(&answer)
    }

    /// See [`super::Connector::update`]: `PUT {time_unit, type_id}`. A record cannot change
    /// ticket, so a move is delete + create (delete first: a retry then finds it gone, which is
    /// success, where create-first would leave a duplicate if the delete failed).
    pub async fn update(
        &self,
        remote_id: &str,
        before: &Target,
        entry: &Entry,
    ) -> Result<Written, Failure> {
        let (ticket, _) = ticket_of(&entry.target, self.default_type_id)?;
        let body = body(self.unit, self.default_type_id, entry)?;
        let id = id_segment(remote_id)?;
        let moved = match before {
            Target::Zammad { ticket_id, .. } => *ticket_id != ticket,
            _ => true,
        };
        if moved {
            self.delete(remote_id, before).await?;
            return self.create(entry).await;
        }
        let path = format!("tickets/{ticket}/time_accountings/{id}");
        let answer = self
            .call(Method::PUT, &path, Some(&body))
            .await
            .map_err(edit_failure)?;
        self.written(&answer)
    }

    /// See [`super::Connector::delete`].
    pub async fn delete(&self, remote_id: &str, target: &Target) -> Result<(), Failure> {
        let (ticket, _) = ticket_of(target, None)?;
        let path = format!(
            "tickets/{ticket}/time_accountings/{}",
            id_segment(remote_id)?
        );
        match self.call::<()>(Method::DELETE, &path, None).await {
            Ok(_) | Err(Failure::NotFound) => Ok(()),
            Err(other) => Err(edit_failure(other)),
        }
    }

    /// See [`super::Connector::find`] and [`find_match`] (a weak key).
    pub async fn find(
        &self,
        entry: &Entry,
        sent_at: DateTime<Utc>,
        exclude: &HashSet<String>,
    ) -> Result<Option<RemoteEntry>, Failure> {
        let (ticket, _) = ticket_of(&entry.target, self.default_type_id)?;
        wire::stopped_seconds(Service::Zammad, entry)?;
        let records = match self.list(ticket).await {
            Ok(records) => records,
            Err(Failure::NotFound) => return Ok(None),
            Err(other) => return Err(other),
        };
        find_match(
            &records,
            self.unit,
            self.default_type_id,
            entry,
            sent_at,
            exclude,
        )
        .map(|r| r.to_remote(self.unit))
        .transpose()
    }

    /// See [`super::Connector::get`].
    pub async fn get(
        &self,
        remote_id: &str,
        target: &Target,
    ) -> Result<Option<RemoteEntry>, Failure> {
        let (ticket, _) = ticket_of(target, None)?;
        let path = format!(
            "tickets/{ticket}/time_accountings/{}",
            id_segment(remote_id)?
        );
        match self.call::<()>(Method::GET, &path, None).await {
            Ok(answer) => answer
                .json::<Accounting>("Zammad time accounting")?
                .to_remote(self.unit)
                .map(Some),
            Err(Failure::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// See [`super::Connector::lookup`]: the active activity types.
    pub async fn lookup(&self, what: Lookup) -> Result<Vec<LookupItem>, Failure> {
        if what != Lookup::Types {
            return Err(wire::refuse(format!(
                "Zammad has no {what:?} list: it has activity types"
            )));
        }
        let types: Vec<ActivityType> = self
            .call::<()>(Method::GET, "time_accounting/types", None)
            .await
            .map_err(wire::list_failure(Service::Zammad))?
            .json("Zammad activity types")?;
        Ok(types
            .into_iter()
            .filter(|t| t.active)
            .map(|t| LookupItem {
                id: t.id,
                name: t.name,
                parent: None,
            })
            .collect())
    }

    /// See [`super::Connector::changes`]: every record of each ticket in `tickets` (Zammad
    /// has no change feed; the relay diffs). A ticket that is gone (404) contributes nothing,
    /// so its mapped records are found deleted by the relay's probe.
    pub async fn changes(
        &self,
        _cursor: &PullCursor,
        _first_pull: DateTime<Utc>,
        tickets: &[i64],
    ) -> Result<Changes, Failure> {
        let began = Utc::now();
        let mut changed = Vec::new();
        for ticket in tickets.iter().copied().collect::<BTreeSet<_>>() {
            match self.list(ticket).await {
                Ok(records) => {
                    for record in &records {
                        changed.push(record.to_remote(self.unit)?);
                    }
                }
                Err(Failure::NotFound) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(Changes {
            changed,
            deleted: Vec::new(),
            next: PullCursor { since: Some(began) },
        })
    }
}

fn id_segment(remote_id: &str) -> Result<i64, Failure> {
    remote_id
        .parse::<i64>()
        .map_err(|_| wire::refuse(format!("`{remote_id}` is not a Zammad record id")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        parse_time(rfc3339).expect("time")
    }

    fn entry(secs: Option<i64>, type_id: Option<i64>) -> Entry {
        let start = at("2026-02-02T09:00:00Z");
        Entry {
            start,
            stop: secs.map(|s| start + chrono::Duration::seconds(s)),
            description: "not kept".into(),
            tags: Vec::new(),
            billable: false,
            target: Target::Zammad {
                ticket_id: 4711,
                type_id,
            },
        }
    }

    #[test]
    fn amounts_are_decimal_strings_in_the_unit() {
        assert_eq!(time_unit(ZammadUnit::Minute, 5400), "90.0");
        assert_eq!(time_unit(ZammadUnit::Hour, 5400), "1.5");
        assert_eq!(time_unit(ZammadUnit::QuarterHour, 5400), "6.0");
        assert_eq!(time_unit(ZammadUnit::Day, 4 * 3600), "0.5");
        assert_eq!(time_unit(ZammadUnit::Hour, 3900), "1.08");
        assert_eq!(time_unit(ZammadUnit::Minute, 90), "1.5");
        assert_eq!(time_unit(ZammadUnit::Minute, 20), "0.33");
        assert_eq!(time_unit(ZammadUnit::Minute, 0), "0.0");
    }

    #[test]
    fn bodies_carry_the_type_or_the_default() {
        let with = serde_json::to_value(
            body(ZammadUnit::Minute, Some(2), &entry(Some(5400), Some(4))).expect("body"),
        )
        .expect("json");
        assert_eq!(with, serde_json::json!({"time_unit": "90.0", "type_id": 4}));
        let default = serde_json::to_value(
            body(ZammadUnit::Hour, Some(2), &entry(Some(5400), None)).expect("body"),
        )
        .expect("json");
        assert_eq!(
            default,
            serde_json::json!({"time_unit": "1.5", "type_id": 2})
        );
        let bare = serde_json::to_value(
            body(ZammadUnit::Hour, None, &entry(Some(5400), None)).expect("body"),
        )
        .expect("json");
        assert_eq!(bare, serde_json::json!({"time_unit": "1.5"}));
        assert!(matches!(
            body(ZammadUnit::Minute, None, &entry(None, None)),
            Err(Failure::Refused { status: 400, .. })
        ));
    }

    #[test]
    fn decimals_compare_by_value() {
        assert_eq!(micro_units("90.0"), micro_units("90"));
        assert_eq!(micro_units("90.00"), Some(90 * MICRO));
        assert_eq!(micro_units("1.5"), Some(1_500_000));
        assert_eq!(micro_units(".25"), Some(250_000));
        assert_eq!(micro_units("-1"), None);
        assert_eq!(micro_units("1.5h"), None);
        assert_eq!(micro_units(""), None);
    }

    #[test]
    fn records_read_back_from_created_at() {
        let record: Accounting = serde_json::from_str(
            r#"{"id":9,"ticket_id":4711,"ticket_article_id":null,"time_unit":"1.5","type_id":null,
                "created_by_id":3,"created_at":"2026-02-02T10:30:00.000Z","updated_at":"2026-02-02T10:30:00.000Z"}"#,
        )
        .expect("record");
        let remote = record.to_remote(ZammadUnit::Hour).expect("remote");
        assert_eq!(remote.start, at("2026-02-02T10:30:00Z"));
        assert_eq!(remote.seconds, 5400);
        assert_eq!(remote.stop, Some(at("2026-02-02T12:00:00Z")));
        assert_eq!(
            remote.target,
            Target::Zammad {
                ticket_id: 4711,
                type_id: None
            }
        );
        let numeric: Accounting = serde_json::from_str(
            r#"{"id":9,"ticket_id":4711,"time_unit":90.0,"created_at":"2026-02-02T10:30:00Z"}"#,
        )
        .expect("record");
        assert_eq!(
            numeric
                .to_remote(ZammadUnit::Minute)
                .expect("remote")
                .seconds,
            5400
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
    fn errors_parse_and_edits_turn_403_into_conflicts() {
        let denied = r#"{"error":"Not authorized","error_human":"Not authorized (user)!"}"#;
        let plain = failure(&answer(403, denied));
        assert_eq!(
            plain,
            Failure::Auth {
                status: 403,
                message: "Not authorized (user)!".into()
            }
        );
        assert!(matches!(
            edit_failure(plain),
            Failure::Refused { status: 403, ref message } if message.starts_with("Not authorized (user)!")
        ));
        assert!(matches!(
            edit_failure(failure(&answer(401, denied))),
            Failure::Auth { status: 401, .. }
        ));
        assert_eq!(
            failure(&answer(422, r#"{"error":"time_unit is invalid"}"#)),
            Failure::Refused {
                status: 422,
                message: "time_unit is invalid".into()
            }
        );
    }

    fn records(json: &str) -> Vec<Accounting> {
        serde_json::from_str(json).expect("records")
    }

    #[test]
    fn find_takes_the_oldest_recent_match() {
        let e = entry(Some(5400), None);
        let sent = at("2026-02-02T10:30:00Z");
        let none = HashSet::new();
        let list = records(
            r#"[{"id":12,"ticket_id":4711,"time_unit":"1.50","type_id":2,"created_at":"2026-02-02T10:30:20Z"},
                {"id":11,"ticket_id":4711,"time_unit":"1.5","type_id":2,"created_at":"2026-02-02T10:30:05Z"},
                {"id":10,"ticket_id":4711,"time_unit":"1.5","type_id":2,"created_at":"2026-02-02T10:20:00Z"},
                {"id":13,"ticket_id":4711,"time_unit":"1.5","type_id":3,"created_at":"2026-02-02T10:30:01Z"},
                {"id":14,"ticket_id":4711,"time_unit":"1.6","type_id":2,"created_at":"2026-02-02T10:30:01Z"}]"#,
        );
        let found = |exclude: &HashSet<String>| {
            find_match(&list, ZammadUnit::Hour, Some(2), &e, sent, exclude).map(|r| r.id)
        };
        assert_eq!(found(&none), Some(11));
        assert_eq!(found(&["11".to_owned()].into()), Some(12));
        assert_eq!(found(&["11".to_owned(), "12".to_owned()].into()), None);
        // Without the default type the records typed 2 are not ours.
        assert_eq!(
            find_match(&list, ZammadUnit::Hour, None, &e, sent, &none).map(|r| r.id),
            None
        );
    }
}
