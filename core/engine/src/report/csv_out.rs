//! CSV writers. Every record starts with a `kind` column (`car`, `header`,
//! `trip`, `unexplained`, `total`, `change`, …) so one file can carry the
//! header block, the log, the totals and the full edit history, and still
//! be filtered by any tool. Records have different lengths by design.

use chrono::{DateTime, NaiveDateTime, Utc};
use tacho_model::report::{
    GapRow, LogRow, MileageLog, OdometerValue, Timesheet, TripRow, format_km,
};

use super::{ReportError, yes_no};

type Out = csv::Writer<Vec<u8>>;

fn writer() -> Out {
    csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new())
}

/// Writes one record; a slice of `&str` lets `&String` fields coerce.
fn rec(w: &mut Out, fields: &[&str]) -> Result<(), ReportError> {
    w.write_record(fields)?;
    Ok(())
}

fn finish(w: Out) -> Result<Vec<u8>, ReportError> {
    w.into_inner()
        .map_err(|e| ReportError::CsvFlush(e.into_error()))
}

fn local(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn opt(s: Option<&str>) -> &str {
    s.unwrap_or("")
}

/// Column titles of the log table (after `kind`).
pub(super) const LOG_COLUMNS: [&str; 19] = [
    "date",
    "start",
    "end",
    "time_zone",
    "odometer_start_km",
    "odometer_start_source",
    "odometer_end_km",
    "odometer_end_source",
    "start_place",
    "end_place",
    "purpose",
    "business_partner",
    "purpose_text",
    "note",
    "gps_km",
    "km",
    "changes",
    "trip_id",
    "odometer_gps_mismatch",
];

/// What the history says of an edit that reached a locked month after its lock.
pub(super) fn lock_note(arrived_after_lock: bool) -> &'static str {
    if arrived_after_lock {
        "arrived after the lock"
    } else {
        ""
    }
}

/// "reading" for a real reading, "derived" for an estimate, "" if unknown.
pub(super) fn odometer_source(v: Option<&OdometerValue>) -> &'static str {
    match v {
        Some(v) if v.derived => "derived",
        Some(_) => "reading",
        None => "",
    }
}

pub(super) fn zone_label(t: &TripRow) -> String {
    if t.time_zone_known {
        t.time_zone.clone()
    } else {
        format!("UTC (unknown zone {})", t.time_zone)
    }
}

fn trip_record(t: &TripRow) -> Vec<String> {
    let km = |v: Option<OdometerValue>| v.map(|v| format_km(v.m)).unwrap_or_default();
    vec![
        "trip".into(),
        t.date.to_string(),
        local(t.start_local),
        local(t.end_local),
        zone_label(t),
        km(t.odometer_start),
        odometer_source(t.odometer_start.as_ref()).into(),
        km(t.odometer_end),
        odometer_source(t.odometer_end.as_ref()).into(),
        t.start_place.clone(),
        t.end_place.clone(),
        t.purpose.as_str().into(),
        opt(t.business_partner.as_deref()).into(),
        t.purpose_text.clone(),
        opt(t.note.as_deref()).into(),
        format_km(t.gps_m),
        format_km(t.distance_m),
        t.edits.len().to_string(),
        t.trip_id.to_string(),
        yes_no(t.odometer_gps_mismatch).into(),
    ]
}

fn gap_record(kind: &str, g: &GapRow) -> Vec<String> {
    let mut r = vec![
        kind.to_owned(),
        g.date.to_string(),
        local(g.from_local),
        local(g.to_local),
        String::new(),
        format_km(g.gap.from_odometer_m),
        if g.gap.from_derived {
            "derived"
        } else {
            "reading"
        }
        .into(),
        format_km(g.gap.to_odometer_m),
        "reading".into(),
    ];
    r.extend(std::iter::repeat_n(String::new(), 6));
    r.push(String::new()); // gps_km
    r.push(format_km(g.gap.distance_m));
    r
}

