//! One function per command group: parse arguments into core calls, print.

use std::io::IsTerminal;

use anyhow::Context as _;
use serde_json::json;
use tacho_core::{
    Core, EntryFilter, EntryImportOptions, ImportOptions, NewCar, NewEntry, TripFilter,
};
use tacho_model::car::TripEnd;
use tacho_model::gps::{LatLon, Ping};
use tacho_model::id::PlaceId;
use tacho_model::place::{Place, PlaceKind};
use tacho_model::trip::{Purpose, Trip, TripField, TripSource};
use tacho_model::work::{Rounding, overlapping};

use crate::args::*;
use crate::output::{self, hm, km, out, short};
use crate::time::{parse_date, parse_instant};

/// Midnight UTC of an optional `YYYY-MM-DD` argument.
fn day_start(day: Option<&str>) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    Ok(day
        .map(parse_date)
        .transpose()?
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc()))
}

pub(crate) fn bad(message: impl Into<String>) -> anyhow::Error {
    InputError(message.into()).into()
}

pub async fn dispatch(core: &Core, cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    let tz = cli.tz.as_str();
    match cli.command {
        Command::Car(cmd) => car(core, cmd, json).await,
        Command::Place(cmd) => place(core, cmd, json).await,
        Command::Trip(cmd) => trip(core, cmd, json).await,
        Command::Import(args) => import(core, args, json).await,
        Command::Timer(cmd) => timer(core, cmd, json).await,
        Command::Entry(cmd) => entry(core, cmd, json).await,
        Command::Project(cmd) => project(core, cmd, json).await,
        Command::Period(cmd) => period(core, cmd, json).await,
        Command::Report(cmd) => report(core, cmd).await,
        Command::Db(cmd) => db(core, cmd, cli.db.as_deref(), json).await,
        Command::Signup(args) => sign_in(core, args, true, json).await,
        Command::Login(args) => sign_in(core, args, false, json).await,
        Command::Sync(args) => sync(core, args, json).await,
        Command::Session(cmd) => session(core, cmd, json).await,
        Command::Hook(cmd) => crate::hooks::run(core, cmd, json).await,
        Command::Logout(args) => crate::account::logout(core, args, json).await,
        Command::Device(cmd) => crate::account::device(core, cmd, json).await,
        Command::Connector(cmd) => crate::connectors::connector(core, cmd, json, tz).await,
        Command::Conflict(cmd) => crate::connectors::conflict(core, cmd, json).await,
    }
}

async fn car(core: &Core, cmd: CarCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        CarCmd::Add {
            name,
            plate,
            make,
            model,
            from,
            to,
            hint,
        } => {
            let car = core
                .add_car(NewCar {
                    name,
                    plate,
                    make,
                    model,
                    available_from: from.as_deref().map(parse_date).transpose()?,
                    available_to: to.as_deref().map(parse_date).transpose()?,
                    connect_hint: hint,
                })
                .await?;
            if json {
                output::json(&car)?;
            } else {
                out!("added car {} ({}) {}", car.name, car.plate, car.id)?;
            }
        }
        CarCmd::List { all } => {
            let cars = core.car_list(all).await?;
            if json {
                output::json(&cars)?;
            } else {
                for c in cars {
                    out!(
                        "{:<16} {:<12} {} {}  {}{}",
                        c.name,
                        c.plate,
                        c.make.unwrap_or_default(),
                        c.model.unwrap_or_default(),
                        c.id,
                        if c.retired { "  (retired)" } else { "" }
                    )?;
                }
            }
        }
        other => crate::edit::car(core, other, json).await?,
    }
    Ok(())
}

async fn place(core: &Core, cmd: PlaceCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        PlaceCmd::Add {
            name,
            kind,
            lat,
            lon,
            radius,
            address,
        } => {
            let kind = match kind {
                PlaceKindArg::Home => PlaceKind::Home,
                PlaceKindArg::Office => PlaceKind::Office,
                PlaceKindArg::Client => PlaceKind::Client,
                PlaceKindArg::Other => PlaceKind::Other,
            };
            let place = core
                .add_place(Place {
                    id: PlaceId::new(),
                    name,
                    kind,
                    center: LatLon { lat, lon },
                    radius_m: radius,
                    address,
                })
                .await?;
            if json {
                output::json(&place)?;
            } else {
                out!(
                    "added {} place {} {}",
                    place.kind.as_str(),
                    place.name,
                    place.id
                )?;
            }
        }
        PlaceCmd::List { all } => {
            let places = core.place_list(all).await?;
            if json {
                output::json(&places)?;
            } else {
                for p in places {
                    out!(
                        "{:<20} {:<7} {:.5},{:.5} r={}m",
                        p.name,
                        p.kind.as_str(),
                        p.center.lat,
                        p.center.lon,
                        p.radius_m
                    )?;
                }
            }
        }
        other => crate::edit::place(core, other, json).await?,
    }
    Ok(())
}

