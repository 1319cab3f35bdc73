//! Timesheet services: Toggl Track v9, Tempo v4, Kimai 2.x and Zammad time accounting, after
//! `contracts/timesheets.md`. [`Connector`] is the one face the relay sees; each service's module
//! holds its typed requests and answers, its time conversion and its natural-key match.
//!
//! None of the services takes an idempotency key, so exactly-once is the caller's protocol (ADR
//! 0015): record the intent, send, and after any [`Failure::Uncertain`] call [`Connector::find`]
//! with the same [`Entry`] before sending the write again.

pub mod kimai;
pub mod tempo;
pub mod toggl;
mod wire;
pub mod zammad;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::http::{Failure, Http, Secret};

/// Which service a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Toggl Track API v9.
    Toggl,
    /// Tempo Cloud REST API v4.
    Tempo,
    /// Kimai 2.x (self-hosted).
    Kimai,
    /// Zammad time accounting.
    Zammad,
}

impl Service {
    /// Every service, in the order documented.
    pub const ALL: [Self; 4] = [Self::Toggl, Self::Tempo, Self::Kimai, Self::Zammad];

    /// The name used in paths, bodies, tags (`zammad:4711`) and the relay's `provider` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Toggl => "toggl",
            Self::Tempo => "tempo",
            Self::Kimai => "kimai",
            Self::Zammad => "zammad",
        }
    }

    /// The service named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The public API host when the person gives none (Kimai and Zammad are self-hosted: none).
    /// Tempo's regional clusters (`https://api.eu.tempo.io`, `https://api.us.tempo.io`) are
    /// chosen by giving them as the base URL; a token used on the wrong one is refused.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Self::Toggl => Some("https://api.track.toggl.com"),
            Self::Tempo => Some("https://api.tempo.io"),
            Self::Kimai | Self::Zammad => None,
        }
    }

    /// The documented API path appended to the base URL.
    pub fn api_path(self) -> &'static str {
        match self {
            Self::Toggl => "api/v9/",
            Self::Tempo => "4/",
            Self::Kimai => "api/",
            Self::Zammad => "api/v1/",
        }
    }

    /// Whether a running timer (no stop yet) can be pushed: Toggl (negative duration) and Kimai
    /// (no `end`); Tempo and Zammad get the entry when it stops.
    pub fn accepts_running(self) -> bool {
        matches!(self, Self::Toggl | Self::Kimai)
    }
}

/// How Kimai authenticates: the current Bearer token or the legacy header pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum KimaiAuth {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `X-AUTH-USER: <user>` + `X-AUTH-TOKEN: <token>` (Kimai before 2.14's API tokens).
    Legacy {
        /// The Kimai user name.
        user: String,
    },
}

/// The unit Zammad's `time_unit` is counted in on that instance (an admin setting). The names
/// are the relay's stored `time_unit` setting (`minute` is Zammad's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZammadUnit {
    /// Minutes (Zammad's default).
    Minute,
    /// Quarter hours.
    QuarterHour,
    /// Hours.
    Hour,
    /// Working days of 8 hours (Zammad leaves the meaning to its admin; documented as 8 h).
    Day,
}

/// The non-secret settings of a connection, per service. Stored by the relay as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "service", rename_all = "snake_case")]
pub enum Settings {
    /// Toggl: the workspace entries go to.
    Toggl {
        /// Workspace id.
        workspace_id: i64,
    },
    /// Tempo: whose worklogs, and the worker's zone for `startDate`/`startTime`.
    Tempo {
        /// Jira account id of the author.
        account_id: String,
        /// The worker's time zone (wall time sent to Tempo).
        time_zone: Tz,
    },
    /// Kimai: how to authenticate, and the Kimai user's time zone (requests carry wall time).
    Kimai {
        /// Authentication mode.
        auth: KimaiAuth,
        /// The Kimai user's time zone.
        time_zone: Tz,
    },
    /// Zammad: the unit of `time_unit` and the default activity type.
    Zammad {
        /// Unit configured on the instance.
        unit: ZammadUnit,
        /// Activity type used when the mapping gives none.
        default_type_id: Option<i64>,
    },
}

impl Settings {
    /// The service these settings are for.
    pub fn service(&self) -> Service {
        match self {
            Self::Toggl { .. } => Service::Toggl,
            Self::Tempo { .. } => Service::Tempo,
            Self::Kimai { .. } => Service::Kimai,
            Self::Zammad { .. } => Service::Zammad,
        }
    }
}