pub(super) fn mileage(log: &MileageLog) -> Result<Vec<u8>, ReportError> {
    let mut w = writer();
    rec(&mut w, &["report", "mileage_log"])?;
    rec(&mut w, &["car", log.car.name.as_str()])?;
    rec(&mut w, &["make", opt(log.car.make.as_deref())])?;
    rec(&mut w, &["model", opt(log.car.model.as_deref())])?;
    rec(&mut w, &["plate", log.car.plate.as_str()])?;
    rec(
        &mut w,
        &[
            "period",
            &log.period.from.to_string(),
            &log.period.to.to_string(),
        ],
    )?;
    rec(
        &mut w,
        &["locked", yes_no(log.locked), &log.locked_months.join(" ")],
    )?;
    w.write_record(std::iter::once("header").chain(LOG_COLUMNS.iter().copied()))?;
    for row in &log.rows {
        match row {
            LogRow::Trip(t) => w.write_record(trip_record(t))?,
            LogRow::Unexplained(g) => w.write_record(gap_record("unexplained", g))?,
            LogRow::Backwards(g) => w.write_record(gap_record("backwards", g))?,
        }
    }

    let t = &log.totals;
    rec(&mut w, &["total", "trips", &t.trips.to_string()])?;
    for (name, m) in [
        ("business_km", t.business_m),
        ("commute_km", t.commute_m),
        ("private_km", t.private_m),
        ("unclassified_km", t.unclassified_m),
        ("trips_km", t.total_m),
        ("unexplained_km", t.unexplained_m),
        ("backwards_km", t.backwards_m),
    ] {
        rec(&mut w, &["total", name, &format_km(m)])?;
    }

    let p = &log.private_limit;
    let ytd = "year_to_date";
    rec(
        &mut w,
        &[
            ytd,
            "span",
            &p.span.from.to_string(),
            &p.span.to.to_string(),
        ],
    )?;
    rec(
        &mut w,
        &[
            ytd,
            "private_km_for_500km_limit_excl_commute",
            &format_km(p.private_m),
        ],
    )?;
    rec(&mut w, &[ytd, "private_limit_km", &format_km(p.limit_m)])?;
    rec(&mut w, &[ytd, "private_limit_exceeded", yes_no(p.exceeded)])?;
    rec(
        &mut w,
        &[ytd, "unclassified_km", &format_km(p.unclassified_m)],
    )?;
    rec(
        &mut w,
        &[ytd, "unexplained_km", &format_km(p.unexplained_m)],
    )?;
    rec(
        &mut w,
        &[
            ytd,
            "private_limit_exceeded_if_open_km_private",
            yes_no(p.exceeded_worst_case),
        ],
    )?;
    let v = &log.vat_private_use;
    rec(
        &mut w,
        &[
            ytd,
            "vat_private_km_incl_commute",
            &format_km(v.private_and_commute_m),
        ],
    )?;
    rec(&mut w, &[ytd, "vat_total_km", &format_km(v.total_m)])?;
    rec(
        &mut w,
        &[ytd, "vat_private_share_percent", v.share_percent.as_str()],
    )?;

    rec(
        &mut w,
        &[
            "change_header",
            "trip_id",
            "trip_date",
            "trip_start",
            "field",
            "old_value",
            "new_value",
            "changed_at_utc",
            "device",
            "lock_note",
        ],
    )?;
    for row in &log.rows {
        let LogRow::Trip(t) = row else { continue };
        for e in &t.edits {
            rec(
                &mut w,
                &[
                    "change",
                    &t.trip_id.to_string(),
                    &t.date.to_string(),
                    &local(t.start_local),
                    e.field.as_str(),
                    opt(e.old_value.as_deref()),
                    opt(e.new_value.as_deref()),
                    &utc(e.at),
                    &e.device.to_string(),
                    lock_note(e.arrived_after_lock),
                ],
            )?;
        }
    }
    finish(w)
}

