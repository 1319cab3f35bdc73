//! `tacho connector …` and `tacho conflict …`: connections to Toggl Track, Tempo, Kimai and
//! Zammad (kept on the relay, which does the talking), the mapping of projects to their
//! targets, runs, status, the audit log, and the conflict inbox (synced, readable offline).

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};
use tacho_core::Core;
use tacho_core::connectors::RUN_WAIT;
use tacho_model::api::connectors::ConnectionInfo;
use tacho_model::connector::{ConnectorConflict, EntrySnapshot, Resolution};

use crate::args::InputError;
use crate::output::{self, out};

/// `tacho connector …`
#[derive(Debug, Subcommand)]
pub enum ConnectorCmd {
    /// Connect a timesheet service; the relay checks the token with one call before keeping it.
    Add(AddArgs),
    /// The account's connections.
    List,
    /// One connection: settings, state, counts, mappings.
    Show {
        /// Its name (or id).
        name: String,
    },
    /// Stop sending to it (work keeps queueing until `resume`).
    Pause {
        /// Its name.
        name: String,
    },
    /// Send again (also after a refused token was replaced).
    Resume {
        /// Its name.
        name: String,
    },
    /// Remove it and its token; what was already pushed stays on the service.
    Remove {
        /// Its name.
        name: String,
    },
    /// Map a Tacho project to a target on the service.
    Map(MapArgs),
    /// Pick lists from the service (projects, tasks, customers, activities, types).
    Lookup {
        /// Its name.
        name: String,
        /// Which list.
        what: LookupKind,
        /// Ask the service again instead of the relay's 10-minute cache.
        #[arg(long)]
        refresh: bool,
    },
    /// Push and pull now and wait until its queue is drained; non-zero exit if it is not.
    Run {
        /// Its name.
        name: String,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = RUN_WAIT.as_secs())]
        wait: u64,
    },
    /// Its queue: pending, running, conflicts, errors, last push and pull.
    Status {
        /// Its name.
        name: String,
    },
    /// Its audit log: every call to the service, newest first.
    Log {
        /// Its name.
        name: String,
        /// How many lines.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// The services.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// Toggl Track (API v9).
    Toggl,
    /// Tempo Cloud (API v4, worklogs on Jira issues).
    Tempo,
    /// Kimai 2.x (self-hosted).
    Kimai,
    /// Zammad time accounting.
    Zammad,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Toggl => "toggl",
            Self::Tempo => "tempo",
            Self::Kimai => "kimai",
            Self::Zammad => "zammad",
        }
    }
}

/// Kimai's authentication modes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KimaiAuthArg {
    /// `Authorization: Bearer` (Kimai's API tokens).
    Bearer,
    /// `X-AUTH-USER` + `X-AUTH-TOKEN` (older Kimai; needs --user).
    Legacy,
}

/// Zammad's units.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UnitArg {
    /// Minutes (Zammad's default).
    Minutes,
    /// Hours.
    Hours,
}

/// The pick lists.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LookupKind {
    /// Toggl or Kimai projects.
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

impl LookupKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Projects => "projects",
            Self::Tasks => "tasks",
            Self::Customers => "customers",
            Self::Activities => "activities",
            Self::Types => "types",
        }
    }
}