/// Where a Tacho project's hours go on one connection (a mapping), or where one remote entry
/// sits. A tag `zammad:4711` / `tempo:10001` on an entry overrides the ticket or issue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "service", rename_all = "snake_case")]
pub enum Target {
    /// Toggl project and optional task (both optional: Toggl allows entries without a project).
    Toggl {
        /// Project id.
        project_id: Option<i64>,
        /// Task id.
        task_id: Option<i64>,
    },
    /// Tempo: the Jira issue id (v4 takes ids, not keys).
    Tempo {
        /// Issue id.
        issue_id: i64,
    },
    /// Kimai project and activity (both required by Kimai).
    Kimai {
        /// Project id.
        project_id: i64,
        /// Activity id.
        activity_id: i64,
    },
    /// Zammad ticket and optional activity type.
    Zammad {
        /// Ticket id.
        ticket_id: i64,
        /// Activity type id.
        type_id: Option<i64>,
    },
}

impl Target {
    /// The service this target belongs to.
    pub fn service(&self) -> Service {
        match self {
            Self::Toggl { .. } => Service::Toggl,
            Self::Tempo { .. } => Service::Tempo,
            Self::Kimai { .. } => Service::Kimai,
            Self::Zammad { .. } => Service::Zammad,
        }
    }

    /// Parses a person's target spec for `service`: Toggl `project=ID[,task=ID]`, Tempo
    /// `issue=ID`, Kimai `project=ID,activity=ID`, Zammad `ticket=ID[,type=ID]`.
    pub fn parse_spec(service: Service, spec: &str) -> Result<Self, TargetSpecError> {
        let mut pairs = std::collections::BTreeMap::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| TargetSpecError(format!("`{part}` is not KEY=ID")))?;
            let id: i64 = value
                .trim()
                .parse()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| TargetSpecError(format!("`{value}` is not a positive id")))?;
            if pairs.insert(key.trim().to_owned(), id).is_some() {
                return Err(TargetSpecError(format!("`{key}` given twice")));
            }
        }
        let allowed: &[&str] = match service {
            Service::Toggl => &["project", "task"],
            Service::Tempo => &["issue"],
            Service::Kimai => &["project", "activity"],
            Service::Zammad => &["ticket", "type"],
        };
        if let Some(extra) = pairs.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(TargetSpecError(format!(
                "`{extra}` is not a {} target key (use {})",
                service.as_str(),
                allowed.join(", ")
            )));
        }
        let need = |key: &str| {
            pairs.get(key).copied().ok_or_else(|| {
                TargetSpecError(format!("a {} target needs `{key}=ID`", service.as_str()))
            })
        };
        Ok(match service {
            Service::Toggl => Self::Toggl {
                project_id: Some(need("project")?),
                task_id: pairs.get("task").copied(),
            },
            Service::Tempo => Self::Tempo {
                issue_id: need("issue")?,
            },
            Service::Kimai => Self::Kimai {
                project_id: need("project")?,
                activity_id: need("activity")?,
            },
            Service::Zammad => Self::Zammad {
                ticket_id: need("ticket")?,
                type_id: pairs.get("type").copied(),
            },
        })
    }
}

/// A target spec that does not parse; the message says what is wrong and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid target: {0}")]
pub struct TargetSpecError(pub String);

/// What Tacho wants a remote entry to be: a time entry with its mapping resolved and (if the
/// connection pushes rounded durations) its stop already rounded by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Start instant (UTC); each service converts it to what it reads (see the contract, §1.5).
    pub start: DateTime<Utc>,
    /// Stop instant; `None` while running (only for services that [`Service::accepts_running`]).
    pub stop: Option<DateTime<Utc>>,
    /// What was done (Zammad keeps none).
    pub description: String,
    /// Tags (Zammad and Tempo keep none).
    pub tags: Vec<String>,
    /// Billable flag (Toggl, Kimai; Tempo as billable seconds).
    pub billable: bool,
    /// Where it goes.
    pub target: Target,
}

/// An entry as a service holds it, read back for reconciliation or pulled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteEntry {
    /// The service's id (as text: Toggl and Kimai ids are numbers, all are kept as strings).
    pub remote_id: String,
    /// Start instant, when the service keeps one (Zammad does not: its `created_at` is here).
    pub start: DateTime<Utc>,
    /// Stop instant; `None` while running.
    pub stop: Option<DateTime<Utc>>,
    /// Duration in whole seconds as the service counts it.
    pub seconds: i64,
    /// Description (empty where the service keeps none).
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Billable flag.
    pub billable: bool,
    /// Where it sits.
    pub target: Target,
    /// The service's last-modified time, when it tells one.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The result of a successful create or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The remote id (new after Tempo's delete + create on an issue change).
    pub remote_id: String,
    /// The record as the service answered it.
    pub entry: RemoteEntry,
}

/// Where an incremental pull continues; opaque to the relay, which stores it as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullCursor {
    /// Changes at or after this instant are wanted (`None`: the first pull, from `first_pull`).
    pub since: Option<DateTime<Utc>>,
}

