//! `entry show|edit|delete|restore`, `project edit|archive|unarchive|delete|restore`,
//! `car edit|retire|delete|restore`, `place edit|delete|restore` (issue 12): the grammar of
//! each change and its handler. Every one prints JSON with `--json`; errors map to the
//! documented exit codes in `main.rs` (a still-used project or car is 5, `in_use`).

use clap::Args;
use serde_json::json;
use tacho_core::{CarChange, Core, EntryDetail, EntryEdit, PlaceChange, ProjectChange};
use tacho_model::gps::LatLon;
use tacho_model::place::PlaceKind;
use tacho_model::work::Rounding;

use crate::args::{CarCmd, EntryCmd, InputError, PlaceCmd, PlaceKindArg, ProjectCmd};
use crate::output::{self, hm, out, short};
use crate::time::{parse_date, parse_instant};

fn bad(message: impl Into<String>) -> anyhow::Error {
    InputError(message.into()).into()
}

/// An optional text flag: absent = unchanged, empty = cleared.
fn clearable(value: Option<String>) -> Option<Option<String>> {
    value.map(|v| Some(v.trim().to_owned()).filter(|v| !v.is_empty()))
}

/// `tacho entry edit ID …`
#[derive(Debug, Args)]
pub struct EntryEditArgs {
    /// Entry id or the 8-character tail `entry list` shows.
    pub id: String,
    /// Book it on this project (name or id).
    #[arg(long, conflicts_with = "no_project")]
    pub project: Option<String>,
    /// Book it on no project.
    #[arg(long)]
    pub no_project: bool,
    /// What was done.
    #[arg(short, long)]
    pub description: Option<String>,
    /// New start time.
    #[arg(long)]
    pub start: Option<String>,
    /// New stop time (on the running timer: stops it then).
    #[arg(long)]
    pub stop: Option<String>,
    /// The tags, replacing the old ones (repeatable).
    #[arg(long = "tag", conflicts_with = "no_tags")]
    pub tags: Vec<String>,
    /// Remove every tag.
    #[arg(long)]
    pub no_tags: bool,
    /// Billable (true or false).
    #[arg(long)]
    pub billable: Option<bool>,
    /// Link it to this trip (id or prefix) as travel time.
    #[arg(long, conflicts_with = "no_trip")]
    pub trip: Option<String>,
    /// Unlink it from its trip.
    #[arg(long)]
    pub no_trip: bool,
}

/// `tacho project edit NAME …`
#[derive(Debug, Args)]
pub struct ProjectEditArgs {
    /// Project name or id.
    pub project: String,
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    /// Client ("" clears it).
    #[arg(long)]
    pub client: Option<String>,
    /// New entries billable by default (true or false).
    #[arg(long)]
    pub billable: Option<bool>,
    /// Rounding: none, up:N, down:N, nearest:N (minutes).
    #[arg(long)]
    pub rounding: Option<String>,
}

/// `tacho car edit CAR …`
#[derive(Debug, Args)]
pub struct CarEditArgs {
    /// Car id, name or plate.
    pub car: String,
    /// New short name.
    #[arg(long)]
    pub name: Option<String>,
    /// New licence plate.
    #[arg(long)]
    pub plate: Option<String>,
    /// Manufacturer ("" clears it).
    #[arg(long)]
    pub make: Option<String>,
    /// Model / type ("" clears it).
    #[arg(long)]
    pub model: Option<String>,
    /// First day available, YYYY-MM-DD ("" clears it).
    #[arg(long)]
    pub from: Option<String>,
    /// Last day available, YYYY-MM-DD ("" clears it).
    #[arg(long)]
    pub to: Option<String>,
    /// Bluetooth / CarPlay name ("" clears it).
    #[arg(long)]
    pub hint: Option<String>,
}

/// `tacho place edit PLACE …`
#[derive(Debug, Args)]
pub struct PlaceEditArgs {
    /// Place name or id.
    pub place: String,
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    /// New role in classification.
    #[arg(long, value_enum)]
    pub kind: Option<PlaceKindArg>,
    /// Latitude of the centre (with --lon).
    #[arg(long, allow_hyphen_values = true, requires = "lon")]
    pub lat: Option<f64>,
    /// Longitude of the centre (with --lat).
    #[arg(long, allow_hyphen_values = true, requires = "lat")]
    pub lon: Option<f64>,
    /// Radius in metres.
    #[arg(long)]
    pub radius: Option<f64>,
    /// Street address ("" clears it).
    #[arg(long)]
    pub address: Option<String>,
}