/// `tacho connector add`
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The service.
    pub kind: Kind,
    /// Your name for this connection (used by the other commands).
    #[arg(long)]
    pub name: String,
    /// Read the API token from this environment variable (never a plain flag); without it the
    /// token is asked for.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// The service's address: your Kimai or Zammad instance; for Toggl and Tempo the API host
    /// (default the public one; Tempo: https://api.eu.tempo.io or https://api.us.tempo.io).
    #[arg(long)]
    pub base_url: Option<String>,
    /// Toggl: the workspace id.
    #[arg(long)]
    pub workspace: Option<i64>,
    /// Tempo: your Jira account id.
    #[arg(long)]
    pub account_id: Option<String>,
    /// Tempo, Kimai, Zammad: the time zone the service reads wall times in [default: --tz].
    #[arg(long)]
    pub timezone: Option<String>,
    /// Kimai: how to authenticate.
    #[arg(long, value_enum)]
    pub auth: Option<KimaiAuthArg>,
    /// Kimai legacy auth: the user name.
    #[arg(long)]
    pub user: Option<String>,
    /// Zammad: the unit time is accounted in on your instance.
    #[arg(long, value_enum)]
    pub unit: Option<UnitArg>,
    /// Zammad: the default activity type id.
    #[arg(long = "type")]
    pub type_id: Option<i64>,
    /// Push each project's rounded duration instead of the raw one (raw times stay in Tacho).
    #[arg(long)]
    pub push_rounded: bool,
}

/// `tacho connector map`
#[derive(Debug, Args)]
pub struct MapArgs {
    /// The connection's name.
    pub name: String,
    /// The Tacho project (name or id).
    #[arg(long)]
    pub project: String,
    /// Toggl `project=ID[,task=ID]`, Tempo `issue=ID`, Kimai `project=ID,activity=ID`, Zammad
    /// `ticket=ID[,type=ID]`.
    #[arg(long)]
    pub target: String,
}

/// `tacho conflict …`
#[derive(Debug, Subcommand)]
pub enum ConflictCmd {
    /// Open conflicts (with --all also resolved ones), as last synced.
    List {
        /// Include resolved ones.
        #[arg(long)]
        all: bool,
    },
    /// Resolve one: keep-local (push Tacho's values), keep-remote (take the service's),
    /// dismiss (change nothing).
    Resolve {
        /// The conflict's id (`tacho conflict list`).
        id: String,
        /// What to do.
        action: String,
    },
}

/// The service settings of `args`, checked against the kind (a flag of another service is an
/// error rather than silently ignored).
pub fn settings_of(args: &AddArgs, default_tz: &str) -> Result<Map<String, Value>, InputError> {
    let mut s = Map::new();
    let kind = args.kind;
    let foreign = |flag: &str, given: bool, allowed: &[Kind]| {
        if given && !allowed.iter().any(|k| k.as_str() == kind.as_str()) {
            Err(InputError(format!(
                "--{flag} does not apply to {} connections",
                kind.as_str()
            )))
        } else {
            Ok(())
        }
    };
    foreign("workspace", args.workspace.is_some(), &[Kind::Toggl])?;
    foreign("account-id", args.account_id.is_some(), &[Kind::Tempo])?;
    foreign("auth", args.auth.is_some(), &[Kind::Kimai])?;
    foreign("user", args.user.is_some(), &[Kind::Kimai])?;
    foreign("unit", args.unit.is_some(), &[Kind::Zammad])?;
    foreign("type", args.type_id.is_some(), &[Kind::Zammad])?;
    foreign(
        "timezone",
        args.timezone.is_some(),
        &[Kind::Tempo, Kind::Kimai, Kind::Zammad],
    )?;
    let tz = args
        .timezone
        .clone()
        .unwrap_or_else(|| default_tz.to_owned());
    if tz.parse::<chrono_tz::Tz>().is_err() {
        return Err(InputError(format!("unknown time zone `{tz}`")));
    }
    match kind {
        Kind::Toggl => {
            let ws = args
                .workspace
                .ok_or_else(|| InputError("toggl needs --workspace ID".into()))?;
            s.insert("workspace_id".into(), json!(ws));
        }
        Kind::Tempo => {
            let id = args
                .account_id
                .clone()
                .ok_or_else(|| InputError("tempo needs --account-id ID".into()))?;
            s.insert("account_id".into(), json!(id));
            s.insert("time_zone".into(), json!(tz));
        }
        Kind::Kimai => {
            match (args.auth.unwrap_or(KimaiAuthArg::Bearer), &args.user) {
                (KimaiAuthArg::Bearer, None) => {
                    s.insert("auth".into(), json!("bearer"));
                }
                (KimaiAuthArg::Bearer, Some(_)) => {
                    return Err(InputError("--user goes with --auth legacy".into()));
                }
                (KimaiAuthArg::Legacy, Some(user)) => {
                    s.insert("auth".into(), json!("legacy"));
                    s.insert("user".into(), json!(user));
                }
                (KimaiAuthArg::Legacy, None) => {
                    return Err(InputError("--auth legacy needs --user NAME".into()));
                }
            }
            s.insert("time_zone".into(), json!(tz));
        }
        Kind::Zammad => {
            let unit = match args.unit.unwrap_or(UnitArg::Minutes) {
                UnitArg::Minutes => "minute",
                UnitArg::Hours => "hour",
            };
            s.insert("time_unit".into(), json!(unit));
            // Zammad keeps no start time; the zone dates pulled records (their creation time).
            if args.timezone.is_some() {
                s.insert("time_zone".into(), json!(tz));
            }
            if let Some(t) = args.type_id {
                s.insert("type_id".into(), json!(t));
            }
        }
    }
    if args.push_rounded {
        s.insert("push_rounded".into(), json!(true));
    }
    Ok(s)
}