/// What a pull brought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Entries created or changed remotely since the cursor.
    pub changed: Vec<RemoteEntry>,
    /// Remote ids deleted since the cursor, where the service tells (Toggl's tombstones); for
    /// the others the relay probes its mapped ids with [`Connector::exists`].
    pub deleted: Vec<String>,
    /// Where the next pull starts.
    pub next: PullCursor,
}

/// An item of a picker list (projects, tasks, activities, customers, types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupItem {
    /// The service's id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The parent's id (a task's project, a project's customer, an activity's project).
    pub parent: Option<i64>,
}

/// Which picker list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lookup {
    /// Toggl and Kimai projects.
    Projects,
    /// Toggl tasks.
    Tasks,
    /// Kimai customers.
    Customers,
    /// Kimai activities.
    Activities,
    /// Zammad activity types.
    Types,
}

/// Who the token belongs to, from the cheap authenticated call made when a connection is added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The service's name for the account (user name, e-mail or id), shown to the person.
    pub account: String,
}

/// Toggl's quota as last seen in its headers (`X-Toggl-Quota-Remaining`/`-Resets-In`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests left in the window.
    pub remaining: u32,
    /// Until the window resets.
    pub resets_in: Duration,
}

/// A configured client for one connection. Enum dispatch keeps it `Send`, clonable and free of
/// boxed futures; each arm is its service's module.
#[derive(Debug, Clone)]
pub enum Connector {
    /// Toggl Track.
    Toggl(toggl::Client),
    /// Tempo.
    Tempo(tempo::Client),
    /// Kimai.
    Kimai(kimai::Client),
    /// Zammad.
    Zammad(zammad::Client),
}

