//! The timesheet connector kinds (Toggl Track, Tempo, Kimai; Zammad's settings live in
//! [`super::zammad`]): their stored settings, the mapping of those settings onto
//! `tacho_integrations::timesheets::Settings`, and the one authenticated call that checks a new
//! connection before anything is stored (`contracts/timesheets.md`).

use serde_json::{Map, Value};
use tacho_integrations::http::{Failure, Http, Secret};
use tacho_integrations::timesheets::{Connector, KimaiAuth, Settings, ZammadUnit};

use super::registry::{Connection, Spec, UrlRule};
use super::{ConnectionError, Provider};

/// Sealed field holding every connector's API token.
pub const API_TOKEN: &str = "api_token";
/// Toggl's free plan allows 30 requests per hour; the budget a connection spends at most.
pub const DEFAULT_REQUESTS_PER_HOUR: i64 = 30;

pub(crate) const TOGGL: Spec = Spec {
    base_url: UrlRule::Optional,
    secrets: &[(API_TOKEN, true)],
    webhook: None,
    settings: toggl_settings,
};

pub(crate) const TEMPO: Spec = Spec {
    base_url: UrlRule::Optional,
    secrets: &[(API_TOKEN, true)],
    webhook: None,
    settings: tempo_settings,
};

pub(crate) const KIMAI: Spec = Spec {
    base_url: UrlRule::Required,
    secrets: &[(API_TOKEN, true)],
    webhook: None,
    settings: kimai_settings,
};

fn invalid(field: &str, message: impl Into<String>) -> ConnectionError {
    ConnectionError::invalid("invalid_settings", format!("settings.{field}"), message)
}

/// Takes the settings every kind shares (`push_rounded`, kept only when given) out of `given`.
pub(crate) fn common(
    given: &mut Map<String, Value>,
    out: &mut Map<String, Value>,
) -> Result<(), ConnectionError> {
    match given.remove("push_rounded") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => {
            out.insert("push_rounded".into(), Value::Bool(b));
        }
        Some(_) => {
            return Err(invalid(
                "push_rounded",
                "push_rounded must be true or false",
            ));
        }
    }
    Ok(())
}

/// Refuses settings left over after the known ones were taken.
pub(crate) fn no_others(given: &Map<String, Value>, known: &str) -> Result<(), ConnectionError> {
    match given.keys().next() {
        Some(other) => Err(invalid(
            other,
            format!("unknown setting {other:?}; this kind takes {known}"),
        )),
        None => Ok(()),
    }
}

fn positive_int(
    given: &mut Map<String, Value>,
    field: &str,
) -> Result<Option<i64>, ConnectionError> {
    match given.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| invalid(field, format!("{field} must be a positive integer"))),
    }
}

fn text(given: &mut Map<String, Value>, field: &str) -> Result<Option<String>, ConnectionError> {
    match given.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 200 => {
            Ok(Some(s.trim().to_owned()))
        }
        Some(_) => Err(invalid(
            field,
            format!("{field} must be 1 to 200 characters of text"),
        )),
    }
}

fn time_zone(given: &mut Map<String, Value>) -> Result<String, ConnectionError> {
    let zone = text(given, "time_zone")?.ok_or_else(|| {
        invalid(
            "time_zone",
            "time_zone (an IANA zone such as Europe/Berlin) is required",
        )
    })?;
    zone.parse::<chrono_tz::Tz>()
        .map_err(|_| invalid("time_zone", format!("{zone:?} is not an IANA time zone")))?;
    Ok(zone)
}

fn toggl_settings(mut given: Map<String, Value>) -> Result<Map<String, Value>, ConnectionError> {
    let mut out = Map::new();
    let workspace = positive_int(&mut given, "workspace_id")?.ok_or_else(|| {
        invalid(
            "workspace_id",
            "workspace_id (the Toggl workspace's number) is required",
        )
    })?;
    out.insert("workspace_id".into(), workspace.into());
    if let Some(budget) = positive_int(&mut given, "requests_per_hour")? {
        out.insert("requests_per_hour".into(), budget.into());
    }
    common(&mut given, &mut out)?;
    no_others(&given, "workspace_id, requests_per_hour, push_rounded")?;
    Ok(out)
}

fn tempo_settings(mut given: Map<String, Value>) -> Result<Map<String, Value>, ConnectionError> {
    let mut out = Map::new();
    let account = text(&mut given, "account_id")?.ok_or_else(|| {
        invalid(
            "account_id",
            "account_id (the Jira account id of the worker) is required",
        )
    })?;
    out.insert("account_id".into(), account.into());
    out.insert("time_zone".into(), time_zone(&mut given)?.into());
    common(&mut given, &mut out)?;
    no_others(&given, "account_id, time_zone, push_rounded")?;
    Ok(out)
}