/// The token: from the named environment variable, else asked for without echo.
fn read_token(var: Option<&str>) -> anyhow::Result<String> {
    match var {
        Some(var) => std::env::var(var)
            .map_err(|_| InputError(format!("the environment variable {var} is not set")).into()),
        None => Ok(rpassword::prompt_password("API token: ")?),
    }
}

/// Runs one `tacho connector` command.
pub async fn connector(
    core: &Core,
    cmd: ConnectorCmd,
    json: bool,
    default_tz: &str,
) -> anyhow::Result<()> {
    match cmd {
        ConnectorCmd::Add(args) => {
            let settings = settings_of(&args, default_tz)?;
            let token = read_token(args.token_env.as_deref())?;
            let conn = core
                .connector_add(
                    args.kind.as_str(),
                    &args.name,
                    args.base_url.as_deref(),
                    settings,
                    &token,
                )
                .await?;
            if json {
                return output::json(&conn);
            }
            out!(
                "connected {} ({}); map a project with `tacho connector map {} --project P --target …`",
                label(&conn),
                conn.provider,
                label(&conn)
            )?;
        }
        ConnectorCmd::List => {
            let all = core.connectors().await?;
            if json {
                return output::json(&all);
            }
            if all.is_empty() {
                out!("no connections; add one with `tacho connector add`")?;
            }
            for c in &all {
                out!(
                    "{:<20} {:<7} {:<9} pending {:>4}  conflicts {:>3}  errors {:>3}",
                    label(c),
                    c.provider,
                    c.state,
                    c.counts.pending,
                    c.counts.conflicts,
                    c.counts.errors
                )?;
            }
        }
        ConnectorCmd::Show { name } => {
            let conn = core.connector(&name).await?;
            let mappings = core.connector_mappings(&name).await?;
            if json {
                let mut v = serde_json::to_value(&conn)?;
                v["mappings"] = serde_json::to_value(&mappings)?;
                return output::json(&v);
            }
            out!("{} ({}), {}", label(&conn), conn.provider, conn.state)?;
            if let Some(why) = &conn.disabled_reason {
                out!("  disabled: {why}")?;
            }
            if let Some(until) = &conn.quota_until {
                out!("  waiting for the service's quota until {until}")?;
            }
            if let Some(url) = &conn.base_url {
                out!("  base URL {url}")?;
            }
            for (k, v) in &conn.settings {
                out!("  {k} = {v}")?;
            }
            let projects = core.projects().await?;
            for m in &mappings {
                let project = projects
                    .iter()
                    .find(|p| p.id.0 == m.project_id)
                    .map_or_else(|| m.project_id.to_string(), |p| p.name.clone());
                out!("  map {project} → {}", m.target)?;
            }
        }
        ConnectorCmd::Pause { name } => {
            let conn = core.connector_pause(&name).await?;
            done(json, &conn, "paused")?;
        }
        ConnectorCmd::Resume { name } => {
            let conn = core.connector_resume(&name).await?;
            done(json, &conn, "resumed")?;
        }
        ConnectorCmd::Remove { name } => {
            core.connector_remove(&name).await?;
            if json {
                output::json(&json!({ "removed": name }))?;
            } else {
                out!("removed {name}")?;
            }
        }
        ConnectorCmd::Map(args) => {
            let mapping = core
                .connector_map(&args.name, &args.project, &args.target)
                .await?;
            if json {
                output::json(&mapping)?;
            } else {
                out!("mapped {} → {}", args.project, mapping.target)?;
            }
        }
        ConnectorCmd::Lookup {
            name,
            what,
            refresh,
        } => {
            let items = core.connector_lookup(&name, what.as_str(), refresh).await?;
            if json {
                return output::json(&items);
            }
            for i in items {
                match i.parent {
                    Some(p) => out!("{:>8}  {}  (in {p})", i.id, i.name)?,
                    None => out!("{:>8}  {}", i.id, i.name)?,
                }
            }
        }
        ConnectorCmd::Run { name, wait } => {
            let report = core
                .connector_run(&name, Duration::from_secs(wait), |s| {
                    tracing::info!(pending = s.pending, running = s.running, "waiting");
                })
                .await?;
            if json {
                output::json(&report)?;
            } else {
                let s = &report.status;
                out!(
                    "{name}: {} pending, {} conflicts, {} errors, state {}",
                    s.pending,
                    s.conflicts,
                    s.errors,
                    s.state
                )?;
                if let Some(e) = &s.last_error {
                    out!("last error: {e}")?;
                }
            }
            if !report.drained {
                return Err(tacho_core::CoreError::Conflict {
                    reason: format!(
                        "{name} did not drain (state {}, {} pending, {} errors)",
                        report.status.state, report.status.pending, report.status.errors
                    ),
                }
                .into());
            }
        }
        ConnectorCmd::Status { name } => {
            let s = core.connector_status(&name).await?;
            if json {
                return output::json(&s);
            }
            out!(
                "{name}: {}; {} pending, {} running, {} conflicts, {} errors",
                s.state,
                s.pending,
                s.running,
                s.conflicts,
                s.errors
            )?;
            out!(
                "last push {}, last pull {}",
                s.last_push_at.as_deref().unwrap_or("never"),
                s.last_pull_at.as_deref().unwrap_or("never")
            )?;
            if let Some(e) = &s.last_error {
                out!("last error: {e}")?;
            }
        }
        ConnectorCmd::Log { name, limit } => {
            let entries = core.connector_log(&name, limit).await?;
            if json {
                return output::json(&entries);
            }
            for e in entries {
                out!(
                    "{}  {:<8} {:<6} {:>6}  {}  {}",
                    e.at,
                    e.operation,
                    e.status,
                    e.latency_ms
                        .map(|ms| format!("{ms} ms"))
                        .unwrap_or_default(),
                    e.remote_id.as_deref().unwrap_or("-"),
                    e.message.as_deref().unwrap_or("")
                )?;
            }
        }
    }
    Ok(())
}

