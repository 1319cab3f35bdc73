//! Trips, their GPS points, their edit history and period locks.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde_json::Value;
use tacho_model::car::TripEnd;
use tacho_model::gps::{LatLon, Ping};
use tacho_model::id::{CarId, PlaceId, TripId};
use tacho_model::lineage::{TripLineage, TripStatus};
use tacho_model::lock;
use tacho_model::op::{EntityKind, OpKind};
use tacho_model::report::tz::local_month;
use tacho_model::trip::{Decider, Purpose, Trip, TripEdit, TripField, TripState};

use crate::row::{enum_from, enum_str, from_ms, ms, opt_from_ms, parse};
use crate::tables::{Put, put_edit, put_period_lock, put_point};
use crate::{Result, Store, StoreError, Writer};

const TRIP_COLUMNS: &str = "id, car_id, state, source, car_hint, started_at, ended_at, time_zone, \
     start_lat, start_lon, end_lat, end_lon, start_address, end_address, start_place, end_place, \
     distance_m, point_count, purpose, purpose_by, business_partner, note, recovered, \
     merged_from, split_from, window_from, window_until, replaced_by";

fn lat_lon(lat: Option<f64>, lon: Option<f64>) -> Option<LatLon> {
    Some(LatLon {
        lat: lat?,
        lon: lon?,
    })
}

fn opt_parse<T: std::str::FromStr>(s: Option<String>) -> rusqlite::Result<Option<T>> {
    s.as_deref().map(parse).transpose()
}

fn opt_enum<T: serde::de::DeserializeOwned>(s: Option<String>) -> rusqlite::Result<Option<T>> {
    s.as_deref().map(enum_from).transpose()
}

fn trip_from_row(r: &Row<'_>) -> rusqlite::Result<Trip> {
    Ok(Trip {
        id: parse(&r.get::<_, String>(0)?)?,
        car_id: opt_parse(r.get(1)?)?,
        state: enum_from(&r.get::<_, String>(2)?)?,
        source: enum_from(&r.get::<_, String>(3)?)?,
        car_hint: r.get(4)?,
        started_at: from_ms(r.get(5)?)?,
        ended_at: opt_from_ms(r.get(6)?)?,
        time_zone: r.get(7)?,
        start: lat_lon(r.get(8)?, r.get(9)?),
        end: lat_lon(r.get(10)?, r.get(11)?),
        start_address: r.get(12)?,
        end_address: r.get(13)?,
        start_place: opt_parse(r.get(14)?)?,
        end_place: opt_parse(r.get(15)?)?,
        distance_m: r.get(16)?,
        point_count: r.get(17)?,
        purpose: opt_enum(r.get(18)?)?,
        purpose_by: opt_enum(r.get(19)?)?,
        business_partner: r.get(20)?,
        note: r.get(21)?,
        recovered: r.get(22)?,
    })
}