fn entry_lines(d: &EntryDetail, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    let e = &d.entry;
    out!(
        "entry      {}{}",
        e.id,
        if d.deleted { "  (deleted)" } else { "" }
    )?;
    out!(
        "project    {}{}",
        d.project
            .as_ref()
            .map_or("(no project)", |p| p.name.as_str()),
        if d.project.as_ref().is_some_and(|p| p.archived) {
            " (archived)"
        } else {
            ""
        }
    )?;
    out!(
        "time       {} → {}  ({})",
        e.start.to_rfc3339(),
        e.stop
            .map(|s| s.to_rfc3339())
            .unwrap_or_else(|| "(running)".into()),
        hm(e.duration(now).num_seconds())
    )?;
    if !e.description.is_empty() {
        out!("what       {}", e.description)?;
    }
    if !e.tags.is_empty() {
        out!("tags       {}", e.tags.join(", "))?;
    }
    let source = serde_json::to_value(e.source)?;
    out!(
        "billable   {}  source {}",
        if e.billable { "yes" } else { "no" },
        source.as_str().unwrap_or_default()
    )?;
    if let Some(t) = e.trip_id {
        out!("trip       {t}")?;
    }
    if !d.history.is_empty() {
        out!("history:")?;
        for h in &d.history {
            let late = h
                .arrived_after_lock
                .as_deref()
                .map(|month| format!("  arrived after the lock of {month}"))
                .unwrap_or_default();
            out!(
                "  {}  {:<12} {} → {}  (device {}){late}",
                h.at.format("%Y-%m-%d %H:%M:%S"),
                h.field.as_str(),
                h.old_value.as_deref().unwrap_or("—"),
                h.new_value.as_deref().unwrap_or("—"),
                short(h.device)
            )?;
        }
    }
    Ok(())
}

/// The entry commands beyond `add` and `list`.
pub async fn entry(core: &Core, cmd: EntryCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        EntryCmd::Show { id } => {
            let d = core.entry(&id).await?;
            if json {
                output::json(&d)?;
            } else {
                entry_lines(&d, core.now())?;
            }
        }
        EntryCmd::Edit(a) => {
            let now = core.now();
            let time = |s: Option<String>| s.map(|s| parse_instant(&s, now)).transpose();
            let edit = EntryEdit {
                project: if a.no_project {
                    Some(None)
                } else {
                    a.project.map(Some)
                },
                description: a.description,
                start: time(a.start)?,
                stop: time(a.stop)?,
                tags: if a.no_tags {
                    Some(Vec::new())
                } else {
                    (!a.tags.is_empty()).then_some(a.tags)
                },
                billable: a.billable,
                trip: if a.no_trip {
                    Some(None)
                } else {
                    a.trip.map(Some)
                },
            };
            let unchanged = edit.project.is_none()
                && edit.description.is_none()
                && edit.start.is_none()
                && edit.stop.is_none()
                && edit.tags.is_none()
                && edit.billable.is_none()
                && edit.trip.is_none();
            if unchanged {
                return Err(bad(
                    "nothing to change: give --project, --description, --start, --stop, --tag, \
                     --billable or --trip (see `tacho entry edit --help`)",
                ));
            }
            let d = core.edit_entry(&a.id, edit).await?;
            if json {
                output::json(&d)?;
            } else {
                entry_lines(&d, now)?;
            }
        }
        EntryCmd::Delete { id } => {
            let done = core.delete_entry(&id).await?;
            if json {
                output::json(&json!({ "deleted": id, "changed": done }))?;
            } else if done {
                out!("entry deleted (`tacho entry restore {id}` brings it back)")?;
            } else {
                out!("entry was already deleted")?;
            }
        }
        EntryCmd::Restore { id } => {
            let d = core.restore_entry(&id).await?;
            if json {
                output::json(&d)?;
            } else {
                out!("entry restored {}", d.entry.id)?;
            }
        }
        EntryCmd::Add { .. } | EntryCmd::List { .. } | EntryCmd::Import(_) => {
            unreachable_command("entry")?;
        }
    }
    Ok(())
}

/// The project commands beyond `add` and `list`.
pub async fn project(core: &Core, cmd: ProjectCmd, json: bool) -> anyhow::Result<()> {
    let show = |p: &tacho_model::work::Project, what: &str| -> anyhow::Result<()> {
        if json {
            output::json(p)
        } else {
            out!("project {} {what} {}", p.name, p.id)
        }
    };
    match cmd {
        ProjectCmd::Edit(a) => {
            let rounding = a
                .rounding
                .as_deref()
                .map(str::parse::<Rounding>)
                .transpose()
                .map_err(bad)?;
            let change = ProjectChange {
                name: a.name,
                client: clearable(a.client),
                billable: a.billable,
                rounding,
            };
            if change == ProjectChange::default() {
                return Err(bad(
                    "nothing to change: give --name, --client, --billable or --rounding",
                ));
            }
            let p = core.edit_project(&a.project, change).await?;
            show(&p, "changed")?;
        }
        ProjectCmd::Archive { project, undo } => {
            let p = core.archive_project(&project, !undo).await?;
            show(&p, if undo { "unarchived" } else { "archived" })?;
        }
        ProjectCmd::Unarchive { project } => {
            let p = core.archive_project(&project, false).await?;
            show(&p, "unarchived")?;
        }
        ProjectCmd::Delete { project } => {
            let done = core.delete_project(&project).await?;
            if json {
                output::json(&json!({ "deleted": project, "changed": done }))?;
            } else if done {
                out!("project {project} deleted (`tacho project restore` brings it back)")?;
            } else {
                out!("project {project} was already deleted")?;
            }
        }
        ProjectCmd::Restore { project } => {
            let p = core.restore_project(&project).await?;
            show(&p, "restored")?;
        }
        ProjectCmd::Add { .. } | ProjectCmd::List { .. } => unreachable_command("project")?,
    }
    Ok(())
}