pub(super) fn timesheet(sheet: &Timesheet) -> Result<Vec<u8>, ReportError> {
    let mut w = writer();
    rec(&mut w, &["report", "timesheet"])?;
    rec(
        &mut w,
        &[
            "period",
            &sheet.period.from.to_string(),
            &sheet.period.to.to_string(),
        ],
    )?;
    let zone = if sheet.time_zone_known {
        sheet.time_zone.clone()
    } else {
        format!("UTC (unknown zone {})", sheet.time_zone)
    };
    rec(&mut w, &["time_zone", zone.as_str()])?;
    rec(&mut w, &["running_counted_until_utc", &utc(sheet.now)])?;
    rec(
        &mut w,
        &[
            "header",
            "date",
            "project",
            "client",
            "description",
            "tags",
            "start",
            "stop",
            "running",
            "raw_seconds",
            "raw_hours",
            "rounded_seconds",
            "rounded_hours",
            "rounding",
            "billable",
            "overlaps",
            "trip_id",
            "entry_id",
            "lock_note",
            "edits",
        ],
    )?;
    for r in &sheet.rows {
        rec(
            &mut w,
            &[
                "entry",
                &r.date.to_string(),
                opt(r.project.as_deref()),
                opt(r.client.as_deref()),
                r.description.as_str(),
                &r.tags.join("; "),
                &local(r.start_local),
                &local(r.stop_local),
                yes_no(r.running),
                &r.raw.seconds.to_string(),
                r.raw.hours.as_str(),
                &r.rounded.seconds.to_string(),
                r.rounded.hours.as_str(),
                &r.rounding.to_string(),
                yes_no(r.billable),
                yes_no(r.overlaps),
                &r.trip_id.map(|t| t.to_string()).unwrap_or_default(),
                &r.entry_id.to_string(),
                lock_note(r.arrived_after_lock),
                &r.history.len().to_string(),
            ],
        )?;
    }
    rec(
        &mut w,
        &[
            "project_header",
            "project",
            "client",
            "entries",
            "raw_seconds",
            "raw_hours",
            "rounded_seconds",
            "rounded_hours",
            "billable_raw_hours",
            "billable_rounded_hours",
        ],
    )?;
    for p in &sheet.projects {
        rec(
            &mut w,
            &[
                "project",
                opt(p.project.as_deref()),
                opt(p.client.as_deref()),
                &p.entries.to_string(),
                &p.raw.seconds.to_string(),
                p.raw.hours.as_str(),
                &p.rounded.seconds.to_string(),
                p.rounded.hours.as_str(),
                p.billable_raw.hours.as_str(),
                p.billable_rounded.hours.as_str(),
            ],
        )?;
    }
    for (name, h) in [("raw", &sheet.total_raw), ("rounded", &sheet.total_rounded)] {
        rec(
            &mut w,
            &["total", name, &h.seconds.to_string(), h.hours.as_str()],
        )?;
    }
    let c = &sheet.hour_criterion;
    rec(
        &mut w,
        &[
            "hour_criterion",
            "span",
            &c.span.from.to_string(),
            &c.span.to.to_string(),
        ],
    )?;
    rec(
        &mut w,
        &[
            "hour_criterion",
            "worked",
            &c.worked.seconds.to_string(),
            c.worked.hours.as_str(),
        ],
    )?;
    rec(
        &mut w,
        &[
            "hour_criterion",
            "required_hours",
            &c.required_hours.to_string(),
        ],
    )?;
    rec(&mut w, &["hour_criterion", "met", yes_no(c.met)])?;
    // Every edit of the entries above (who, when, old and new value), after the totals so
    // readers of the earlier sections see the layout they always did.
    rec(
        &mut w,
        &[
            "change_header",
            "entry_id",
            "entry_date",
            "field",
            "old_value",
            "new_value",
            "changed_at_utc",
            "device",
            "lock_note",
        ],
    )?;
    for r in &sheet.rows {
        for e in &r.history {
            rec(
                &mut w,
                &[
                    "change",
                    &r.entry_id.to_string(),
                    &r.date.to_string(),
                    e.field.as_str(),
                    opt(e.old_value.as_deref()),
                    opt(e.new_value.as_deref()),
                    &utc(e.at),
                    &e.device.to_string(),
                    lock_note(e.arrived_after_lock.is_some()),
                ],
            )?;
        }
    }
    finish(w)
}