fn opt_ids(raw: Option<String>) -> rusqlite::Result<Option<Vec<TripId>>> {
    raw.map(|r| {
        serde_json::from_str(&r).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .transpose()
}

/// The lineage columns of a row read with `TRIP_COLUMNS` (from index 23 on).
fn lineage_from_row(r: &Row<'_>) -> rusqlite::Result<TripLineage> {
    Ok(TripLineage {
        merged_from: opt_ids(r.get(23)?)?,
        split_from: opt_parse(r.get(24)?)?,
        window_from: opt_from_ms(r.get(25)?)?,
        window_until: opt_from_ms(r.get(26)?)?,
        replaced_by: opt_ids(r.get(27)?)?,
    })
}

fn ids_json(ids: Option<&Vec<TripId>>) -> Result<Option<String>> {
    Ok(ids.map(serde_json::to_string).transpose()?)
}

/// One stored GPS point of a trip; its wire form is `tacho_model::wire`'s.
pub use tacho_model::wire::TripPoint;

/// Which trips to list.
#[derive(Debug, Clone, Default)]
pub struct TripFilter {
    /// Only trips starting at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only trips starting before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only this car's trips.
    pub car: Option<CarId>,
    /// Include discarded trips.
    pub include_discarded: bool,
    /// At most this many (newest first when set).
    pub limit: Option<usize>,
}

impl Writer<'_> {
    /// Refuses the write when `at` falls in a locked month, taken in
    /// `time_zone` (the trip's zone; `None` = the device's zone).
    pub fn ensure_unlocked(&self, at: DateTime<Utc>, time_zone: Option<&str>) -> Result<()> {
        let month = local_month(at, time_zone.unwrap_or(self.time_zone()));
        let locked: Option<i64> = self
            .conn()
            .prepare_cached("SELECT 1 FROM period_lock WHERE month = ?1")?
            .query_row([&month], |r| r.get(0))
            .optional()?;
        match locked {
            Some(_) => Err(StoreError::Locked { month }),
            None => Ok(()),
        }
    }

    /// Locks a month (`YYYY-MM`); later edits inside it are refused. Locking
    /// twice is harmless; a month with an active trip can't be locked.
    pub fn lock_period(&mut self, month: &str) -> Result<bool> {
        let valid = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_ok()
            && month.len() == 7;
        if !valid {
            return Err(StoreError::invalid(format!(
                "`{month}` is not a month; use YYYY-MM, e.g. 2026-03"
            )));
        }
        let mut active = self
            .conn()
            .prepare("SELECT started_at, time_zone FROM trip WHERE state = 'active'")?;
        let active_months: Vec<String> = active
            .query_map([], |r| Ok((from_ms(r.get(0)?)?, r.get::<_, String>(1)?)))?
            .map(|row| row.map(|(at, tz)| local_month(at, &tz)))
            .collect::<rusqlite::Result<_>>()?;
        drop(active);
        let active_in_month = active_months.iter().any(|m| m == month);
        if active_in_month {
            return Err(StoreError::Conflict {
                message: format!(
                    "a trip in {month} is still being recorded; end it before locking"
                ),
            });
        }
        let running: Vec<i64> = self
            .conn()
            .prepare("SELECT start FROM time_entry WHERE stop IS NULL AND deleted = 0")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for start in running {
            if local_month(from_ms(start)?, self.time_zone()) == month {
                return Err(StoreError::Conflict {
                    message: format!("a timer in {month} is still running; stop it before locking"),
                });
            }
        }
        let now = self.now();
        let device = self.device();
        let inserted = put_period_lock(self.conn(), month, now, device)?;
        if inserted {
            // The locker's zone places time entries (which have none) in the month on every replica.
            let mut fields = serde_json::Map::new();
            fields.insert(lock::MONTH_FIELD.into(), Value::from(month));
            fields.insert(
                lock::TIME_ZONE_FIELD.into(),
                Value::from(self.time_zone().to_owned()),
            );
            self.record_op(
                EntityKind::PeriodLock,
                lock::lock_id(month),
                OpKind::Upsert { fields },
            )?;
        }
        Ok(inserted)
    }

    /// Reads a trip inside this transaction.
    pub fn trip(&self, id: TripId) -> Result<Trip> {
        trip_by_id(self.conn(), id)
    }

    /// Stores a new trip header.
    pub fn insert_trip(&mut self, trip: &Trip) -> Result<()> {
        self.ensure_unlocked(trip.started_at, Some(&trip.time_zone))?;
        self.write_trip_row(trip, &TripLineage::default(), "INSERT")?;
        self.record_upsert(EntityKind::Trip, trip.id.0, trip)
    }

    /// The one writer of a trip row (header and lineage), for local writes and pulled ops alike.
    pub(crate) fn write_trip_row(&self, t: &Trip, lineage: &TripLineage, verb: &str) -> Result<()> {
        let (merged_from, replaced_by) = (
            ids_json(lineage.merged_from.as_ref())?,
            ids_json(lineage.replaced_by.as_ref())?,
        );
        self.conn()
            .prepare_cached(&format!(
                "{verb} INTO trip ({TRIP_COLUMNS}) VALUES
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23,
                  ?24, ?25, ?26, ?27, ?28)"
            ))?
            .execute(params![
                t.id.to_string(),
                t.car_id.map(|c| c.to_string()),
                enum_str(&t.state)?,
                enum_str(&t.source)?,
                t.car_hint,
                ms(t.started_at),
                t.ended_at.map(ms),
                t.time_zone,
                t.start.map(|p| p.lat),
                t.start.map(|p| p.lon),
                t.end.map(|p| p.lat),
                t.end.map(|p| p.lon),
                t.start_address,
                t.end_address,
                t.start_place.map(|p| p.to_string()),
                t.end_place.map(|p| p.to_string()),
                t.distance_m,
                t.point_count,
                t.purpose.map(|p| enum_str(&p)).transpose()?,
                t.purpose_by.map(|p| enum_str(&p)).transpose()?,
                t.business_partner,
                t.note,
                t.recovered,
                merged_from,
                lineage.split_from.map(|s| s.to_string()),
                lineage.window_from.map(ms),
                lineage.window_until.map(ms),
                replaced_by,
            ])?;
        Ok(())
    }

    /// Replaces a trip's row as the recorder finishes it (state, times,
    /// distance, ends, places, rule classification) and records the upsert.
    pub fn finish_trip(&mut self, trip: &Trip) -> Result<()> {
        let lineage = lineage_by_id(self.conn(), trip.id)?.unwrap_or_default();
        self.write_trip_row(trip, &lineage, "INSERT OR REPLACE")?;
        self.record_upsert(EntityKind::Trip, trip.id.0, trip)
    }

    /// Appends one GPS point to a trip (no op: points travel in chunks, see
    /// [`Writer::record_point_chunk`]).
    pub fn insert_point(&mut self, trip: TripId, point: &TripPoint) -> Result<()> {
        put_point(self.conn(), trip, point, Put::New)?;
        Ok(())
    }

    /// Records an append op carrying the points `from_seq..=to_seq` of a trip.
    pub fn record_point_chunk(&mut self, trip: TripId, from_seq: u32, to_seq: u32) -> Result<()> {
        let points = points_between(self.conn(), trip, from_seq, to_seq)?;
        if points.is_empty() {
            return Ok(());
        }
        let items = points.iter().map(TripPoint::to_wire).collect();
        self.record_op(EntityKind::TripPoints, trip.0, OpKind::Append { items })
    }

    /// Changes one editable field of a trip. Changes to an ended trip are kept
    /// in its append-only history; a trip in a locked month can't be changed,
    /// nor one that was discarded or replaced by a merge or split.
    /// Returns false when the value was already that.
    pub fn edit_trip(
        &mut self,
        id: TripId,
        field: TripField,
        value: Option<String>,
    ) -> Result<bool> {
        let (mut trip, lineage) = trip_and_lineage(self.conn(), id)?;
        self.ensure_unlocked(trip.started_at, Some(&trip.time_zone))?;
        if trip.state == TripState::Discarded {
            return Err(StoreError::Conflict {
                message: format!("trip {id} was discarded and can't be edited"),
            });
        }
        self.ensure_counted(id, "edited")?;
        let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let (old, column) = match field {
            TripField::Purpose => (trip.purpose.map(|p| p.as_str().to_owned()), "purpose"),
            TripField::BusinessPartner => (trip.business_partner.clone(), "business_partner"),
            TripField::Note => (trip.note.clone(), "note"),
            TripField::StartAddress => (trip.start_address.clone(), "start_address"),
            TripField::EndAddress => (trip.end_address.clone(), "end_address"),
            TripField::Car => (trip.car_id.map(|c| c.to_string()), "car_id"),
            TripField::OdometerStart | TripField::OdometerEnd => {
                return Err(StoreError::invalid(
                    "odometer values are set with set_trip_odometer",
                ));
            }
            TripField::Discarded
            | TripField::MergedInto
            | TripField::MergedFrom
            | TripField::SplitInto
            | TripField::SplitFrom => {
                return Err(StoreError::invalid(format!(
                    "`{}` is changed by discard, restore, merge or split, not by an edit",
                    field.as_str()
                )));
            }
        };
        if old == value {
            return Ok(false);
        }
        let stored = match field {
            TripField::Purpose => {
                let purpose = value
                    .as_deref()
                    .map(str::parse::<Purpose>)
                    .transpose()
                    .map_err(StoreError::invalid)?;
                let by = purpose.map(|_| Decider::User);
                trip.purpose = purpose;
                trip.purpose_by = by;
                self.record_field(
                    EntityKind::Trip,
                    id.0,
                    "purpose_by",
                    serde_json::to_value(by)?,
                )?;
                serde_json::to_value(purpose)?
            }
            TripField::Car => {
                let car = value
                    .as_deref()
                    .map(str::parse::<CarId>)
                    .transpose()
                    .map_err(|e| StoreError::invalid(e.to_string()))?;
                trip.car_id = car;
                serde_json::to_value(car)?
            }
            _ => {
                let slot = match field {
                    TripField::BusinessPartner => &mut trip.business_partner,
                    TripField::Note => &mut trip.note,
                    TripField::StartAddress => &mut trip.start_address,
                    _ => &mut trip.end_address,
                };
                slot.clone_from(&value);
                Value::from(value.clone())
            }
        };
        self.write_trip_row(&trip, &lineage, "INSERT OR REPLACE")?;
        self.record_field(EntityKind::Trip, id.0, column, stored)?;
        if trip.state == TripState::Ended {
            self.record_edit(id, field, old, value)?;
        }
        Ok(true)
    }

    /// Attaches an odometer reading (metres) to one end of a trip, keeping the
    /// change in the history when the trip has ended.
    pub fn set_trip_odometer(&mut self, id: TripId, end: TripEnd, odometer_m: i64) -> Result<()> {
        let trip = trip_by_id(self.conn(), id)?;
        self.ensure_unlocked(trip.started_at, Some(&trip.time_zone))?;
        let car_id = trip.car_id.ok_or_else(|| {
            StoreError::invalid(format!(
                "trip {id} has no car; set its car before its odometer"
            ))
        })?;
        let field = match end {
            TripEnd::Start => TripField::OdometerStart,
            TripEnd::End => TripField::OdometerEnd,
        };
        let old: Option<i64> = self
            .conn()
            .query_row(
                "SELECT odometer_m FROM odometer_reading WHERE trip_id = ?1 AND trip_end = ?2",
                params![id.to_string(), enum_str(&end)?],
                |r| r.get(0),
            )
            .optional()?;
        if old == Some(odometer_m) {
            return Ok(());
        }
        let at = match end {
            TripEnd::Start => trip.started_at,
            TripEnd::End => trip.ended_at.unwrap_or(trip.started_at),
        };
        self.add_reading(&tacho_model::car::OdometerReading {
            id: tacho_model::id::ReadingId::new(),
            car_id,
            at,
            odometer_m,
            source: tacho_model::car::ReadingSource::Manual,
            trip: Some((id, end)),
        })?;
        if trip.state == TripState::Ended {
            self.record_edit(id, field, old.map(km_text), Some(km_text(odometer_m)))?;
        }
        Ok(())
    }

    /// Marks a trip discarded: it stays (a tombstone for sync, an entry in its history,
    /// listed with `include_discarded`) and drops out of totals until restored.
    /// Returns false when it already was discarded.
    pub fn discard_trip(&mut self, id: TripId) -> Result<bool> {
        let (mut trip, lineage) = trip_and_lineage(self.conn(), id)?;
        self.ensure_unlocked(trip.started_at, Some(&trip.time_zone))?;
        if trip.state == TripState::Discarded {
            return Ok(false);
        }
        if crate::lineage::status_of(self.conn(), id)? == TripStatus::Replaced {
            return Err(self.replaced_conflict(id, "discarded")?);
        }
        let old = trip.state;
        trip.state = TripState::Discarded;
        self.write_trip_row(&trip, &lineage, "INSERT OR REPLACE")?;
        self.record_op(EntityKind::Trip, id.0, OpKind::Delete)?;
        if old == TripState::Ended {
            self.record_edit(id, TripField::Discarded, None, Some("discarded".into()))?;
        }
        Ok(true)
    }

    /// Brings a discarded trip back (its state before the discard, from the merged
    /// fields). Returns false when it was not discarded.
    pub fn restore_trip(&mut self, id: TripId) -> Result<bool> {
        let (mut trip, lineage) = trip_and_lineage(self.conn(), id)?;
        self.ensure_unlocked(trip.started_at, Some(&trip.time_zone))?;
        if trip.state != TripState::Discarded {
            return Ok(false);
        }
        let merged = crate::sync::load_state(self.conn(), EntityKind::Trip, id.0)?;
        trip.state = match merged.fields.get("state").and_then(Value::as_str) {
            Some("active") => TripState::Active,
            _ => TripState::Ended,
        };
        self.write_trip_row(&trip, &lineage, "INSERT OR REPLACE")?;
        self.record_op(EntityKind::Trip, id.0, OpKind::Restore)?;
        self.record_edit(id, TripField::Discarded, Some("discarded".into()), None)?;
        Ok(true)
    }

    /// Refuses a change to a trip that no longer counts on its own (replaced by a merge or
    /// split, or a merge or split that lost to a concurrent one).
    pub(crate) fn ensure_counted(&self, id: TripId, verb: &str) -> Result<()> {
        match crate::lineage::status_of(self.conn(), id)? {
            TripStatus::Replaced => Err(self.replaced_conflict(id, verb)?),
            TripStatus::Superseded => Err(StoreError::Conflict {
                message: format!(
                    "trip {id} was made by a merge or split that another device's change replaced; \
                     it no longer counts and can't be {verb}"
                ),
            }),
            TripStatus::Current | TripStatus::Discarded => Ok(()),
        }
    }

    fn replaced_conflict(&self, id: TripId, verb: &str) -> Result<StoreError> {
        let by = lineage_by_id(self.conn(), id)?
            .and_then(|l| l.replaced_by)
            .unwrap_or_default();
        let by: Vec<String> = by.iter().map(ToString::to_string).collect();
        Ok(StoreError::Conflict {
            message: format!(
                "trip {id} was merged or split into {}; that trip can be {verb} instead",
                by.join(", ")
            ),
        })
    }

    pub(crate) fn record_edit(
        &mut self,
        trip_id: TripId,
        field: TripField,
        old_value: Option<String>,
        new_value: Option<String>,
    ) -> Result<()> {
        // An edit is identified by (trip, field, time, device, new value). Two edits of one
        // field within a millisecond that land on the same value (a note cleared, set, and
        // cleared again) would share that identity, so a device's edits of a field get strictly
        // increasing times: at most a millisecond later than the clock, never out of order.
        let last: Option<i64> = self.conn().query_row(
            "SELECT max(at) FROM trip_edit WHERE trip_id = ?1 AND field = ?2 AND device = ?3",
            params![
                trip_id.to_string(),
                field.as_str(),
                self.device().to_string()
            ],
            |row| row.get(0),
        )?;
        let mut at = self.now();
        if let Some(last) = last
            && ms(at) <= last
            && let Some(after) = chrono::DateTime::from_timestamp_millis(last + 1)
        {
            at = after;
        }
        let edit = TripEdit {
            trip_id,
            field,
            old_value,
            new_value,
            at,
            device: self.device(),
            arrived_after_lock: None,
        };
        put_edit(self.conn(), &edit, Put::New)?;
        self.record_op(
            EntityKind::TripEdit,
            trip_id.0,
            OpKind::Append {
                items: vec![serde_json::to_value(&edit)?],
            },
        )
    }
}

