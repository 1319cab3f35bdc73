//! The one row writer of each synced table. Local writes (after their own
//! checks) and ops pulled from the relay (projected from the merged state,
//! see `sync.rs`) both go through these, so a row has the same columns,
//! encoding and replacement rules whichever way it arrived, and a fix to a
//! table's write lands on both paths at once.
//!
//! Trip headers have their writer in `trips.rs` (`Writer::write_trip_row`),
//! shared the same way.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use tacho_model::car::{Car, OdometerReading};
use tacho_model::id::{DeviceId, ReadingId, TripId};
use tacho_model::place::Place;
use tacho_model::trip::TripEdit;
use tacho_model::work::{Project, TimeEntry, TimeEntryEdit};

use crate::Result;
use crate::row::{date, enum_str, ms};
use crate::trips::TripPoint;

/// What a writer does when a row with the same key exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Put {
    /// A new row made on this device: an existing key is an error (a local
    /// create never reuses an id, and an append never rewrites history).
    New,
    /// From the merged state of pulled ops: entities overwrite the row,
    /// appends keep what is there (a re-delivered item changes nothing).
    Merge,
}

impl Put {
    /// The conflict clause for an entity table keyed by `id`.
    fn upsert(self, set: &str) -> String {
        match self {
            Put::New => String::new(),
            Put::Merge => format!(" ON CONFLICT (id) DO UPDATE SET {set}"),
        }
    }

    /// The conflict clause for an append-only table.
    fn append(self) -> &'static str {
        match self {
            Put::New => "",
            Put::Merge => " ON CONFLICT DO NOTHING",
        }
    }
}

/// Writes a car row.
pub(crate) fn put_car(conn: &Connection, car: &Car, deleted: bool, put: Put) -> Result<()> {
    let sql = format!(
        "INSERT INTO car (id, name, make, model, plate, available_from, available_to, connect_hint, deleted, retired)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10){}",
        put.upsert(
            "name = excluded.name, make = excluded.make, model = excluded.model,
             plate = excluded.plate, available_from = excluded.available_from,
             available_to = excluded.available_to, connect_hint = excluded.connect_hint,
             deleted = excluded.deleted, retired = excluded.retired"
        )
    );
    conn.prepare_cached(&sql)?.execute(params![
        car.id.to_string(),
        car.name,
        car.make,
        car.model,
        car.plate,
        date(car.available_from),
        date(car.available_to),
        car.connect_hint,
        deleted,
        car.retired
    ])?;
    Ok(())
}

/// Writes a place row.
pub(crate) fn put_place(conn: &Connection, p: &Place, deleted: bool, put: Put) -> Result<()> {
    let sql = format!(
        "INSERT INTO place (id, name, kind, lat, lon, radius_m, address, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8){}",
        put.upsert(
            "name = excluded.name, kind = excluded.kind, lat = excluded.lat,
             lon = excluded.lon, radius_m = excluded.radius_m, address = excluded.address,
             deleted = excluded.deleted"
        )
    );
    conn.prepare_cached(&sql)?.execute(params![
        p.id.to_string(),
        p.name,
        enum_str(&p.kind)?,
        p.center.lat,
        p.center.lon,
        p.radius_m,
        p.address,
        deleted
    ])?;
    Ok(())
}

/// Writes a project row.
pub(crate) fn put_project(conn: &Connection, p: &Project, deleted: bool, put: Put) -> Result<()> {
    let sql = format!(
        "INSERT INTO project (id, name, client, billable, rounding, deleted, archived)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7){}",
        put.upsert(
            "name = excluded.name, client = excluded.client, billable = excluded.billable,
             rounding = excluded.rounding, deleted = excluded.deleted, archived = excluded.archived"
        )
    );
    conn.prepare_cached(&sql)?.execute(params![
        p.id.to_string(),
        p.name,
        p.client,
        p.billable,
        p.rounding.to_string(),
        deleted,
        p.archived
    ])?;
    Ok(())
}

/// Writes a time entry row (the running-timer rule is the caller's).
pub(crate) fn put_entry(conn: &Connection, e: &TimeEntry, deleted: bool, put: Put) -> Result<()> {
    let sql = format!(
        "INSERT INTO time_entry (id, project_id, description, start, stop, tags, billable, source, trip_id, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10){}",
        put.upsert(
            "project_id = excluded.project_id, description = excluded.description,
             start = excluded.start, stop = excluded.stop, tags = excluded.tags,
             billable = excluded.billable, source = excluded.source, trip_id = excluded.trip_id,
             deleted = excluded.deleted"
        )
    );
    conn.prepare_cached(&sql)?.execute(params![
        e.id.to_string(),
        e.project_id.map(|p| p.to_string()),
        e.description,
        ms(e.start),
        e.stop.map(ms),
        serde_json::to_string(&e.tags)?,
        e.billable,
        enum_str(&e.source)?,
        e.trip_id.map(|t| t.to_string()),
        deleted
    ])?;
    Ok(())
}

