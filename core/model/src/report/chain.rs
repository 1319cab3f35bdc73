//! The odometer chain: every trip's start and end odometer value, real or
//! derived, and the gaps between trips the log cannot explain.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::car::{OdometerReading, TripEnd};
use crate::id::{ReadingId, TripId};
use crate::trip::{Trip, TripState};

/// Default tolerance for gaps between trips: 1 km. Odometers (and what a
/// person reads off the dashboard, and most car APIs) resolve whole
/// kilometres, so two honest readings of one parked car can differ by up
/// to 1 km; anything beyond that is driving the log does not cover.
pub const DEFAULT_GAP_TOLERANCE_M: i64 = 1_000;

/// Default GPS slack: 2 % (20 ‰) of the GPS-derived distance since the last
/// real reading. Filtered GPS paths run short of the odometer by a percent
/// or two (corner cutting, fix lost in tunnels and car parks), and that
/// error piles up over a chain of derived values; without this slack a
/// month of GPS-only trips would end in a false "unexplained" row.
pub const DEFAULT_GPS_SLACK_PER_MILLE: i64 = 20;

/// How strict the chain is about gaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainOptions {
    /// A jump between two trips up to this many metres is reading noise.
    pub gap_tolerance_m: i64,
    /// Extra tolerance, per mille of the GPS-derived metres since the last
    /// real reading.
    pub gps_slack_per_mille: i64,
}

impl Default for ChainOptions {
    fn default() -> Self {
        Self {
            gap_tolerance_m: DEFAULT_GAP_TOLERANCE_M,
            gps_slack_per_mille: DEFAULT_GPS_SLACK_PER_MILLE,
        }
    }
}

/// Where an odometer value came from; only `Reading` is real.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OdometerBasis {
    /// A reading attached to this trip end.
    Reading,
    /// The previous trip's end value carried over.
    PreviousTrip,
    /// The latest reading not attached to a trip, taken before the start.
    StandaloneReading,
    /// The start value plus the GPS distance.
    StartPlusGps,
}

/// One odometer value in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OdometerValue {
    /// Odometer in whole metres.
    pub m: i64,
    /// `true` unless a reading was taken at exactly this trip end; the log
    /// must not pass off an estimate as a reading.
    pub derived: bool,
    /// How the value was obtained.
    pub basis: OdometerBasis,
    /// The reading used, if any (also for standalone readings).
    pub reading_id: Option<ReadingId>,
}

/// A trip's place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TripOdometer {
    /// The trip.
    pub trip_id: TripId,
    /// Value at the start; `None` when nothing anchors the chain yet.
    pub start: Option<OdometerValue>,
    /// Value at the end.
    pub end: Option<OdometerValue>,
}

impl TripOdometer {
    /// End minus start, when both are known; may be negative when real
    /// readings contradict each other.
    pub fn distance_m(&self) -> Option<i64> {
        Some(self.end?.m - self.start?.m)
    }
}

/// A jump of the odometer between two points of the chain that no trip
/// accounts for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    /// When the earlier value was taken (a trip end or a reading).
    pub from: DateTime<Utc>,
    /// When the later, real value was taken.
    pub to: DateTime<Utc>,
    /// Odometer before, metres.
    pub from_odometer_m: i64,
    /// Odometer after, metres (always a real reading).
    pub to_odometer_m: i64,
    /// `to_odometer_m - from_odometer_m`: positive for unlogged driving,
    /// negative when the odometer went backwards.
    pub distance_m: i64,
    /// Whether the earlier value was derived rather than read.
    pub from_derived: bool,
    /// The trip before the gap, if any.
    pub after_trip: Option<TripId>,
    /// The trip after the gap, if any.
    pub before_trip: Option<TripId>,
}

/// A row of the chain, in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainRow {
    /// A trip with its odometer values.
    Trip(TripOdometer),
    /// The odometer moved further than the trips explain: driving that is
    /// not in the log. Never added to a trip; the person must explain it.
    Unexplained(Gap),
    /// The odometer went backwards beyond the tolerance: a wrong reading
    /// or a wrong GPS distance. Kept as its own row so it cannot be netted
    /// against unexplained kilometres.
    Backwards(Gap),
}

/// The whole chain of one car.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OdometerChain {
    /// Trips and gaps in time order.
    pub rows: Vec<ChainRow>,
}

impl OdometerChain {
    /// The chain entry of one trip.
    pub fn trip(&self, id: TripId) -> Option<&TripOdometer> {
        self.rows.iter().find_map(|r| match r {
            ChainRow::Trip(t) if t.trip_id == id => Some(t),
            _ => None,
        })
    }

    /// All gap rows, unexplained and backwards.
    pub fn gaps(&self) -> impl Iterator<Item = &ChainRow> {
        self.rows.iter().filter(|r| !matches!(r, ChainRow::Trip(_)))
    }
}

/// The running state of the walk: the last known value and how much GPS
/// guessing went into it.
struct Last {
    at: DateTime<Utc>,
    m: i64,
    /// A reading, not an estimate.
    real: bool,
    /// Set when the value is a standalone reading (it then anchors the next start).
    standalone: Option<ReadingId>,
    trip: Option<TripId>,
    gps_since_real_m: i64,
}

impl Last {
    fn from_standalone(r: &OdometerReading, trip: Option<TripId>) -> Self {
        Self {
            at: r.at,
            m: r.odometer_m,
            real: true,
            standalone: Some(r.id),
            trip,
            gps_since_real_m: 0,
        }
    }
}