/// Odometer metres as the km text shown in the history (one decimal).
fn km_text(m: i64) -> String {
    format!("{}.{} km", m / 1000, (m % 1000).abs() / 100)
}

/// A trip's header and lineage, from one row.
pub(crate) fn trip_and_lineage(
    conn: &rusqlite::Connection,
    id: TripId,
) -> Result<(Trip, TripLineage)> {
    conn.prepare_cached(&format!("SELECT {TRIP_COLUMNS} FROM trip WHERE id = ?1"))?
        .query_row([id.to_string()], |r| {
            Ok((trip_from_row(r)?, lineage_from_row(r)?))
        })
        .optional()?
        .ok_or_else(|| StoreError::not_found("trip", id))
}

/// A trip's lineage, `None` when the trip is unknown.
pub(crate) fn lineage_by_id(
    conn: &rusqlite::Connection,
    id: TripId,
) -> Result<Option<TripLineage>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {TRIP_COLUMNS} FROM trip WHERE id = ?1"))?
        .query_row([id.to_string()], lineage_from_row)
        .optional()?)
}

pub(crate) fn trip_by_id(conn: &rusqlite::Connection, id: TripId) -> Result<Trip> {
    conn.prepare_cached(&format!("SELECT {TRIP_COLUMNS} FROM trip WHERE id = ?1"))?
        .query_row([id.to_string()], trip_from_row)
        .optional()?
        .ok_or_else(|| StoreError::not_found("trip", id))
}