/// The JSON shape of a trip in lists: the stored trip plus its id fields
/// flattened, so scripts get `id`, `started_at`, `ended_at`, `distance_m`,
/// `purpose`, `point_count` at the top level.
pub(crate) fn trip_json(t: &Trip) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_else(|_| json!({ "id": t.id.to_string() }))
}

pub(crate) fn trip_line(t: &Trip) -> String {
    format!(
        "{}  {}  {:>5}  {:>9}  {:<12} {}{}",
        short(t.id),
        t.started_at.format("%Y-%m-%d %H:%M"),
        t.ended_at
            .map(|e| hm((e - t.started_at).num_seconds()))
            .unwrap_or_else(|| "…".into()),
        km(t.distance_m),
        t.purpose.map_or("unclassified", Purpose::as_str),
        t.business_partner.as_deref().unwrap_or(""),
        if t.recovered { " (recovered)" } else { "" }
    )
}

async fn trip(core: &Core, cmd: TripCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        TripCmd::Start { source, car } => {
            let source = match source {
                SourceArg::Manual => TripSource::Manual,
                SourceArg::Carplay => TripSource::Carplay,
                SourceArg::Bluetooth => TripSource::Bluetooth,
                SourceArg::Hook => TripSource::Hook,
            };
            let outcome = core.connect(source, car).await?;
            let active = core.active_trip().await?;
            if json {
                output::json(
                    &json!({ "outcome": outcome, "active": active.map(|(t, d)| json!({"trip": t, "distance_m": d})) }),
                )?;
            } else if outcome.resumed {
                out!("reconnected within the grace period: the trip continues")?;
            } else if let Some(id) = outcome.started.first() {
                out!("trip {} started", id)?;
            } else {
                out!("a trip is already being recorded")?;
            }
        }
        TripCmd::Ping {
            lat,
            lon,
            time,
            accuracy,
            speed,
            heading,
            altitude,
        } => {
            let at = match time {
                Some(t) => parse_instant(&t, core.now())?,
                None => core.now(),
            };
            let outcome = core
                .ping(Ping {
                    at,
                    lat,
                    lon,
                    accuracy_m: accuracy,
                    speed_mps: speed,
                    heading_deg: heading,
                    altitude_m: altitude,
                })
                .await?;
            if json {
                output::json(&outcome)?;
            } else if let Some(reason) = outcome.dropped {
                out!("fix ignored ({reason:?})")?;
            } else {
                for id in &outcome.started {
                    out!("trip {id} started (movement detected)")?;
                }
                for id in &outcome.ended {
                    out!("trip {id} ended")?;
                }
            }
        }
        TripCmd::End { grace } => {
            let outcome = if grace {
                core.disconnect().await?
            } else {
                core.end_trip().await?
            };
            if json {
                output::json(&outcome)?;
            } else if outcome.ended.is_empty() {
                out!("disconnected: the trip ends unless it reconnects within the grace period")?;
            } else {
                for id in &outcome.ended {
                    let t = core.trip(&id.to_string()).await?.trip;
                    out!("trip ended: {}", trip_line(&t))?;
                }
            }
        }
        TripCmd::Tick => {
            let outcome = core.tick().await?;
            if json {
                output::json(&outcome)?;
            } else {
                out!("{} trip(s) closed", outcome.ended.len())?;
            }
        }
        TripCmd::List {
            from,
            to,
            car,
            limit,
            all,
        } => {
            let car = match car {
                Some(c) => Some(core.find_car(&c).await?.id),
                None => None,
            };
            let trips = core
                .trips(TripFilter {
                    from: day_start(from.as_deref())?,
                    until: day_start(to.as_deref())?,
                    car,
                    include_discarded: all,
                    limit,
                })
                .await?;
            let statuses = core.trip_statuses().await?;
            if json {
                let rows = trips.iter().map(|t| {
                    let mut row = trip_json(t);
                    crate::trips::add_status(&mut row, statuses.get(&t.id).copied());
                    row
                });
                output::json(&rows.collect::<Vec<_>>())?;
            } else if trips.is_empty() {
                out!("no trips")?;
            } else {
                for t in &trips {
                    let flag = crate::trips::status_flag(statuses.get(&t.id).copied());
                    out!("{}{flag}", trip_line(t))?;
                }
            }
        }
        TripCmd::Show { id, points } => {
            let detail = core.trip(&id).await?;
            let pts = if points {
                Some(core.trip_points(&id).await?)
            } else {
                None
            };
            if json {
                output::json(&json!({ "detail": detail, "points": pts }))?;
            } else {
                let t = &detail.trip;
                out!("trip       {}", t.id)?;
                out!("state      {:?}  source {}", t.state, t.source.as_str())?;
                crate::trips::show_lineage(&detail)?;
                out!(
                    "time       {} → {}",
                    t.started_at.to_rfc3339(),
                    t.ended_at
                        .map(|e| e.to_rfc3339())
                        .unwrap_or_else(|| "(recording)".into())
                )?;
                out!(
                    "distance   {}  ({} points)",
                    km(t.distance_m),
                    detail.point_count
                )?;
                out!(
                    "purpose    {}{}",
                    t.purpose.map_or("unclassified", Purpose::as_str),
                    t.business_partner
                        .as_deref()
                        .map(|p| format!(" — {p}"))
                        .unwrap_or_default()
                )?;
                if let Some(s) = t.start {
                    out!(
                        "from       {}",
                        t.start_address
                            .clone()
                            .unwrap_or(format!("{:.5},{:.5}", s.lat, s.lon))
                    )?;
                }
                if let Some(e) = t.end {
                    out!(
                        "to         {}",
                        t.end_address
                            .clone()
                            .unwrap_or(format!("{:.5},{:.5}", e.lat, e.lon))
                    )?;
                }
                if let Some(n) = &t.note {
                    out!("note       {n}")?;
                }
                for (label, r) in [
                    ("odo start", &detail.odometer_start),
                    ("odo end", &detail.odometer_end),
                ] {
                    if let Some(r) = r {
                        out!("{label:<10} {:.1} km", r.odometer_m as f64 / 1000.0)?;
                    }
                }
                if t.recovered {
                    out!("note       closed by recovery after a long silence")?;
                }
                if !detail.history.is_empty() {
                    out!("history:")?;
                    for e in &detail.history {
                        let late = e
                            .arrived_after_lock
                            .as_deref()
                            .map(|month| format!("  arrived after the lock of {month}"))
                            .unwrap_or_default();
                        out!(
                            "  {}  {:<16} {} → {}  (device {}){late}",
                            e.at.format("%Y-%m-%d %H:%M:%S"),
                            e.field.as_str(),
                            e.old_value.as_deref().unwrap_or("—"),
                            e.new_value.as_deref().unwrap_or("—"),
                            short(e.device)
                        )?;
                    }
                }
                for p in pts.unwrap_or_default() {
                    out!(
                        "  {:>5} {} {:.6},{:.6}{}",
                        p.seq,
                        p.ping.at.format("%H:%M:%S"),
                        p.ping.lat,
                        p.ping.lon,
                        if p.counted {
                            ""
                        } else {
                            " (not counted: poor accuracy)"
                        }
                    )?;
                }
            }
        }
        TripCmd::Classify {
            id,
            purpose,
            partner,
        } => {
            let purpose: Purpose = purpose.parse().map_err(bad)?;
            let t = core.classify_trip(&id, purpose, partner).await?;
            if json {
                output::json(&t)?;
            } else {
                out!("{}", trip_line(&t))?;
            }
        }
        TripCmd::Edit {
            id,
            field,
            value,
            clear,
        } => {
            let field = match field {
                FieldArg::Purpose => TripField::Purpose,
                FieldArg::Partner => TripField::BusinessPartner,
                FieldArg::Note => TripField::Note,
                FieldArg::StartAddress => TripField::StartAddress,
                FieldArg::EndAddress => TripField::EndAddress,
                FieldArg::Car => TripField::Car,
            };
            let value = if clear { None } else { value };
            let t = core.edit_trip(&id, field, value).await?;
            if json {
                output::json(&t)?;
            } else {
                out!("{}", trip_line(&t))?;
            }
        }
        TripCmd::Odometer { id, start, end } => {
            if start.is_none() && end.is_none() {
                return Err(bad("give --start KM and/or --end KM"));
            }
            let mut detail = None;
            if let Some(km) = start {
                detail = Some(core.set_trip_odometer(&id, TripEnd::Start, km).await?);
            }
            if let Some(km) = end {
                detail = Some(core.set_trip_odometer(&id, TripEnd::End, km).await?);
            }
            if let Some(d) = detail {
                if json {
                    output::json(&d)?;
                } else {
                    out!("odometer recorded for trip {}", d.trip.id)?;
                }
            }
        }
        cmd @ (TripCmd::Discard { .. }
        | TripCmd::Restore { .. }
        | TripCmd::Merge { .. }
        | TripCmd::Split { .. }) => crate::trips::run(core, cmd, json).await?,
    }
    Ok(())
}