/// Stops a time entry at `stop` (the timer's stop, and the running-timer
/// rule after a pulled page).
pub(crate) fn set_entry_stop(conn: &Connection, id: &str, stop: DateTime<Utc>) -> Result<()> {
    conn.prepare_cached("UPDATE time_entry SET stop = ?2 WHERE id = ?1")?
        .execute(params![id, ms(stop)])?;
    Ok(())
}

/// Writes an odometer reading. A trip end holds one reading: a reading
/// for a trip end replaces the one there before, and of two readings made
/// concurrently on different devices the larger (later, UUIDv7) id stays on
/// every replica, whichever arrives first.
pub(crate) fn put_reading(conn: &Connection, r: &OdometerReading, put: Put) -> Result<()> {
    if let Some((trip, end)) = r.trip {
        let (trip, end) = (trip.to_string(), enum_str(&end)?);
        if put == Put::Merge {
            let newer: bool = conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM odometer_reading
                     WHERE trip_id = ?1 AND trip_end = ?2 AND id > ?3)",
                )?
                .query_row(params![trip, end, r.id.to_string()], |row| row.get(0))?;
            if newer {
                return Ok(());
            }
        }
        conn.prepare_cached(
            "DELETE FROM odometer_reading WHERE trip_id = ?1 AND trip_end = ?2 AND id <> ?3",
        )?
        .execute(params![trip, end, r.id.to_string()])?;
    }
    let sql = format!(
        "INSERT INTO odometer_reading (id, car_id, at, odometer_m, source, trip_id, trip_end)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7){}",
        put.upsert(
            "car_id = excluded.car_id, at = excluded.at, odometer_m = excluded.odometer_m,
             source = excluded.source, trip_id = excluded.trip_id, trip_end = excluded.trip_end"
        )
    );
    conn.prepare_cached(&sql)?.execute(params![
        r.id.to_string(),
        r.car_id.to_string(),
        ms(r.at),
        r.odometer_m,
        enum_str(&r.source)?,
        r.trip.map(|(t, _)| t.to_string()),
        r.trip.map(|(_, e)| enum_str(&e)).transpose()?,
    ])?;
    Ok(())
}

/// Removes a deleted odometer reading.
pub(crate) fn delete_reading(conn: &Connection, id: ReadingId) -> Result<()> {
    conn.prepare_cached("DELETE FROM odometer_reading WHERE id = ?1")?
        .execute([id.to_string()])?;
    Ok(())
}

/// Appends a GPS point; returns whether it was new.
pub(crate) fn put_point(
    conn: &Connection,
    trip: TripId,
    point: &TripPoint,
    put: Put,
) -> Result<bool> {
    let p = &point.ping;
    let sql = format!(
        "INSERT INTO trip_point (trip_id, seq, at, lat, lon, accuracy_m, speed_mps, heading_deg, altitude_m, counted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10){}",
        put.append()
    );
    let n = conn.prepare_cached(&sql)?.execute(params![
        trip.to_string(),
        point.seq,
        ms(p.at),
        p.lat,
        p.lon,
        p.accuracy_m,
        p.speed_mps,
        p.heading_deg,
        p.altitude_m,
        point.counted
    ])?;
    Ok(n > 0)
}

/// Appends an entry to a trip's edit history; returns whether it was new.
pub(crate) fn put_edit(conn: &Connection, edit: &TripEdit, put: Put) -> Result<bool> {
    let sql = format!(
        "INSERT INTO trip_edit (trip_id, field, old_value, new_value, at, device, arrived_after_lock)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7){}",
        put.append()
    );
    let n = conn.prepare_cached(&sql)?.execute(params![
        edit.trip_id.to_string(),
        edit.field.as_str(),
        edit.old_value,
        edit.new_value,
        ms(edit.at),
        edit.device.to_string(),
        edit.arrived_after_lock
    ])?;
    Ok(n > 0)
}

/// Appends an entry to a time entry's edit history; returns whether it was new.
pub(crate) fn put_entry_edit(conn: &Connection, edit: &TimeEntryEdit, put: Put) -> Result<bool> {
    let sql = format!(
        "INSERT INTO time_entry_edit (entry_id, field, old_value, new_value, at, device, arrived_after_lock)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7){}",
        put.append()
    );
    let n = conn.prepare_cached(&sql)?.execute(params![
        edit.entry_id.to_string(),
        edit.field.as_str(),
        edit.old_value,
        edit.new_value,
        ms(edit.at),
        edit.device.to_string(),
        edit.arrived_after_lock
    ])?;
    Ok(n > 0)
}

/// Locks a month; returns false when it already was (locking is idempotent
/// on both paths).
pub(crate) fn put_period_lock(
    conn: &Connection,
    month: &str,
    at: DateTime<Utc>,
    device: DeviceId,
) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT INTO period_lock (month, locked_at, device) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![month, ms(at), device.to_string()])?;
    Ok(n > 0)
}