fn point_from_row(r: &Row<'_>) -> rusqlite::Result<TripPoint> {
    Ok(TripPoint {
        seq: r.get(0)?,
        ping: Ping {
            at: from_ms(r.get(1)?)?,
            lat: r.get(2)?,
            lon: r.get(3)?,
            accuracy_m: r.get(4)?,
            speed_mps: r.get(5)?,
            heading_deg: r.get(6)?,
            altitude_m: r.get(7)?,
        },
        counted: r.get(8)?,
    })
}

pub(crate) fn points_between(
    conn: &rusqlite::Connection,
    trip: TripId,
    from_seq: u32,
    to_seq: u32,
) -> Result<Vec<TripPoint>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, lat, lon, accuracy_m, speed_mps, heading_deg, altitude_m, counted
         FROM trip_point WHERE trip_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq",
    )?;
    Ok(stmt
        .query_map(params![trip.to_string(), from_seq, to_seq], point_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

impl Store {
    /// One trip.
    pub fn trip(&self, id: TripId) -> Result<Trip> {
        trip_by_id(self.conn(), id)
    }

    /// A trip by full id, or by a unique prefix or suffix of it (the CLI
    /// shows the random 8-character tail).
    pub fn find_trip(&self, key: &str) -> Result<Trip> {
        if let Ok(id) = key.parse::<TripId>() {
            return self.trip(id);
        }
        let prefix = key.trim().to_ascii_lowercase();
        if prefix.len() < 6 || !prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(StoreError::not_found("trip", key));
        }
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {TRIP_COLUMNS} FROM trip WHERE id LIKE ?1 || '%' OR id LIKE '%' || ?1 LIMIT 2"
        ))?;
        let mut found: Vec<Trip> = stmt
            .query_map([&prefix], trip_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(StoreError::not_found("trip", key)),
            _ => Err(StoreError::invalid(format!(
                "trip id `{key}` matches several trips; give more characters"
            ))),
        }
    }

    /// The trip being recorded, if any.
    pub fn active_trip(&self) -> Result<Option<Trip>> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {TRIP_COLUMNS} FROM trip WHERE state = 'active' ORDER BY started_at DESC LIMIT 1"
            ))?
            .query_row([], trip_from_row)
            .optional()?)
    }

    /// Trips by start time (oldest first, or newest first with a limit). Without
    /// `include_discarded`, only trips that count: not discarded, not replaced by a merge or
    /// split, not a merge or split that lost to a concurrent one (`tacho_model::lineage`).
    pub fn trips(&self, filter: &TripFilter) -> Result<Vec<Trip>> {
        let order = if filter.limit.is_some() {
            "DESC"
        } else {
            "ASC"
        };
        let sql = format!(
            "SELECT {TRIP_COLUMNS} FROM trip
             WHERE (?1 IS NULL OR started_at >= ?1) AND (?2 IS NULL OR started_at < ?2)
               AND (?3 IS NULL OR car_id = ?3) AND (?4 OR state != 'discarded')
             ORDER BY started_at {order}, id {order}"
        );
        let statuses = if filter.include_discarded {
            None
        } else {
            Some(crate::lineage::statuses(self.conn())?)
        };
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let mut trips: Vec<Trip> = stmt
            .query_map(
                params![
                    filter.from.map(ms),
                    filter.until.map(ms),
                    filter.car.map(|c| c.to_string()),
                    filter.include_discarded,
                ],
                trip_from_row,
            )?
            .filter(|t| match (&statuses, t) {
                (Some(statuses), Ok(t)) => {
                    statuses.get(&t.id).copied().unwrap_or(TripStatus::Current)
                        == TripStatus::Current
                }
                _ => true,
            })
            .take(filter.limit.unwrap_or(usize::MAX))
            .collect::<rusqlite::Result<_>>()?;
        if filter.limit.is_some() {
            trips.reverse();
        }
        Ok(trips)
    }

    /// All points of a trip in order. A merged trip or a split part has none of its own: its
    /// points are read from its sources' (by reference, see `tacho_model::lineage`) and
    /// numbered from 0.
    pub fn trip_points(&self, id: TripId) -> Result<Vec<TripPoint>> {
        crate::lineage::resolved_points(self.conn(), id)
    }

    /// Points of a trip from sequence `from_seq` on, in order (its own, as recorded).
    pub fn trip_points_from(&self, id: TripId, from_seq: u32) -> Result<Vec<TripPoint>> {
        points_between(self.conn(), id, from_seq, u32::MAX)
    }

    /// Number of points of a trip (read by reference for a merged trip or a split part).
    pub fn point_count(&self, id: TripId) -> Result<u32> {
        let derived = lineage_by_id(self.conn(), id)?.is_some_and(|l| !l.sources().is_empty());
        if derived {
            return Ok(u32::try_from(self.trip_points(id)?.len()).unwrap_or(u32::MAX));
        }
        Ok(self.conn().query_row(
            "SELECT count(*) FROM trip_point WHERE trip_id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )?)
    }

    /// A trip's edit history, oldest first.
    pub fn trip_edits(&self, id: TripId) -> Result<Vec<TripEdit>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT trip_id, field, old_value, new_value, at, device, arrived_after_lock FROM trip_edit WHERE trip_id = ?1 ORDER BY at, device, field, id",
        )?;
        Ok(stmt
            .query_map([id.to_string()], edit_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Locked months, oldest first.
    pub fn locked_periods(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT month FROM period_lock ORDER BY month")?;
        Ok(stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The place ids a trip starts and ends at.
    pub fn trip_places(&self, id: TripId) -> Result<(Option<PlaceId>, Option<PlaceId>)> {
        let t = self.trip(id)?;
        Ok((t.start_place, t.end_place))
    }
}

fn edit_from_row(r: &Row<'_>) -> rusqlite::Result<TripEdit> {
    Ok(TripEdit {
        trip_id: parse(&r.get::<_, String>(0)?)?,
        field: enum_from(&r.get::<_, String>(1)?)?,
        old_value: r.get(2)?,
        new_value: r.get(3)?,
        at: from_ms(r.get(4)?)?,
        device: parse(&r.get::<_, String>(5)?)?,
        arrived_after_lock: r.get(6)?,
    })
}