async fn import(core: &Core, args: ImportArgs, json: bool) -> anyhow::Result<()> {
    let format = args
        .format
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: tacho_model::import::UnknownTrackFormat| bad(e.to_string()))?;
    let bar = progress_bar(json, "points");
    let summary = core
        .import_file(
            &args.file,
            ImportOptions {
                format,
                car: args.car,
                allow_overlap: args.allow_overlap,
            },
            |p| {
                bar.set_length(p.total as u64);
                bar.set_position(p.done as u64);
            },
        )
        .await;
    bar.finish_and_clear();
    let summary = summary.with_context(|| format!("importing {}", args.file.display()))?;
    if !json {
        // Under --json they are in the summary's `warnings`.
        for warning in &summary.warnings {
            eprintln!("warning: {warning}");
        }
    }
    if json {
        output::json(&summary)?;
    } else {
        if summary.segments_already_imported > 0 {
            out!(
                "{} track(s) in this file were imported before; skipped",
                summary.segments_already_imported
            )?;
        }
        out!(
            "imported {} trip(s) from {} points ({} stored, {} ignored, {} outliers dropped)",
            summary.trips.len(),
            summary.points_in_file,
            summary.points_stored,
            summary.points_ignored,
            summary.outliers
        )?;
        for id in &summary.trips {
            let t = core.trip(&id.to_string()).await?.trip;
            out!("  {}", trip_line(&t))?;
        }
    }
    Ok(())
}