/// Why a connector could not be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The base URL is refused.
    #[error("base URL {0}")]
    BaseUrl(#[from] crate::http::BaseUrlError),
    /// Self-hosted services need one.
    #[error("{0} needs a base URL (the address of its instance)")]
    MissingBaseUrl(&'static str),
}

impl Connector {
    /// A client for `settings`' service at `base_url` (the origin a person knows; the API path is
    /// appended) or the service's public host.
    pub fn new(
        http: Http,
        base_url: Option<&str>,
        settings: Settings,
        token: Secret,
    ) -> Result<Self, ConfigError> {
        let service = settings.service();
        let raw = base_url
            .or(service.default_base_url())
            .ok_or(ConfigError::MissingBaseUrl(service.as_str()))?;
        let base = crate::http::parse_base_url(raw)?;
        let api = base
            .join(service.api_path())
            .map_err(|e| crate::http::BaseUrlError::NotUrl(e.to_string()))?;
        Ok(match settings {
            Settings::Toggl { workspace_id } => {
                Self::Toggl(toggl::Client::new(http, api, token, workspace_id))
            }
            Settings::Tempo {
                account_id,
                time_zone,
            } => Self::Tempo(tempo::Client::new(http, api, token, account_id, time_zone)),
            Settings::Kimai { auth, time_zone } => {
                Self::Kimai(kimai::Client::new(http, api, token, auth, time_zone))
            }
            Settings::Zammad {
                unit,
                default_type_id,
            } => Self::Zammad(zammad::Client::new(http, api, token, unit, default_type_id)),
        })
    }

    /// The service.
    pub fn service(&self) -> Service {
        match self {
            Self::Toggl(_) => Service::Toggl,
            Self::Tempo(_) => Service::Tempo,
            Self::Kimai(_) => Service::Kimai,
            Self::Zammad(_) => Service::Zammad,
        }
    }

    /// One cheap authenticated call: proves the URL, token and workspace/account are right.
    pub async fn verify(&self) -> Result<Verified, Failure> {
        match self {
            Self::Toggl(c) => c.verify().await,
            Self::Tempo(c) => c.verify().await,
            Self::Kimai(c) => c.verify().await,
            Self::Zammad(c) => c.verify().await,
        }
    }

    /// Creates the entry remotely.
    pub async fn create(&self, entry: &Entry) -> Result<Written, Failure> {
        match self {
            Self::Toggl(c) => c.create(entry).await,
            Self::Tempo(c) => c.create(entry).await,
            Self::Kimai(c) => c.create(entry).await,
            Self::Zammad(c) => c.create(entry).await,
        }
    }

    /// Makes remote `remote_id` (last written as `before`) equal `entry`. Tempo moves an entry
    /// to another issue by delete + create, so the answer's id may differ from `remote_id`.
    pub async fn update(
        &self,
        remote_id: &str,
        before: &Target,
        entry: &Entry,
    ) -> Result<Written, Failure> {
        match self {
            Self::Toggl(c) => c.update(remote_id, before, entry).await,
            Self::Tempo(c) => c.update(remote_id, before, entry).await,
            Self::Kimai(c) => c.update(remote_id, before, entry).await,
            Self::Zammad(c) => c.update(remote_id, before, entry).await,
        }
    }

    /// Deletes remote `remote_id` (which sits at `target`). Already gone (404) is success.
    pub async fn delete(&self, remote_id: &str, target: &Target) -> Result<(), Failure> {
        match self {
            Self::Toggl(c) => c.delete(remote_id, target).await,
            Self::Tempo(c) => c.delete(remote_id, target).await,
            Self::Kimai(c) => c.delete(remote_id, target).await,
            Self::Zammad(c) => c.delete(remote_id, target).await,
        }
    }

    /// Reconciliation: the remote record that a write of `entry`, sent at or after `sent_at`,
    /// produced, matched on the service's natural key; ids in `exclude` (already linked to other
    /// Tacho entries) never match. `None`: the write did not happen, so it may be sent again.
    pub async fn find(
        &self,
        entry: &Entry,
        sent_at: DateTime<Utc>,
        exclude: &HashSet<String>,
    ) -> Result<Option<RemoteEntry>, Failure> {
        match self {
            Self::Toggl(c) => c.find(entry, sent_at, exclude).await,
            Self::Tempo(c) => c.find(entry, sent_at, exclude).await,
            Self::Kimai(c) => c.find(entry, sent_at, exclude).await,
            Self::Zammad(c) => c.find(entry, sent_at, exclude).await,
        }
    }

    /// The remote record `remote_id` at `target`, or `None` if it is gone (deletion probe).
    pub async fn get(
        &self,
        remote_id: &str,
        target: &Target,
    ) -> Result<Option<RemoteEntry>, Failure> {
        match self {
            Self::Toggl(c) => c.get(remote_id, target).await,
            Self::Tempo(c) => c.get(remote_id, target).await,
            Self::Kimai(c) => c.get(remote_id, target).await,
            Self::Zammad(c) => c.get(remote_id, target).await,
        }
    }

    /// Incremental pull from `cursor`. `tickets` lists the Zammad tickets to read (mapped ones
    /// and any a webhook named); the other services ignore it. A first pull (no `since`) reads
    /// from `first_pull`.
    pub async fn changes(
        &self,
        cursor: &PullCursor,
        first_pull: DateTime<Utc>,
        tickets: &[i64],
    ) -> Result<Changes, Failure> {
        match self {
            Self::Toggl(c) => c.changes(cursor, first_pull).await,
            Self::Tempo(c) => c.changes(cursor, first_pull).await,
            Self::Kimai(c) => c.changes(cursor, first_pull).await,
            Self::Zammad(c) => c.changes(cursor, first_pull, tickets).await,
        }
    }

    /// A picker list. A lookup the service does not have is answered with
    /// [`Failure::Refused`] (status 400) naming the lookups it has.
    pub async fn lookup(&self, what: Lookup) -> Result<Vec<LookupItem>, Failure> {
        match self {
            Self::Toggl(c) => c.lookup(what).await,
            Self::Tempo(c) => c.lookup(what).await,
            Self::Kimai(c) => c.lookup(what).await,
            Self::Zammad(c) => c.lookup(what).await,
        }
    }

    /// Toggl's quota as last seen; `None` for services without one.
    pub fn quota(&self) -> Option<Quota> {
        match self {
            Self::Toggl(c) => c.quota(),
            Self::Tempo(_) | Self::Kimai(_) | Self::Zammad(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_specs_parse_per_service() {
        assert_eq!(
            Target::parse_spec(Service::Toggl, "project=12,task=3"),
            Ok(Target::Toggl {
                project_id: Some(12),
                task_id: Some(3)
            })
        );
        assert_eq!(
            Target::parse_spec(Service::Zammad, "ticket=4711"),
            Ok(Target::Zammad {
                ticket_id: 4711,
                type_id: None
            })
        );
        assert!(Target::parse_spec(Service::Kimai, "project=1").is_err());
        assert!(Target::parse_spec(Service::Tempo, "issue=abc").is_err());
        assert!(Target::parse_spec(Service::Tempo, "issue=1,task=2").is_err());
        assert!(Target::parse_spec(Service::Tempo, "issue").is_err());
        assert!(Target::parse_spec(Service::Tempo, "issue=1,issue=2").is_err());
        assert!(Target::parse_spec(Service::Tempo, "issue=-4").is_err());
    }

    #[test]
    fn services_round_trip_their_names() {
        for s in Service::ALL {
            assert_eq!(Service::parse(s.as_str()), Some(s));
        }
        assert_eq!(Service::parse("harvest"), None);
    }
}