/// Runs one `tacho conflict` command.
pub async fn conflict(core: &Core, cmd: ConflictCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        ConflictCmd::List { all } => {
            let list = core.conflicts(all).await?;
            if json {
                let items: Vec<_> = list
                    .iter()
                    .map(|(id, c)| {
                        let mut v = serde_json::to_value(c).unwrap_or_default();
                        v["id"] = json!(id);
                        v
                    })
                    .collect();
                return output::json(&items);
            }
            if list.is_empty() {
                out!("no open conflicts")?;
            }
            for (id, c) in &list {
                print_conflict(id, c)?;
            }
        }
        ConflictCmd::Resolve { id, action } => {
            let resolution = Resolution::parse(&action).ok_or_else(|| {
                InputError(format!(
                    "unknown action `{action}` (use keep-local, keep-remote or dismiss)"
                ))
            })?;
            core.resolve_conflict(&id, resolution).await?;
            if json {
                output::json(&json!({ "resolved": id.trim(), "action": resolution.as_str() }))?;
            } else {
                out!("resolved {} ({})", id.trim(), resolution.as_str())?;
            }
        }
    }
    Ok(())
}

fn print_conflict(id: &uuid::Uuid, c: &ConnectorConflict) -> anyhow::Result<()> {
    out!(
        "{id}  {} ({})  {}  raised {}",
        c.connection_name,
        c.service,
        c.message,
        c.raised_at.format("%Y-%m-%d %H:%M")
    )?;
    out!("    here:  {}", snapshot(c.local.as_ref()))?;
    out!("    there: {}", snapshot(c.remote.as_ref()))?;
    Ok(())
}