async fn timer(core: &Core, cmd: TimerCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        TimerCmd::Start {
            project,
            description,
            tags,
        } => {
            let e = core
                .start_timer(project.as_deref(), &description, tags)
                .await?;
            if json {
                output::json(&e)?;
            } else {
                out!("timer started at {}", e.start.format("%H:%M:%S"))?;
            }
        }
        TimerCmd::Stop => {
            let e = core.stop_timer().await?;
            if json {
                output::json(&e)?;
            } else {
                let secs = e.stop.map_or(0, |s| (s - e.start).num_seconds());
                out!("timer stopped after {}", hm(secs))?;
            }
        }
        TimerCmd::Status => {
            let s = core.timer_status().await?;
            if json {
                output::json(&s)?;
            } else {
                match &s.running {
                    Some(e) => out!(
                        "running {} on {}{}",
                        hm(s.elapsed_s),
                        s.project
                            .as_ref()
                            .map_or("(no project)", |p| p.name.as_str()),
                        if e.description.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", e.description)
                        }
                    )?,
                    None => out!("no timer running")?,
                }
                out!(
                    "today {} (rounded {})",
                    hm(s.today_s),
                    hm(s.today_rounded_s)
                )?;
            }
        }
    }
    Ok(())
}

async fn entry(core: &Core, cmd: EntryCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        EntryCmd::Add {
            project,
            start,
            stop,
            description,
            tags,
            trip,
            billable,
        } => {
            let now = core.now();
            let e = core
                .add_entry(NewEntry {
                    project,
                    description,
                    start: start
                        .as_deref()
                        .map(|s| parse_instant(s, now))
                        .transpose()?,
                    stop: stop.as_deref().map(|s| parse_instant(s, now)).transpose()?,
                    tags,
                    billable,
                    trip,
                })
                .await?;
            if json {
                output::json(&e)?;
            } else {
                out!("entry added {}", e.id)?;
            }
        }
        EntryCmd::List { from, to, project } => {
            let project = match project {
                Some(p) => Some(core.find_project(&p).await?.id),
                None => None,
            };
            let entries = core
                .entries(EntryFilter {
                    from: day_start(from.as_deref())?,
                    until: day_start(to.as_deref())?,
                    project,
                })
                .await?;
            let flagged = overlapping(&entries, core.now());
            if json {
                // Each entry's state on every connection it was pushed to or pulled from, as
                // last synced (`pending` until the relay has pushed it).
                let links = core.connector_links().await?;
                let items: Vec<_> = entries
                    .iter()
                    .map(|e| {
                        let mut v = serde_json::to_value(e).unwrap_or_default();
                        v["overlaps"] = json!(flagged.contains(&e.id));
                        v["connections"] = json!(
                            links
                                .iter()
                                .filter(|l| l.entry_id == e.id.0)
                                .map(|l| json!({
                                    "connection": l.connection_name,
                                    "service": l.service,
                                    "state": l.state,
                                    "remote_id": l.remote_id,
                                    "synced_at": l.synced_at,
                                    "message": l.message,
                                }))
                                .collect::<Vec<_>>()
                        );
                        v
                    })
                    .collect();
                output::json(&items)?;
            } else {
                let projects = core.projects().await?;
                for e in &entries {
                    let name = e
                        .project_id
                        .and_then(|id| projects.iter().find(|p| p.id == id))
                        .map_or("(no project)", |p| p.name.as_str());
                    out!(
                        "{}  {} → {}  {:>6}  {:<16} {}{}",
                        short(e.id),
                        e.start.format("%Y-%m-%d %H:%M"),
                        e.stop
                            .map(|s| s.format("%H:%M").to_string())
                            .unwrap_or_else(|| "running".into()),
                        hm(e.duration(core.now()).num_seconds()),
                        name,
                        e.description,
                        if flagged.contains(&e.id) {
                            "  ⚠ overlaps"
                        } else {
                            ""
                        }
                    )?;
                }
            }
        }
        EntryCmd::Import(args) => entry_import(core, args, json).await?,
        other => crate::edit::entry(core, other, json).await?,
    }
    Ok(())
}