fn opt_date(value: Option<String>) -> anyhow::Result<Option<Option<chrono::NaiveDate>>> {
    Ok(match clearable(value) {
        None => None,
        Some(None) => Some(None),
        Some(Some(d)) => Some(Some(parse_date(&d)?)),
    })
}

/// The car commands beyond `add` and `list`.
pub async fn car(core: &Core, cmd: CarCmd, json: bool) -> anyhow::Result<()> {
    let show = |c: &tacho_model::car::Car, what: &str| -> anyhow::Result<()> {
        if json {
            output::json(c)
        } else {
            out!("car {} ({}) {what} {}", c.name, c.plate, c.id)
        }
    };
    match cmd {
        CarCmd::Edit(a) => {
            let change = CarChange {
                name: a.name,
                plate: a.plate,
                make: clearable(a.make),
                model: clearable(a.model),
                available_from: opt_date(a.from)?,
                available_to: opt_date(a.to)?,
                connect_hint: clearable(a.hint),
            };
            if change == CarChange::default() {
                return Err(bad(
                    "nothing to change: give --name, --plate, --make, --model, --from, --to or --hint",
                ));
            }
            let c = core.edit_car(&a.car, change).await?;
            show(&c, "changed")?;
        }
        CarCmd::Retire { car, undo } => {
            let c = core.retire_car(&car, !undo).await?;
            show(&c, if undo { "back in use" } else { "retired" })?;
        }
        CarCmd::Delete { car } => {
            let done = core.delete_car(&car).await?;
            if json {
                output::json(&json!({ "deleted": car, "changed": done }))?;
            } else if done {
                out!("car {car} deleted (`tacho car restore` brings it back)")?;
            } else {
                out!("car {car} was already deleted")?;
            }
        }
        CarCmd::Restore { car } => {
            let c = core.restore_car(&car).await?;
            show(&c, "restored")?;
        }
        CarCmd::Add { .. } | CarCmd::List { .. } => unreachable_command("car")?,
    }
    Ok(())
}

/// The place commands beyond `add` and `list`.
pub async fn place(core: &Core, cmd: PlaceCmd, json: bool) -> anyhow::Result<()> {
    let show = |p: &tacho_model::place::Place, what: &str| -> anyhow::Result<()> {
        if json {
            output::json(p)
        } else {
            out!("{} place {} {what} {}", p.kind.as_str(), p.name, p.id)
        }
    };
    match cmd {
        PlaceCmd::Edit(a) => {
            let change = PlaceChange {
                name: a.name,
                kind: a.kind.map(place_kind),
                center: match (a.lat, a.lon) {
                    (Some(lat), Some(lon)) => Some(LatLon { lat, lon }),
                    _ => None,
                },
                radius_m: a.radius,
                address: clearable(a.address),
            };
            if change == PlaceChange::default() {
                return Err(bad(
                    "nothing to change: give --name, --kind, --lat/--lon, --radius or --address",
                ));
            }
            let p = core.edit_place(&a.place, change).await?;
            show(&p, "changed")?;
        }
        PlaceCmd::Delete { place } => {
            let done = core.delete_place(&place).await?;
            if json {
                output::json(&json!({ "deleted": place, "changed": done }))?;
            } else if done {
                out!("place {place} deleted (`tacho place restore` brings it back)")?;
            } else {
                out!("place {place} was already deleted")?;
            }
        }
        PlaceCmd::Restore { place } => {
            let p = core.restore_place(&place).await?;
            show(&p, "restored")?;
        }
        PlaceCmd::Add { .. } | PlaceCmd::List { .. } => unreachable_command("place")?,
    }
    Ok(())
}

/// The CLI's place kind as the model's.
pub fn place_kind(kind: PlaceKindArg) -> PlaceKind {
    match kind {
        PlaceKindArg::Home => PlaceKind::Home,
        PlaceKindArg::Office => PlaceKind::Office,
        PlaceKindArg::Client => PlaceKind::Client,
        PlaceKindArg::Other => PlaceKind::Other,
    }
}

/// `add` and `list` are handled in `commands.rs`; reaching here is a dispatch bug, reported
/// as an error rather than a panic.
fn unreachable_command(group: &str) -> anyhow::Result<()> {
    Err(anyhow::anyhow!(
        "internal error: `{group}` command dispatched to the wrong handler"
    ))
}
