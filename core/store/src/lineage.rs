//! Merge and split of trips in the store (the rules are `tacho_model::lineage`'s; the
//! reasons in docs/adr/0013-trip-merge-split-as-ops.md). Each writes new trip headers that
//! reference their sources and marks the sources replaced, all through the one trip row
//! writer and as ordinary ops; no point is copied, so no device writes another's points.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use tacho_model::car::{OdometerReading, ReadingSource, TripEnd};
use tacho_model::gps::LatLon;
use tacho_model::id::{ReadingId, TripId};
use tacho_model::lineage::{self, LineageNode, PathPoint, TripLineage, TripStatus};
use tacho_model::op::EntityKind;
use tacho_model::trip::{Trip, TripField, TripState};

use crate::row::{enum_from, enum_str, ms, opt_from_ms};
use crate::trips::{TripPoint, lineage_by_id, points_between, trip_and_lineage};
use crate::{Result, Store, StoreError, Writer};

/// How deep lineage is followed (merges of splits of merges…); a forged cycle stops here.
const MAX_DEPTH: usize = 32;

/// Where to split a trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitAt {
    /// At this instant: fixes before it go to the first part, the rest to the second.
    Time(DateTime<Utc>),
    /// At its longest stop ([`lineage::longest_stop`]).
    LongestStop,
}

/// The status of every trip ([`lineage::statuses`] over the stored rows).
pub(crate) fn statuses(conn: &Connection) -> Result<BTreeMap<TripId, TripStatus>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, state, merged_from, split_from, window_from, window_until, replaced_by FROM trip",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, Option<i64>>(5)?,
            r.get::<_, Option<String>>(6)?,
        ))
    })?;
    let mut nodes = BTreeMap::new();
    for row in rows {
        let (id, state, merged, split, from, until, replaced) = row?;
        let ids = |raw: Option<String>| -> Result<Option<Vec<TripId>>> {
            Ok(raw.map(|r| serde_json::from_str(&r)).transpose()?)
        };
        let id: TripId = id
            .parse()
            .map_err(|_| StoreError::Decode(format!("bad trip id {id}")))?;
        let state: TripState = enum_from(&state)?;
        nodes.insert(
            id,
            LineageNode {
                discarded: state == TripState::Discarded,
                lineage: TripLineage {
                    merged_from: ids(merged)?,
                    split_from: split.map(|s| s.parse()).transpose().map_err(|_| {
                        StoreError::Decode(format!("bad split source of trip {id}"))
                    })?,
                    window_from: opt_from_ms(from)?,
                    window_until: opt_from_ms(until)?,
                    replaced_by: ids(replaced)?,
                },
            },
        );
    }
    Ok(lineage::statuses(&nodes))
}

/// The status of one trip.
pub(crate) fn status_of(conn: &Connection, id: TripId) -> Result<TripStatus> {
    statuses(conn)?
        .get(&id)
        .copied()
        .ok_or_else(|| StoreError::not_found("trip", id))
}

/// A trip's points: its own, or (merged trip, split part) its sources' by reference, in
/// order and numbered from 0.
pub(crate) fn resolved_points(conn: &Connection, id: TripId) -> Result<Vec<TripPoint>> {
    let mut points = collect_points(conn, id, 0)?;
    if lineage_by_id(conn, id)?.is_some_and(|l| !l.sources().is_empty()) {
        for (seq, p) in points.iter_mut().enumerate() {
            p.seq = u32::try_from(seq).unwrap_or(u32::MAX);
        }
    }
    Ok(points)
}

fn collect_points(conn: &Connection, id: TripId, depth: usize) -> Result<Vec<TripPoint>> {
    let lineage = lineage_by_id(conn, id)?.unwrap_or_default();
    if depth > MAX_DEPTH {
        return Err(StoreError::invalid(format!(
            "trip {id}'s merges and splits nest too deep"
        )));
    }
    if let Some(sources) = &lineage.merged_from {
        let mut all = Vec::new();
        for source in sources {
            all.extend(collect_points(conn, *source, depth + 1)?);
        }
        return Ok(all);
    }
    if let Some(source) = lineage.split_from {
        let mut all = collect_points(conn, source, depth + 1)?;
        all.retain(|p| lineage.in_window(p.ping.at));
        return Ok(all);
    }
    points_between(conn, id, 0, u32::MAX)
}