async fn entry_import(core: &Core, args: EntryImportArgs, json: bool) -> anyhow::Result<()> {
    let format = args
        .format
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: tacho_model::import::entries::UnknownEntryFormat| bad(e.to_string()))?;
    let bar = progress_bar(json, "rows");
    let summary = core
        .import_entries_file(
            &args.file,
            EntryImportOptions {
                format,
                time_zone: args.timezone,
                dry_run: args.dry_run,
            },
            |p| {
                bar.set_length(p.total as u64);
                bar.set_position(p.done as u64);
            },
        )
        .await;
    bar.finish_and_clear();
    let s = summary.with_context(|| format!("importing {}", args.file.display()))?;
    if json {
        output::json(&s)?;
    } else {
        out!(
            "read {} row(s) as {}{}, wall times in {}",
            s.rows,
            s.format,
            if s.detected {
                " (detected from the header)"
            } else {
                ""
            },
            s.time_zone
        )?;
        let verb = if s.dry_run { "would create" } else { "created" };
        out!(
            "{}{verb} {}, already present {}, projects created {}{}",
            if s.dry_run {
                "dry run, nothing stored: "
            } else {
                ""
            },
            s.created,
            s.already_present,
            s.projects_created.len(),
            if s.projects_created.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.projects_created.join(", "))
            }
        )?;
    }
    Ok(())
}

/// A progress bar on stderr, drawn only when stderr is a terminal and output is not JSON.
fn progress_bar(json: bool, unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    if !json && std::io::stderr().is_terminal() {
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{spinner}} importing [{{bar:30}}] {{pos}}/{{len}} {unit} ({{eta}})"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

async fn project(core: &Core, cmd: ProjectCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        ProjectCmd::Add {
            name,
            client,
            billable,
            rounding,
        } => {
            let rounding: Rounding = rounding.parse().map_err(bad)?;
            let p = core.add_project(&name, client, billable, rounding).await?;
            if json {
                output::json(&p)?;
            } else {
                out!("added project {} {}", p.name, p.id)?;
            }
        }
        ProjectCmd::List { all } => {
            let projects = core.project_list(all).await?;
            if json {
                output::json(&projects)?;
            } else {
                for p in projects {
                    out!(
                        "{:<20} {:<16} {:<9} rounding {}{}",
                        p.name,
                        p.client.unwrap_or_default(),
                        if p.billable { "billable" } else { "" },
                        p.rounding,
                        if p.archived { "  (archived)" } else { "" }
                    )?;
                }
            }
        }
        other => crate::edit::project(core, other, json).await?,
    }
    Ok(())
}