fn snapshot(s: Option<&EntrySnapshot>) -> String {
    let Some(s) = s else {
        return "(none)".to_owned();
    };
    let mut parts = Vec::new();
    if let Some(start) = s.start {
        parts.push(start.format("%Y-%m-%d %H:%M").to_string());
    }
    if let Some(stop) = s.stop {
        parts.push(format!("→ {}", stop.format("%H:%M")));
    }
    if let Some(secs) = s.seconds {
        parts.push(format!("{}:{:02}", secs / 3600, secs % 3600 / 60));
    }
    if let Some(p) = &s.project {
        parts.push(p.clone());
    }
    if let Some(d) = &s.description {
        parts.push(format!("\"{d}\""));
    }
    parts.join("  ")
}

fn label(c: &ConnectionInfo) -> String {
    c.label.clone().unwrap_or_else(|| c.id.to_string())
}

fn done(json: bool, conn: &ConnectionInfo, what: &str) -> anyhow::Result<()> {
    if json {
        output::json(conn)
    } else {
        out!("{what} {} (state {})", label(conn), conn.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        add: AddArgs,
    }

    fn add(args: &[&str]) -> AddArgs {
        T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .expect("parses")
            .add
    }

    #[test]
    fn settings_follow_the_kind_and_refuse_foreign_flags() {
        let s =
            settings_of(&add(&["toggl", "--name", "t", "--workspace", "7"]), "UTC").expect("toggl");
        assert_eq!(s.get("workspace_id"), Some(&json!(7)));
        assert!(settings_of(&add(&["toggl", "--name", "t"]), "UTC").is_err());
        let err = settings_of(&add(&["kimai", "--name", "k", "--workspace", "7"]), "UTC")
            .expect_err("foreign flag");
        assert!(err.0.contains("--workspace"), "{}", err.0);
        let s = settings_of(
            &add(&["kimai", "--name", "k", "--auth", "legacy", "--user", "anna"]),
            "Europe/Berlin",
        )
        .expect("kimai");
        assert_eq!(s.get("auth"), Some(&json!("legacy")));
        assert_eq!(s.get("time_zone"), Some(&json!("Europe/Berlin")));
        assert!(settings_of(&add(&["kimai", "--name", "k", "--auth", "legacy"]), "UTC").is_err());
        assert!(
            settings_of(
                &add(&[
                    "tempo",
                    "--name",
                    "t",
                    "--account-id",
                    "a",
                    "--timezone",
                    "Mars/Base"
                ]),
                "UTC"
            )
            .is_err()
        );
        let s = settings_of(
            &add(&["zammad", "--name", "z", "--unit", "hours", "--type", "3"]),
            "UTC",
        )
        .expect("zammad");
        assert_eq!(s.get("time_unit"), Some(&json!("hour")));
        assert_eq!(s.get("type_id"), Some(&json!(3)));
    }
}