/// The distance of a trip that lies in `[from, until)`: recorded trips share theirs by
/// path length ([`lineage::window_share`]), merged trips add up their sources', split parts
/// ask their source for the overlap of the windows. Adjacent windows add up exactly.
fn distance_in(
    conn: &Connection,
    id: TripId,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    depth: usize,
) -> Result<f64> {
    if depth > MAX_DEPTH {
        return Err(StoreError::invalid(format!(
            "trip {id}'s merges and splits nest too deep"
        )));
    }
    let (trip, lineage) = trip_and_lineage(conn, id)?;
    if let Some(sources) = &lineage.merged_from {
        let mut sum = 0.0;
        for source in sources {
            sum += distance_in(conn, *source, from, until, depth + 1)?;
        }
        return Ok(sum);
    }
    if let Some(source) = lineage.split_from {
        let from = later(from, lineage.window_from);
        let until = earlier(until, lineage.window_until);
        if let (Some(f), Some(u)) = (from, until)
            && f >= u
        {
            return Ok(0.0);
        }
        return distance_in(conn, source, from, until, depth + 1);
    }
    let points: Vec<PathPoint> = points_between(conn, id, 0, u32::MAX)?
        .iter()
        .map(|p| PathPoint {
            ping: p.ping,
            counted: p.counted,
        })
        .collect();
    let ended = trip.ended_at.unwrap_or(trip.started_at);
    Ok(trip.distance_m * lineage::window_share(&points, trip.started_at, ended, from, until))
}

fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn earlier(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn position(p: &TripPoint) -> LatLon {
    LatLon {
        lat: p.ping.lat,
        lon: p.ping.lon,
    }
}

impl Writer<'_> {
    /// Merges two consecutive ended trips of the same car into one (whichever order they
    /// are given in): points by reference, distance the sum, odometer start of the first and
    /// end of the second. The originals stay, marked replaced, with the merge in their
    /// history. Returns the merged trip's id (the same on every device for the same pair).
    pub fn merge_trips(&mut self, a: TripId, b: TripId) -> Result<TripId> {
        if a == b {
            return Err(StoreError::invalid("a trip can't be merged with itself"));
        }
        let (ta, _) = trip_and_lineage(self.conn(), a)?;
        let (tb, _) = trip_and_lineage(self.conn(), b)?;
        let (first, second) = if (ta.started_at, ta.id) <= (tb.started_at, tb.id) {
            (ta, tb)
        } else {
            (tb, ta)
        };
        for t in [&first, &second] {
            self.ensure_unlocked(t.started_at, Some(&t.time_zone))?;
            self.ensure_mergeable(t, "merged")?;
        }
        if first.car_id != second.car_id {
            return Err(StoreError::Conflict {
                message: format!(
                    "trips {} and {} are of different cars; only trips of the same car can be merged",
                    first.id, second.id
                ),
            });
        }
        let first_end = first.ended_at.unwrap_or(first.started_at);
        if second.started_at < first_end {
            return Err(StoreError::Conflict {
                message: format!(
                    "trips {} and {} overlap in time; only consecutive trips can be merged",
                    first.id, second.id
                ),
            });
        }
        let statuses = statuses(self.conn())?;
        let between: Option<String> = self
            .conn()
            .prepare_cached(
                "SELECT id FROM trip WHERE started_at > ?1 AND started_at < ?2
                 AND car_id IS ?3 AND id NOT IN (?4, ?5)",
            )?
            .query_map(
                params![
                    ms(first.started_at),
                    ms(second.started_at),
                    first.car_id.map(|c| c.to_string()),
                    first.id.to_string(),
                    second.id.to_string()
                ],
                |r| r.get::<_, String>(0),
            )?
            .filter_map(|id| id.ok())
            .find(|id| {
                id.parse::<TripId>()
                    .ok()
                    .and_then(|id| statuses.get(&id))
                    .is_some_and(|s| *s == TripStatus::Current)
            });
        if let Some(other) = between {
            return Err(StoreError::Conflict {
                message: format!(
                    "trip {other} of the same car lies between them; only consecutive trips can be merged"
                ),
            });
        }
        let sources = vec![first.id, second.id];
        let id = lineage::merged_id(&sources);
        self.ensure_free(id)?;
        let same = first.purpose == second.purpose;
        let note = match (&first.note, &second.note) {
            (Some(x), Some(y)) if x != y => Some(format!("{x}\n{y}")),
            (x, y) => x.clone().or_else(|| y.clone()),
        };
        let points = resolved_points(self.conn(), first.id)?.len()
            + resolved_points(self.conn(), second.id)?.len();
        let merged = Trip {
            id,
            car_id: first.car_id,
            state: TripState::Ended,
            source: first.source,
            car_hint: first.car_hint.clone(),
            started_at: first.started_at,
            ended_at: second.ended_at,
            time_zone: first.time_zone.clone(),
            start: first.start,
            end: second.end,
            start_address: first.start_address.clone(),
            end_address: second.end_address.clone(),
            start_place: first.start_place,
            end_place: second.end_place,
            distance_m: first.distance_m + second.distance_m,
            point_count: u32::try_from(points).unwrap_or(u32::MAX),
            purpose: if same { first.purpose } else { None },
            purpose_by: if same { first.purpose_by } else { None },
            business_partner: if same && first.business_partner == second.business_partner {
                first.business_partner.clone()
            } else {
                None
            },
            note,
            recovered: first.recovered || second.recovered,
        };
        let lineage = TripLineage {
            merged_from: Some(sources.clone()),
            ..TripLineage::default()
        };
        self.write_derived(&merged, &lineage)?;
        for source in &sources {
            self.mark_replaced(*source, vec![id])?;
            self.record_edit(*source, TripField::MergedInto, None, Some(id.to_string()))?;
        }
        let names: Vec<String> = sources.iter().map(ToString::to_string).collect();
        self.record_edit(id, TripField::MergedFrom, None, Some(names.join(" + ")))?;
        self.copy_reading(first.id, TripEnd::Start, id, merged.started_at)?;
        self.copy_reading(
            second.id,
            TripEnd::End,
            id,
            merged.ended_at.unwrap_or(merged.started_at),
        )?;
        Ok(id)
    }

    /// Splits an ended trip in two at an instant or at its longest stop. The parts read the
    /// trip's points by reference (each its side of the cut) and share its distance by path
    /// length; the trip stays, marked replaced, with the split in its history. Returns the
    /// parts' ids (the same on every device for the same cut).
    pub fn split_trip(&mut self, id: TripId, at: SplitAt) -> Result<(TripId, TripId)> {
        let (trip, _) = trip_and_lineage(self.conn(), id)?;
        self.ensure_unlocked(trip.started_at, Some(&trip.time_zone))?;
        self.ensure_mergeable(&trip, "split")?;
        let points = resolved_points(self.conn(), id)?;
        let ended = trip.ended_at.unwrap_or(trip.started_at);
        let cut = match at {
            SplitAt::Time(t) => t,
            SplitAt::LongestStop => {
                let path: Vec<PathPoint> = points
                    .iter()
                    .map(|p| PathPoint {
                        ping: p.ping,
                        counted: p.counted,
                    })
                    .collect();
                lineage::longest_stop(&path).ok_or_else(|| StoreError::Conflict {
                    message: format!(
                        "trip {id} has no stop of {} s or more between two stretches of driving to split at",
                        lineage::MIN_STOP_SECS
                    ),
                })?
            }
        };
        let (before, after): (Vec<&TripPoint>, Vec<&TripPoint>) =
            points.iter().partition(|p| p.ping.at < cut);
        let inside = cut > trip.started_at && cut < ended;
        if !inside || (!points.is_empty() && (before.is_empty() || after.is_empty())) {
            return Err(StoreError::invalid(format!(
                "{} is not inside trip {id} ({} to {}) with fixes on both sides; split at a time between them",
                cut.to_rfc3339(),
                trip.started_at.to_rfc3339(),
                ended.to_rfc3339()
            )));
        }
        let first_id = lineage::split_id(id, None, Some(cut));
        let second_id = lineage::split_id(id, Some(cut), None);
        for part in [first_id, second_id] {
            self.ensure_free(part)?;
        }
        let counted = |ps: &[&TripPoint]| -> Vec<LatLon> {
            ps.iter()
                .filter(|p| p.counted)
                .map(|p| position(p))
                .collect()
        };
        let first_end = before
            .last()
            .map_or(cut, |p| p.ping.at)
            .clamp(trip.started_at, ended);
        let second_start = after
            .first()
            .map_or(cut, |p| p.ping.at)
            .clamp(trip.started_at, ended);
        let first = Trip {
            id: first_id,
            ended_at: Some(first_end),
            end: counted(&before).last().copied().or(trip.start),
            end_address: None,
            end_place: None,
            distance_m: distance_in(self.conn(), id, None, Some(cut), 0)?,
            point_count: u32::try_from(before.len()).unwrap_or(u32::MAX),
            ..trip.clone()
        };
        let second = Trip {
            id: second_id,
            started_at: second_start,
            start: counted(&after).first().copied().or(trip.end),
            start_address: None,
            start_place: None,
            distance_m: distance_in(self.conn(), id, Some(cut), None, 0)?,
            point_count: u32::try_from(after.len()).unwrap_or(u32::MAX),
            ..trip.clone()
        };
        self.ensure_unlocked(second.started_at, Some(&second.time_zone))?;
        let window = |from, until| TripLineage {
            split_from: Some(id),
            window_from: from,
            window_until: until,
            ..TripLineage::default()
        };
        self.write_derived(&first, &window(None, Some(cut)))?;
        self.write_derived(&second, &window(Some(cut), None))?;
        self.mark_replaced(id, vec![first_id, second_id])?;
        self.record_edit(
            id,
            TripField::SplitInto,
            None,
            Some(format!("{first_id}, {second_id}")),
        )?;
        let at = cut.to_rfc3339();
        self.record_edit(
            first_id,
            TripField::SplitFrom,
            None,
            Some(format!("{id} until {at}")),
        )?;
        self.record_edit(
            second_id,
            TripField::SplitFrom,
            None,
            Some(format!("{id} from {at}")),
        )?;
        self.copy_reading(id, TripEnd::Start, first_id, first.started_at)?;
        self.copy_reading(id, TripEnd::End, second_id, ended)?;
        Ok((first_id, second_id))
    }

    /// Merge and split take ended trips that count on their own.
    fn ensure_mergeable(&self, t: &Trip, verb: &str) -> Result<()> {
        match t.state {
            TripState::Active => Err(StoreError::Conflict {
                message: format!("trip {} is still being recorded; end it first", t.id),
            }),
            TripState::Discarded => Err(StoreError::Conflict {
                message: format!("trip {} was discarded; restore it first", t.id),
            }),
            TripState::Ended => self.ensure_counted(t.id, verb),
        }
    }

    /// A derived trip's id is made from its sources: one already there (the same merge or
    /// split made before and since undone by a concurrent one) is written again, unless it
    /// was discarded.
    fn ensure_free(&self, id: TripId) -> Result<()> {
        match trip_and_lineage(self.conn(), id) {
            Ok((t, _)) if t.state == TripState::Discarded => Err(StoreError::Conflict {
                message: format!(
                    "this merge or split was made before as trip {id}, since discarded; restore that trip"
                ),
            }),
            Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn write_derived(&mut self, trip: &Trip, lineage: &TripLineage) -> Result<()> {
        self.ensure_unlocked(trip.started_at, Some(&trip.time_zone))?;
        self.write_trip_row(trip, lineage, "INSERT OR REPLACE")?;
        let Value::Object(mut fields) = serde_json::to_value(trip)? else {
            return Err(StoreError::invalid("a trip header is not an object"));
        };
        fields.remove("id");
        let Value::Object(lineage_fields) = serde_json::to_value(lineage)? else {
            return Err(StoreError::invalid("a trip lineage is not an object"));
        };
        // Only the fields this trip has: a merged trip sends no window, a part no sources.
        fields.extend(lineage_fields.into_iter().filter(|(_, v)| !v.is_null()));
        self.record_op(
            EntityKind::Trip,
            trip.id.0,
            tacho_model::op::OpKind::Upsert { fields },
        )
    }

    fn mark_replaced(&mut self, id: TripId, by: Vec<TripId>) -> Result<()> {
        let (trip, mut lineage) = trip_and_lineage(self.conn(), id)?;
        lineage.replaced_by = Some(by);
        self.write_trip_row(&trip, &lineage, "INSERT OR REPLACE")?;
        self.record_field(
            EntityKind::Trip,
            id.0,
            "replaced_by",
            serde_json::to_value(&lineage.replaced_by)?,
        )
    }

    /// Gives `to`'s end the reading `from`'s end has, if any.
    fn copy_reading(
        &mut self,
        from: TripId,
        end: TripEnd,
        to: TripId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let found: Option<(String, i64)> = self
            .conn()
            .prepare_cached(
                "SELECT car_id, odometer_m FROM odometer_reading WHERE trip_id = ?1 AND trip_end = ?2",
            )?
            .query_row(
                params![from.to_string(), enum_str(&end)?],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((car, odometer_m)) = found else {
            return Ok(());
        };
        let car_id = car
            .parse()
            .map_err(|_| StoreError::Decode(format!("bad car id {car}")))?;
        self.add_reading(&OdometerReading {
            id: ReadingId::new(),
            car_id,
            at,
            odometer_m,
            source: ReadingSource::Manual,
            trip: Some((to, end)),
        })
    }
}

impl Store {
    /// Whether each trip counts (and why not), by id: discarded, replaced by a merge or
    /// split, or a merge or split that lost to a concurrent one.
    pub fn trip_statuses(&self) -> Result<BTreeMap<TripId, TripStatus>> {
        statuses(self.conn())
    }

    /// A trip's merge/split lineage.
    pub fn trip_lineage(&self, id: TripId) -> Result<TripLineage> {
        lineage_by_id(self.conn(), id)?.ok_or_else(|| StoreError::not_found("trip", id))
    }
}