/// Walks one car's ended trips in time order and builds the odometer
/// chain. A start is the reading attached to it, else the previous known
/// value (previous trip's end, or a standalone reading taken since), else
/// unknown; an end is its attached reading, else start + GPS distance.
/// Whenever a *real* reading (attached to a start, or standalone) lies
/// beyond the tolerance from the value before it, a gap row is emitted.
///
/// Trips that are not ended are skipped. Readings attached to trips not in
/// `trips` (e.g. discarded ones) count as standalone readings: they are
/// still true odometer values. Of several readings for one trip end the
/// latest taken wins. The chain starts at the latest standalone reading at
/// or before the first trip; older readings do not produce gaps.
pub fn odometer_chain(
    trips: &[Trip],
    readings: &[OdometerReading],
    options: ChainOptions,
) -> OdometerChain {
    let mut trips: Vec<&Trip> = trips
        .iter()
        .filter(|t| t.state == TripState::Ended && t.ended_at.is_some())
        .collect();
    trips.sort_by_key(|t| (t.started_at, t.id));
    let known: HashSet<TripId> = trips.iter().map(|t| t.id).collect();

    let mut attached: HashMap<(TripId, TripEnd), &OdometerReading> = HashMap::new();
    let mut standalone: Vec<&OdometerReading> = Vec::new();
    for r in readings {
        match r.trip {
            Some((trip, end)) if known.contains(&trip) => {
                let slot = attached.entry((trip, end)).or_insert(r);
                if (r.at, r.id) > (slot.at, slot.id) {
                    *slot = r;
                }
            }
            _ => standalone.push(r),
        }
    }
    standalone.sort_by_key(|r| (r.at, r.id));

    let mut rows = Vec::new();
    let mut last: Option<Last> = None;
    let mut next_standalone = 0;
    // Start at the latest standalone reading at or before the first trip.
    if let Some(first) = trips.first() {
        while standalone
            .get(next_standalone + 1)
            .is_some_and(|r| r.at <= first.started_at)
        {
            next_standalone += 1;
        }
    }

    for trip in &trips {
        while let Some(r) = standalone.get(next_standalone) {
            if r.at > trip.started_at {
                break;
            }
            next_standalone += 1;
            check_gap(
                &mut rows,
                last.as_ref(),
                r.at,
                r.odometer_m,
                Some(trip.id),
                options,
            );
            last = Some(Last::from_standalone(r, last.as_ref().and_then(|l| l.trip)));
        }

        let start = match attached.get(&(trip.id, TripEnd::Start)) {
            Some(r) => {
                check_gap(
                    &mut rows,
                    last.as_ref(),
                    trip.started_at,
                    r.odometer_m,
                    Some(trip.id),
                    options,
                );
                Some((real(r), 0))
            }
            None => last.as_ref().map(|l| {
                let value = OdometerValue {
                    m: l.m,
                    derived: true,
                    basis: if l.standalone.is_some() {
                        OdometerBasis::StandaloneReading
                    } else {
                        OdometerBasis::PreviousTrip
                    },
                    reading_id: l.standalone,
                };
                (value, l.gps_since_real_m)
            }),
        };

        let gps_m = gps_metres(trip.distance_m);
        let end = match attached.get(&(trip.id, TripEnd::End)) {
            Some(r) => Some((real(r), 0)),
            None => start.map(|(s, gps_before)| {
                let value = OdometerValue {
                    m: s.m + gps_m,
                    derived: true,
                    basis: OdometerBasis::StartPlusGps,
                    reading_id: None,
                };
                (value, gps_before + gps_m)
            }),
        };

        rows.push(ChainRow::Trip(TripOdometer {
            trip_id: trip.id,
            start: start.map(|(v, _)| v),
            end: end.map(|(v, _)| v),
        }));
        last = end.map(|(value, gps_since_real_m)| Last {
            at: trip.ended_at.unwrap_or(trip.started_at),
            m: value.m,
            real: !value.derived,
            standalone: None,
            trip: Some(trip.id),
            gps_since_real_m,
        });
    }

    // Readings after the last trip still reveal unlogged driving.
    if !trips.is_empty() {
        for r in standalone.iter().skip(next_standalone) {
            check_gap(&mut rows, last.as_ref(), r.at, r.odometer_m, None, options);
            last = Some(Last::from_standalone(r, last.as_ref().and_then(|l| l.trip)));
        }
    }

    OdometerChain { rows }
}

fn real(r: &OdometerReading) -> OdometerValue {
    OdometerValue {
        m: r.odometer_m,
        derived: false,
        basis: OdometerBasis::Reading,
        reading_id: Some(r.id),
    }
}

/// GPS path length in whole metres; non-finite or negative lengths count as 0.
pub(crate) fn gps_metres(distance_m: f64) -> i64 {
    if distance_m.is_finite() && distance_m > 0.0 {
        // Saturating float-to-int cast; no real trip comes near i64::MAX.
        distance_m.round() as i64
    } else {
        0
    }
}

fn check_gap(
    rows: &mut Vec<ChainRow>,
    last: Option<&Last>,
    at: DateTime<Utc>,
    odometer_m: i64,
    before_trip: Option<TripId>,
    options: ChainOptions,
) {
    let Some(last) = last else { return };
    let distance_m = odometer_m - last.m;
    let tolerance = options.gap_tolerance_m.max(0)
        + last.gps_since_real_m * options.gps_slack_per_mille.max(0) / 1000;
    if distance_m.abs() <= tolerance {
        return;
    }
    let gap = Gap {
        from: last.at,
        to: at,
        from_odometer_m: last.m,
        to_odometer_m: odometer_m,
        distance_m,
        from_derived: !last.real,
        after_trip: last.trip,
        before_trip,
    };
    rows.push(if distance_m > 0 {
        ChainRow::Unexplained(gap)
    } else {
        ChainRow::Backwards(gap)
    });
}