async fn period(core: &Core, cmd: PeriodCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        PeriodCmd::Lock { month } => {
            let newly = core.lock_period(&month).await?;
            if json {
                output::json(&json!({ "month": month, "newly_locked": newly }))?;
            } else if newly {
                out!("{month} locked")?;
            } else {
                out!("{month} was already locked")?;
            }
        }
        PeriodCmd::List => {
            let months = core.locked_periods().await?;
            if json {
                output::json(&months)?;
            } else {
                for m in months {
                    out!("{m}")?;
                }
            }
        }
    }
    Ok(())
}

async fn report(core: &Core, cmd: ReportCmd) -> anyhow::Result<()> {
    let (bytes, output) = match cmd {
        ReportCmd::Mileage {
            car,
            period,
            format,
            output,
        } => (
            core.mileage_report(&car, &period, format.into()).await?,
            output,
        ),
        ReportCmd::Hours {
            period,
            format,
            output,
        } => (core.hours_report(&period, format.into()).await?, output),
    };
    match output {
        Some(path) => {
            std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?
        }
        None => output::write_bytes(&bytes)?,
    }
    Ok(())
}

async fn db(
    core: &Core,
    cmd: DbCmd,
    database: Option<&std::path::Path>,
    json: bool,
) -> anyhow::Result<()> {
    match cmd {
        DbCmd::Check => {
            let problems = core.integrity_check().await?;
            if json {
                output::json(&json!({ "ok": problems.is_empty(), "problems": problems }))?;
            } else if problems.is_empty() {
                out!("ok")?;
            } else {
                for p in &problems {
                    out!("{p}")?;
                }
            }
            if !problems.is_empty() {
                anyhow::bail!("the database failed its integrity check");
            }
        }
        DbCmd::Info => {
            // The same count as `sync --status` (the store's outbox_len): 0 right after a sync.
            let status = core.sync_status().await?;
            let path = database.map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned()));
            let info = json!({
                "database": path.as_ref().map(|p| p.display().to_string()),
                "device": core.device()?.to_string(),
                "outbox_ops": core.outbox_total().await?,
                "pending_ops": status.pending_ops,
                "parked_ops": status.parked_ops,
            });
            if json {
                output::json(&info)?;
            } else {
                if let Some(path) = &path {
                    out!("database   {}", path.display())?;
                }
                out!("device     {}", info["device"].as_str().unwrap_or_default())?;
                out!("waiting    {} change(s) to sync", status.pending_ops)?;
                if status.parked_ops > 0 {
                    out!(
                        "parked     {} change(s) refused by the relay (see `tacho sync --status`)",
                        status.parked_ops
                    )?;
                }
                out!(
                    "written    {} op(s) in all (kept after they are pushed)",
                    info["outbox_ops"]
                )?;
            }
        }
    }
    Ok(())
}

/// The password from `TACHO_PASSWORD`, else a prompt on the terminal.
fn password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("TACHO_PASSWORD") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err(bad(
            "no password: set TACHO_PASSWORD or run in a terminal to be asked",
        ));
    }
    Ok(rpassword::prompt_password("password: ")?)
}

async fn sign_in(core: &Core, args: SignInArgs, signup: bool, json: bool) -> anyhow::Result<()> {
    if let Some(provider) = &args.oidc {
        return oidc_sign_in(core, &args, provider, json).await;
    }
    let email = args
        .email
        .as_deref()
        .ok_or_else(|| bad("--email or --oidc is required"))?;
    let password = password()?;
    let status = if signup {
        core.signup(&args.relay, email, &password).await?
    } else {
        core.login(&args.relay, email, &password).await?
    };
    if json {
        output::json(&status)?;
    } else {
        out!(
            "signed in to {} as {} ({} change(s) waiting to sync)",
            args.relay,
            email,
            status.pending_ops
        )?;
    }
    Ok(())
}