fn kimai_settings(mut given: Map<String, Value>) -> Result<Map<String, Value>, ConnectionError> {
    let mut out = Map::new();
    let auth = text(&mut given, "auth")?.unwrap_or_else(|| "bearer".to_owned());
    let user = text(&mut given, "user")?;
    match (auth.as_str(), user) {
        ("bearer", None) => {}
        ("bearer", Some(_)) => return Err(invalid("user", "user is only for auth \"legacy\"")),
        ("legacy", Some(user)) => {
            out.insert("user".into(), user.into());
        }
        ("legacy", None) => {
            return Err(invalid(
                "user",
                "auth \"legacy\" needs the Kimai user name in user",
            ));
        }
        _ => return Err(invalid("auth", "auth must be \"bearer\" or \"legacy\"")),
    }
    out.insert("auth".into(), auth.into());
    out.insert("time_zone".into(), time_zone(&mut given)?.into());
    common(&mut given, &mut out)?;
    no_others(&given, "auth, user, time_zone, push_rounded")?;
    Ok(out)
}

/// Whether the connection pushes the project's rounded durations (default: raw).
pub fn push_rounded(settings: &Map<String, Value>) -> bool {
    settings
        .get("push_rounded")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Requests per sliding hour the connection may send (Toggl only; others unbounded).
pub fn requests_per_hour(conn: &Connection) -> Option<i64> {
    (conn.provider == Provider::Toggl).then(|| {
        conn.settings
            .get("requests_per_hour")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_REQUESTS_PER_HOUR)
    })
}

fn stored(what: &str) -> ConnectionError {
    ConnectionError::invalid(
        "invalid_settings",
        "settings",
        format!("stored settings lack a valid {what}"),
    )
}

/// The client settings for a connection's stored (already checked) settings.
pub fn client_settings(
    provider: Provider,
    s: &Map<String, Value>,
) -> Result<Settings, ConnectionError> {
    let zone = || {
        s.get("time_zone")
            .and_then(Value::as_str)
            .and_then(|z| z.parse::<chrono_tz::Tz>().ok())
            .ok_or_else(|| stored("time_zone"))
    };
    Ok(match provider {
        Provider::Toggl => Settings::Toggl {
            workspace_id: s
                .get("workspace_id")
                .and_then(Value::as_i64)
                .ok_or_else(|| stored("workspace_id"))?,
        },
        Provider::Tempo => Settings::Tempo {
            account_id: s
                .get("account_id")
                .and_then(Value::as_str)
                .ok_or_else(|| stored("account_id"))?
                .to_owned(),
            time_zone: zone()?,
        },
        Provider::Kimai => Settings::Kimai {
            auth: match s.get("user").and_then(Value::as_str) {
                Some(user) if s.get("auth").and_then(Value::as_str) == Some("legacy") => {
                    KimaiAuth::Legacy {
                        user: user.to_owned(),
                    }
                }
                _ => KimaiAuth::Bearer,
            },
            time_zone: zone()?,
        },
        Provider::Zammad => Settings::Zammad {
            unit: match s.get("time_unit").and_then(Value::as_str) {
                Some("quarter_hour") => ZammadUnit::QuarterHour,
                Some("hour") => ZammadUnit::Hour,
                Some("day") => ZammadUnit::Day,
                _ => ZammadUnit::Minute,
            },
            default_type_id: s.get("type_id").and_then(Value::as_i64),
        },
    })
}

/// A configured client for a connection with its (opened) token.
pub fn client(
    http: &Http,
    provider: Provider,
    base_url: Option<&str>,
    settings: &Map<String, Value>,
    token: Secret,
) -> Result<Connector, ConnectionError> {
    let settings = client_settings(provider, settings)?;
    Connector::new(http.clone(), base_url, settings, token)
        .map_err(|e| ConnectionError::invalid("invalid_base_url", "base_url", e.to_string()))
}

/// The one authenticated call made before a connection (or a rotated token) is stored; its
/// failure is said in words a person can act on, naming neither token nor secret.
pub async fn check(
    http: &Http,
    provider: Provider,
    base_url: Option<&str>,
    settings: &Map<String, Value>,
    token: &str,
) -> Result<(), ConnectionError> {
    let connector = client(http, provider, base_url, settings, Secret::new(token))?;
    let service = provider.title();
    let url = base_url
        .or(provider.service().default_base_url())
        .unwrap_or("the given address");
    let failed = ConnectionError::CheckFailed;
    match connector.verify().await {
        Ok(_) => Ok(()),
        Err(Failure::Auth { .. }) => Err(failed(format!(
            "the token was refused by {service}; check that it is current and copied whole"
        ))),
        Err(Failure::Refused { status, message }) if provider == Provider::Toggl => {
            let workspace = settings
                .get("workspace_id")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            Err(failed(format!(
                "Toggl Track workspace {workspace} was not found for this token ({status}: {message})"
            )))
        }
        Err(Failure::Refused { status, message }) => Err(failed(format!(
            "{service} refused the check ({status}: {message})"
        ))),
        Err(Failure::NotFound | Failure::Unreachable { .. } | Failure::Protocol { .. }) => {
            Err(failed(format!("no {service} API at {url}")))
        }
        Err(Failure::Uncertain { message }) => Err(failed(format!(
            "no answer from {service} at {url} ({message})"
        ))),
        Err(Failure::RateLimited { .. } | Failure::Quota { .. }) => Err(failed(format!(
            "{service} is limiting requests for this token just now; try again later"
        ))),
    }
}