/// RFC 8252 loopback sign-in: the URL is printed (and opened with `--open`), the browser's
/// redirect comes back to 127.0.0.1, and the session is stored like a password login's.
async fn oidc_sign_in(
    core: &Core,
    args: &SignInArgs,
    provider: &str,
    json: bool,
) -> anyhow::Result<()> {
    let login = core.oidc_loopback(&args.relay, provider).await?;
    let url = login.authorization_url().to_owned();
    if json {
        out!("{}", json!({ "authorization_url": url }))?;
    } else {
        out!("open this address in a browser to sign in with {provider}:")?;
        out!("{url}")?;
        out!("waiting for the browser on {} …", login.redirect_uri())?;
    }
    output::flush()?;
    if args.open {
        open_in_browser(&url);
    }
    let status = login
        .wait(core, std::time::Duration::from_secs(args.timeout_s.max(1)))
        .await?;
    if json {
        output::json(&status)?;
    } else {
        out!(
            "signed in to {} with {provider} ({} change(s) waiting to sync)",
            args.relay,
            status.pending_ops
        )?;
    }
    Ok(())
}

/// Hands `url` to the system's opener (open, rundll32, xdg-open); a failure only means the
/// person opens it by hand.
fn open_in_browser(url: &str) {
    let mut cmd = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        // Not `cmd /C start`: cmd would cut the URL at its first `&`.
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    let spawned = cmd
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        eprintln!("could not open a browser ({e}); open the address above by hand");
    }
}

async fn sync(core: &Core, args: SyncArgs, json: bool) -> anyhow::Result<()> {
    if args.status {
        let status = core.sync_status().await?;
        let parked = core.parked_ops().await?;
        if json {
            let parked: Vec<_> = parked
                .iter()
                .map(|p| json!({ "op": p.op, "code": p.code, "message": p.message, "parked_at": p.parked_at }))
                .collect();
            output::json(&json!({ "status": status, "parked": parked }))?;
        } else {
            match &status.relay_url {
                Some(url) => out!("relay      {url}")?,
                None => out!("not signed in")?,
            }
            out!("waiting    {} change(s)", status.pending_ops)?;
            if let Some(at) = status.last_sync_at {
                out!("last sync  {}", at.to_rfc3339())?;
            }
            if let Some(e) = &status.last_error {
                out!("last error {e}")?;
            }
            for p in &parked {
                out!(
                    "parked     {} {} #{}: {} ({})",
                    p.op.entity.as_str(),
                    short(p.op.entity_id),
                    p.op.device_seq,
                    p.message,
                    p.code
                )?;
            }
        }
        return Ok(());
    }
    if args.watch {
        if !json {
            eprintln!("syncing continuously; press Ctrl-C to stop");
        }
        tokio::select! {
            r = core.sync_forever(25) => r?,
            _ = tokio::signal::ctrl_c() => {}
        }
        return Ok(());
    }
    let report = core.sync_once().await?;
    if json {
        output::json(&report)?;
    } else {
        out!(
            "synced: pushed {}, pulled {} ({} changed here){}",
            report.pushed,
            report.pulled,
            report.changed,
            if report.parked > 0 {
                format!(
                    ", {} refused by the relay and parked (see `tacho sync --status`)",
                    report.parked
                )
            } else {
                String::new()
            }
        )?;
        if report.refused > 0 {
            eprintln!(
                "warning: {} pulled op(s) break the shared data rules and were ignored here (see the log)",
                report.refused
            );
        }
    }
    Ok(())
}

async fn session(core: &Core, cmd: SessionCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        SessionCmd::Mint { device, name } => {
            let handoff = core.mint_device_session(&device, &name).await?;
            // The session is the output, with or without --json.
            output::json(&handoff)?;
        }
        SessionCmd::Adopt { file } => {
            let raw = if file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                s
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let handoff: tacho_core::DeviceHandoff = serde_json::from_str(&raw)
                .map_err(|e| bad(format!("not a session from `tacho session mint`: {e}")))?;
            let status = core.adopt_device_session(handoff).await?;
            if json {
                output::json(&status)?;
            } else {
                out!("signed in to {}", status.relay_url.unwrap_or_default())?;
            }
        }
    }
    Ok(())
}
