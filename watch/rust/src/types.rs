//! The records and enums that cross the FFI, and their checked conversions
//! to and from the core's types.
//!
//! Conventions, chosen so every foreign language can use them without custom
//! type converters: instants are `i64` Unix milliseconds (UTC), calendar days
//! are `YYYY-MM-DD` strings, ids are UUID strings, distances are metres.
//! Everything coming *in* is parsed with a check that returns
//! [`TachoError::BadInput`]; nothing here can panic on foreign input.

use chrono::{DateTime, NaiveDate, Utc};
use tacho_model::{car, detector, place, trip, work};

use crate::error::TachoError;

/// 9999-12-31T23:59:59.999Z: the last instant every binding (and SQLite's
/// date functions) can show; later ones are refused as input.
const MAX_MS: i64 = 253_402_300_799_999;

/// Reads Unix milliseconds from foreign code. Instants before 1970 or after
/// year 9999 are refused: no trip or time entry can be dated there, and a
/// huge value is far more likely a unit mix-up (µs, ns) than a real time.
pub(crate) fn instant(ms: i64, what: &str) -> Result<DateTime<Utc>, TachoError> {
    if !(0..=MAX_MS).contains(&ms) {
        return Err(TachoError::bad_input(format!(
            "{what} {ms} is not a time in Unix milliseconds between 1970 and 9999"
        )));
    }
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| TachoError::bad_input(format!("{what} {ms} is not a representable time")))
}

/// [`instant`] for an optional value.
pub(crate) fn instant_opt(
    ms: Option<i64>,
    what: &str,
) -> Result<Option<DateTime<Utc>>, TachoError> {
    ms.map(|ms| instant(ms, what)).transpose()
}

/// An instant as Unix milliseconds for foreign code.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Reads a `YYYY-MM-DD` calendar day.
pub(crate) fn day(text: &str, what: &str) -> Result<NaiveDate, TachoError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|e| {
        TachoError::bad_input(format!(
            "{what} `{}` is not a date like 2026-03-31: {e}",
            text.chars().take(40).collect::<String>()
        ))
    })
}

/// Parses an RFC 3339 timestamp (`2026-03-02T08:15:00+01:00`) into Unix
/// milliseconds, for foreign code that receives times as text (Shortcuts
/// parameters, JSON from a web hook) and must not guess the format itself.
#[uniffi::export]
pub fn parse_rfc3339_ms(text: String) -> Result<i64, TachoError> {
    let at = DateTime::parse_from_rfc3339(text.trim()).map_err(|e| {
        TachoError::bad_input(format!(
            "`{}` is not an RFC 3339 time like 2026-03-02T08:15:00+01:00: {e}",
            text.chars().take(64).collect::<String>()
        ))
    })?;
    let ms = at.with_timezone(&Utc).timestamp_millis();
    instant(ms, "time").map(millis)
}

/// Formats Unix milliseconds as an RFC 3339 UTC timestamp, the inverse of
/// [`parse_rfc3339_ms`] (handy for logs and JSON the app sends elsewhere).
#[uniffi::export]
pub fn format_rfc3339_ms(ms: i64) -> Result<String, TachoError> {
    Ok(instant(ms, "time")?.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

// ---- enums ---------------------------------------------------------------

/// Mirrors a plain core enum both ways, variant by variant, so adding a
/// variant to the core is a compile error here rather than a silent gap.
macro_rules! mirror_enum {
    ($(#[$meta:meta])* $name:ident <=> $core:path { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl From<$core> for $name {
            fn from(v: $core) -> Self {
                use $core as C;
                match v {
                    $(C::$variant => Self::$variant),+
                }
            }
        }

        impl From<$name> for $core {
            fn from(v: $name) -> Self {
                use $core as C;
                match v {
                    $($name::$variant => C::$variant),+
                }
            }
        }
    };
}

mirror_enum!(
    /// What told Tacho that a trip started; the CarPlay/Bluetooth shortcut
    /// passes `Carplay` or `Bluetooth`.
    TripSource <=> trip::TripSource {
        /// CarPlay connected (App Intent / Shortcuts automation).
        Carplay,
        /// The car's Bluetooth connected.
        Bluetooth,
        /// Started by hand.
        Manual,
        /// A relay automation hook.
        Hook,
        /// A car manufacturer API.
        CarApi,
        /// A GPS track file.
        Import,
        /// Pings alone, started when movement was clear.
        Auto,
    }
);

mirror_enum!(
    /// Lifecycle of a trip, so a list can grey out discarded ones.
    TripState <=> trip::TripState {
        /// Still recording.
        Active,
        /// Finished; edits are kept in its history.
        Ended,
        /// Thrown away (kept as a tombstone for sync).
        Discarded,
    }
);

mirror_enum!(
    /// Tax category of a trip: the one-tap choice on the watch.
    Purpose <=> trip::Purpose {
        /// Driven for work.
        Business,
        /// Private use.
        Private,
        /// Home to the regular workplace.
        Commute,
    }
);

mirror_enum!(
    /// Who decided a trip's purpose, so the UI can show "suggested" vs "chosen".
    Decider <=> trip::Decider {
        /// The place rules.
        Rule,
        /// The person.
        User,
    }
);

mirror_enum!(
    /// Role of a place in classification (home↔office is a commute, a client
    /// makes a trip business).
    PlaceKind <=> place::PlaceKind {
        /// Home.
        Home,
        /// The regular workplace.
        Office,
        /// A client (business partner).
        Client,
        /// Anything else worth naming.
        Other,
    }
);

mirror_enum!(
    /// Editable fields of a trip; edits of an ended trip are kept as history.
    TripField <=> trip::TripField {
        /// The purpose (`business`, `private`, `commute`).
        Purpose,
        /// Business partner visited.
        BusinessPartner,
        /// Free note.
        Note,
        /// Start address.
        StartAddress,
        /// End address.
        EndAddress,
        /// Odometer at the start, in km.
        OdometerStart,
        /// Odometer at the end, in km.
        OdometerEnd,
        /// The car (id, name or plate).
        Car,
        /// History only: discarded or restored.
        Discarded,
        /// History only: merged into another trip.
        MergedInto,
        /// History only: made by merging trips.
        MergedFrom,
        /// History only: split into parts.
        SplitInto,
        /// History only: a part split from a trip.
        SplitFrom,
    }
);

mirror_enum!(
    /// Whether a trip counts in totals, and if not why.
    TripStatus <=> tacho_model::lineage::TripStatus {
        /// Counts in totals and reports.
        Current,
        /// Discarded by a person; restorable.
        Discarded,
        /// Replaced by a merged trip or split parts, which count instead.
        Replaced,
        /// A merge or split that lost to a concurrent one on the same source
        /// (or whose source was discarded); kept for the history.
        Superseded,
    }
);

mirror_enum!(
    /// Which field of a time entry an edit changed.
    EntryField <=> work::EntryField {
        /// The project (history values are project names).
        Project,
        /// The description.
        Description,
        /// The start (RFC 3339).
        Start,
        /// The stop (RFC 3339).
        Stop,
        /// The tags (joined with `, `).
        Tags,
        /// Billable (`yes` / `no`).
        Billable,
        /// The linked trip (id).
        Trip,
        /// Deleted (`yes`) or restored (`no`).
        Deleted,
    }
);

mirror_enum!(
    /// Which end of a trip an odometer reading belongs to.
    TripEnd <=> car::TripEnd {
        /// When the trip started.
        Start,
        /// When the trip ended.
        End,
    }
);

mirror_enum!(
    /// How a time entry came to be.
    EntrySource <=> work::EntrySource {
        /// The timer.
        Timer,
        /// Typed in afterwards.
        Manual,
        /// Travel time of a trip.
        Trip,
        /// Pulled from a connected timesheet service (Toggl, Tempo, Kimai, Zammad).
        Connector,
    }
);

mirror_enum!(
    /// Output format of a report.
    ReportFormat <=> tacho_core::report::ReportFormat {
        /// CSV with a `kind` column first.
        Csv,
        /// An Excel workbook.
        Xlsx,
        /// JSON, for machines.
        Json,
    }
);

mirror_enum!(
    /// Why a well-formed fix was ignored (not an error: a retried upload or a
    /// late delivery).
    DropReason <=> detector::DropReason {
        /// Same time and position as the last accepted fix.
        Duplicate,
        /// Not later than the last accepted fix, or before the trip began.
        OutOfOrder,
    }
);

/// How a project's durations are rounded in views and reports (stored times
/// never are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Rounding {
    /// Exact durations.
    None,
    /// Up to the next multiple of `minutes`.
    Up {
        /// Step, 1..=1440.
        minutes: u32,
    },
    /// Down to the previous multiple of `minutes`.
    Down {
        /// Step, 1..=1440.
        minutes: u32,
    },
    /// To the nearest multiple of `minutes`.
    Nearest {
        /// Step, 1..=1440.
        minutes: u32,
    },
}

impl From<work::Rounding> for Rounding {
    fn from(r: work::Rounding) -> Self {
        match r {
            work::Rounding::None => Self::None,
            work::Rounding::Up(minutes) => Self::Up { minutes },
            work::Rounding::Down(minutes) => Self::Down { minutes },
            work::Rounding::Nearest(minutes) => Self::Nearest { minutes },
        }
    }
}

impl TryFrom<Rounding> for work::Rounding {
    type Error = TachoError;
    fn try_from(r: Rounding) -> Result<Self, TachoError> {
        let check = |minutes: u32| {
            if (1..=1440).contains(&minutes) {
                Ok(minutes)
            } else {
                Err(TachoError::bad_input(format!(
                    "rounding step {minutes} minutes is outside 1..=1440"
                )))
            }
        };
        Ok(match r {
            Rounding::None => Self::None,
            Rounding::Up { minutes } => Self::Up(check(minutes)?),
            Rounding::Down { minutes } => Self::Down(check(minutes)?),
            Rounding::Nearest { minutes } => Self::Nearest(check(minutes)?),
        })
    }
}

// ---- trips ---------------------------------------------------------------

/// A WGS84 position in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct LatLon {
    /// Latitude, -90..=90.
    pub lat: f64,
    /// Longitude, -180..=180.
    pub lon: f64,
}

impl From<tacho_model::gps::LatLon> for LatLon {
    fn from(p: tacho_model::gps::LatLon) -> Self {
        Self {
            lat: p.lat,
            lon: p.lon,
        }
    }
}

/// One GPS fix as Core Location (or a test) reports it. Range checks (NaN,
/// out-of-range coordinates, negative accuracy) happen in the core's
/// detector so a batch can count refused fixes instead of failing.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct Ping {
    /// When the fix was taken, Unix ms.
    pub at_ms: i64,
    /// Latitude in decimal degrees.
    pub lat: f64,
    /// Longitude in decimal degrees.
    pub lon: f64,
    /// Horizontal accuracy radius in metres, if known.
    #[uniffi(default = None)]
    pub accuracy_m: Option<f64>,
    /// Ground speed in m/s, if known.
    #[uniffi(default = None)]
    pub speed_mps: Option<f64>,
    /// Course over ground in degrees from north, if known.
    #[uniffi(default = None)]
    pub heading_deg: Option<f64>,
    /// Altitude in metres, if known.
    #[uniffi(default = None)]
    pub altitude_m: Option<f64>,
}

impl TryFrom<Ping> for tacho_model::gps::Ping {
    type Error = TachoError;
    fn try_from(p: Ping) -> Result<Self, TachoError> {
        Ok(Self {
            at: instant(p.at_ms, "fix time")?,
            lat: p.lat,
            lon: p.lon,
            accuracy_m: p.accuracy_m,
            speed_mps: p.speed_mps,
            heading_deg: p.heading_deg,
            altitude_m: p.altitude_m,
        })
    }
}

impl From<tacho_model::gps::Ping> for Ping {
    fn from(p: tacho_model::gps::Ping) -> Self {
        Self {
            at_ms: millis(p.at),
            lat: p.lat,
            lon: p.lon,
            accuracy_m: p.accuracy_m,
            speed_mps: p.speed_mps,
            heading_deg: p.heading_deg,
            altitude_m: p.altitude_m,
        }
    }
}

/// One drive.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Trip {
    /// Trip id (UUID).
    pub id: String,
    /// Car id, when known.
    pub car_id: Option<String>,
    /// Lifecycle state.
    pub state: TripState,
    /// What started it.
    pub source: TripSource,
    /// Car hint from the connect event (Bluetooth / CarPlay name).
    pub car_hint: Option<String>,
    /// Start, Unix ms.
    pub started_at_ms: i64,
    /// End, Unix ms, once ended.
    pub ended_at_ms: Option<i64>,
    /// IANA zone it was recorded in.
    pub time_zone: String,
    /// First position.
    pub start: Option<LatLon>,
    /// Last position.
    pub end: Option<LatLon>,
    /// Start address.
    pub start_address: Option<String>,
    /// End address.
    pub end_address: Option<String>,
    /// Known place at the start (place id).
    pub start_place_id: Option<String>,
    /// Known place at the end (place id).
    pub end_place_id: Option<String>,
    /// Filtered GPS distance in metres.
    pub distance_m: f64,
    /// Points recorded.
    pub point_count: u32,
    /// Tax category; `None` while unclassified (the watch offers the one-tap choice).
    pub purpose: Option<Purpose>,
    /// Who set `purpose`.
    pub purpose_by: Option<Decider>,
    /// Business partner.
    pub business_partner: Option<String>,
    /// Free note.
    pub note: Option<String>,
    /// Closed by recovery after a long silence rather than a disconnect.
    pub recovered: bool,
}

impl From<trip::Trip> for Trip {
    fn from(t: trip::Trip) -> Self {
        Self {
            id: t.id.to_string(),
            car_id: t.car_id.map(|c| c.to_string()),
            state: t.state.into(),
            source: t.source.into(),
            car_hint: t.car_hint,
            started_at_ms: millis(t.started_at),
            ended_at_ms: t.ended_at.map(millis),
            time_zone: t.time_zone,
            start: t.start.map(Into::into),
            end: t.end.map(Into::into),
            start_address: t.start_address,
            end_address: t.end_address,
            start_place_id: t.start_place.map(|p| p.to_string()),
            end_place_id: t.end_place.map(|p| p.to_string()),
            distance_m: t.distance_m,
            point_count: t.point_count,
            purpose: t.purpose.map(Into::into),
            purpose_by: t.purpose_by.map(Into::into),
            business_partner: t.business_partner,
            note: t.note,
            recovered: t.recovered,
        }
    }
}

/// The trip being recorded, for the watch's live view.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ActiveTrip {
    /// The trip header.
    pub trip: Trip,
    /// Live filtered distance in metres (the header's `distance_m` is only
    /// final once the trip ends).
    pub distance_m: f64,
    /// Seconds since the trip started, by the core's clock.
    pub duration_s: i64,
}

/// One change to an ended trip (kept forever: German Fahrtenbuch rule).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TripEdit {
    /// Which field.
    pub field: TripField,
    /// Value before.
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Device that made it.
    pub device_id: String,
}

impl From<trip::TripEdit> for TripEdit {
    fn from(e: trip::TripEdit) -> Self {
        Self {
            field: e.field.into(),
            old_value: e.old_value,
            new_value: e.new_value,
            at_ms: millis(e.at),
            device_id: e.device.to_string(),
        }
    }
}

/// Everything about one trip, for a detail view.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TripDetail {
    /// The header.
    pub trip: Trip,
    /// Points stored.
    pub point_count: u32,
    /// Odometer at the start in metres, if read.
    pub odometer_start_m: Option<i64>,
    /// Odometer at the end in metres, if read.
    pub odometer_end_m: Option<i64>,
    /// Every change made after the trip ended, oldest first.
    pub history: Vec<TripEdit>,
    /// Whether it counts in totals, and if not why.
    pub status: TripStatus,
    /// What it was merged or split from, and what replaced it.
    pub lineage: TripLineage,
}

impl From<tacho_core::TripDetail> for TripDetail {
    fn from(d: tacho_core::TripDetail) -> Self {
        Self {
            trip: d.trip.into(),
            point_count: d.point_count,
            odometer_start_m: d.odometer_start.map(|r| r.odometer_m),
            odometer_end_m: d.odometer_end.map(|r| r.odometer_m),
            history: d.history.into_iter().map(Into::into).collect(),
            status: d.status.into(),
            lineage: d.lineage.into(),
        }
    }
}

fn trip_ids(ids: Option<Vec<tacho_model::id::TripId>>) -> Vec<String> {
    ids.unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Where a trip came from and what replaced it (merge and split).
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct TripLineage {
    /// For a merged trip: its sources (ids), in time order; empty otherwise.
    pub merged_from: Vec<String>,
    /// For a split part: the trip it was cut from.
    pub split_from: Option<String>,
    /// For a split part: its points are the source's from this instant
    /// (Unix ms, inclusive; `None` = from the start).
    pub window_from_ms: Option<i64>,
    /// For a split part: … until this instant (Unix ms, exclusive; `None` =
    /// to the end).
    pub window_until_ms: Option<i64>,
    /// For a source: the trips that replace it (the merged trip, or the
    /// split parts); empty otherwise.
    pub replaced_by: Vec<String>,
}

impl From<tacho_model::lineage::TripLineage> for TripLineage {
    fn from(l: tacho_model::lineage::TripLineage) -> Self {
        Self {
            merged_from: trip_ids(l.merged_from),
            split_from: l.split_from.map(|t| t.to_string()),
            window_from_ms: l.window_from.map(millis),
            window_until_ms: l.window_until.map(millis),
            replaced_by: trip_ids(l.replaced_by),
        }
    }
}

/// A trip's status by id (see [`crate::core::Core::trip_statuses`]).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TripStatusOf {
    /// Trip id.
    pub trip_id: String,
    /// Its status.
    pub status: TripStatus,
}

/// Where to split a trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SplitAt {
    /// At this instant (Unix ms): fixes before it go to the first part.
    Time {
        /// The instant, Unix ms.
        at_ms: i64,
    },
    /// At its longest stop (at least a minute within 150 m).
    LongestStop,
}

impl TryFrom<SplitAt> for tacho_core::SplitAt {
    type Error = TachoError;
    fn try_from(s: SplitAt) -> Result<Self, TachoError> {
        Ok(match s {
            SplitAt::Time { at_ms } => Self::Time(instant(at_ms, "split time")?),
            SplitAt::LongestStop => Self::LongestStop,
        })
    }
}

/// The two parts of a split trip, in time order.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SplitTrip {
    /// The first part.
    pub first: TripDetail,
    /// The second part.
    pub second: TripDetail,
}

/// A restored trip, and whether it was discarded at all.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RestoredTrip {
    /// The trip.
    pub trip: TripDetail,
    /// False when it was not discarded (nothing changed).
    pub changed: bool,
}

/// A stored GPS point of a trip, for drawing its path.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TripPoint {
    /// Position within the trip, from 0.
    pub seq: u32,
    /// The fix.
    pub ping: Ping,
    /// Whether it counted toward the distance (false = poor accuracy).
    pub counted: bool,
}

impl From<tacho_core::TripPoint> for TripPoint {
    fn from(p: tacho_core::TripPoint) -> Self {
        Self {
            seq: p.seq,
            ping: p.ping.into(),
            counted: p.counted,
        }
    }
}

/// What one connect / ping / disconnect / tick did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FeedOutcome {
    /// Trips that started (ids).
    pub started: Vec<String>,
    /// Trips that ended (ids).
    pub ended: Vec<String>,
    /// Points stored.
    pub points: u32,
    /// Why a fix was refused, in words, if one was.
    pub rejected: Option<String>,
    /// Why a fix was ignored, if one was.
    pub dropped: Option<DropReason>,
    /// Wild fixes dropped as outliers.
    pub outliers: u32,
    /// A reconnect continued the open trip (fuel stop).
    pub resumed: bool,
    /// Fixes refused in a batch.
    pub rejected_count: u32,
    /// Fixes ignored in a batch as duplicates or out of order.
    pub dropped_count: u32,
}

impl From<tacho_core::FeedOutcome> for FeedOutcome {
    fn from(o: tacho_core::FeedOutcome) -> Self {
        Self {
            started: o.started.iter().map(ToString::to_string).collect(),
            ended: o.ended.iter().map(ToString::to_string).collect(),
            points: o.points,
            rejected: o.rejected.map(|r| r.to_string()),
            dropped: o.dropped.map(Into::into),
            outliers: o.outliers,
            resumed: o.resumed,
            rejected_count: o.rejected_count,
            dropped_count: o.dropped_count,
        }
    }
}

/// Which trips to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct TripFilter {
    /// Only trips starting at or after this instant (Unix ms).
    #[uniffi(default = None)]
    pub from_ms: Option<i64>,
    /// Only trips starting before this instant (Unix ms).
    #[uniffi(default = None)]
    pub until_ms: Option<i64>,
    /// Only this car's trips (id, name or plate).
    #[uniffi(default = None)]
    pub car: Option<String>,
    /// Include discarded trips.
    #[uniffi(default = false)]
    pub include_discarded: bool,
    /// At most this many, newest first.
    #[uniffi(default = None)]
    pub limit: Option<u32>,
}

// ---- cars and places -----------------------------------------------------

/// A car; the mileage log is kept per car.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Car {
    /// Car id.
    pub id: String,
    /// Short name.
    pub name: String,
    /// Manufacturer.
    pub make: Option<String>,
    /// Model / type.
    pub model: Option<String>,
    /// Licence plate.
    pub plate: String,
    /// First day available, `YYYY-MM-DD`.
    pub available_from: Option<String>,
    /// Last day available, `YYYY-MM-DD`.
    pub available_to: Option<String>,
    /// Bluetooth / CarPlay name that identifies it in connect events.
    pub connect_hint: Option<String>,
    /// Retired (sold): its trips stay, no new trip is recorded in it.
    pub retired: bool,
}

impl From<car::Car> for Car {
    fn from(c: car::Car) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name,
            make: c.make,
            model: c.model,
            plate: c.plate,
            available_from: c.available_from.map(|d| d.to_string()),
            available_to: c.available_to.map(|d| d.to_string()),
            connect_hint: c.connect_hint,
            retired: c.retired,
        }
    }
}

/// A new car as people enter it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewCar {
    /// Short name.
    pub name: String,
    /// Licence plate.
    pub plate: String,
    /// Manufacturer.
    #[uniffi(default = None)]
    pub make: Option<String>,
    /// Model / type.
    #[uniffi(default = None)]
    pub model: Option<String>,
    /// First day available, `YYYY-MM-DD`.
    #[uniffi(default = None)]
    pub available_from: Option<String>,
    /// Last day available, `YYYY-MM-DD`.
    #[uniffi(default = None)]
    pub available_to: Option<String>,
    /// Bluetooth / CarPlay name of the car.
    #[uniffi(default = None)]
    pub connect_hint: Option<String>,
}

impl TryFrom<NewCar> for tacho_core::NewCar {
    type Error = TachoError;
    fn try_from(c: NewCar) -> Result<Self, TachoError> {
        Ok(Self {
            name: c.name,
            plate: c.plate,
            make: c.make,
            model: c.model,
            available_from: c
                .available_from
                .as_deref()
                .map(|d| day(d, "available-from date"))
                .transpose()?,
            available_to: c
                .available_to
                .as_deref()
                .map(|d| day(d, "available-to date"))
                .transpose()?,
            connect_hint: c.connect_hint,
        })
    }
}

/// A named circle on the map (home, office, a client).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Place {
    /// Place id.
    pub id: String,
    /// Display name; for clients, the business partner.
    pub name: String,
    /// Role in classification.
    pub kind: PlaceKind,
    /// Centre latitude.
    pub lat: f64,
    /// Centre longitude.
    pub lon: f64,
    /// Radius in metres.
    pub radius_m: f64,
    /// Street address.
    pub address: Option<String>,
}

impl From<place::Place> for Place {
    fn from(p: place::Place) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name,
            kind: p.kind.into(),
            lat: p.center.lat,
            lon: p.center.lon,
            radius_m: p.radius_m,
            address: p.address,
        }
    }
}

/// A new place. The store checks the coordinates (finite, in range) and the
/// radius (10 m to 50 km).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewPlace {
    /// Display name.
    pub name: String,
    /// Role in classification.
    pub kind: PlaceKind,
    /// Centre latitude.
    pub lat: f64,
    /// Centre longitude.
    pub lon: f64,
    /// Radius in metres.
    #[uniffi(default = 150.0)]
    pub radius_m: f64,
    /// Street address.
    #[uniffi(default = None)]
    pub address: Option<String>,
}

impl From<NewPlace> for place::Place {
    fn from(p: NewPlace) -> Self {
        Self {
            id: tacho_model::id::PlaceId::new(),
            name: p.name.trim().to_owned(),
            kind: p.kind.into(),
            center: tacho_model::gps::LatLon {
                lat: p.lat,
                lon: p.lon,
            },
            radius_m: p.radius_m,
            address: p.address,
        }
    }
}

// ---- work ----------------------------------------------------------------

/// Something time is booked on.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Project {
    /// Project id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Client billed.
    pub client: Option<String>,
    /// Entries billable by default.
    pub billable: bool,
    /// Rounding in views and reports.
    pub rounding: Rounding,
    /// Archived: kept for its entries and reports, hidden from default
    /// lists, no new time can be booked on it.
    pub archived: bool,
}

impl From<work::Project> for Project {
    fn from(p: work::Project) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name,
            client: p.client,
            billable: p.billable,
            rounding: p.rounding.into(),
            archived: p.archived,
        }
    }
}

/// A span of worked time; `stop_ms` is `None` while the timer runs.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TimeEntry {
    /// Entry id.
    pub id: String,
    /// Project id.
    pub project_id: Option<String>,
    /// What was done.
    pub description: String,
    /// Start, Unix ms (never rounded).
    pub start_ms: i64,
    /// Stop, Unix ms.
    pub stop_ms: Option<i64>,
    /// Tags.
    pub tags: Vec<String>,
    /// Billable.
    pub billable: bool,
    /// Origin.
    pub source: EntrySource,
    /// Trip this entry is travel time for.
    pub trip_id: Option<String>,
}

impl From<work::TimeEntry> for TimeEntry {
    fn from(e: work::TimeEntry) -> Self {
        Self {
            id: e.id.to_string(),
            project_id: e.project_id.map(|p| p.to_string()),
            description: e.description,
            start_ms: millis(e.start),
            stop_ms: e.stop.map(millis),
            tags: e.tags,
            billable: e.billable,
            source: e.source.into(),
            trip_id: e.trip_id.map(|t| t.to_string()),
        }
    }
}

/// A finished entry typed in afterwards, or travel time for a trip.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct NewEntry {
    /// Project name or id.
    #[uniffi(default = None)]
    pub project: Option<String>,
    /// What was done.
    #[uniffi(default = "")]
    pub description: String,
    /// Start, Unix ms (defaults to the trip's start for travel time).
    #[uniffi(default = None)]
    pub start_ms: Option<i64>,
    /// Stop, Unix ms (defaults to the trip's end for travel time).
    #[uniffi(default = None)]
    pub stop_ms: Option<i64>,
    /// Tags.
    #[uniffi(default = [])]
    pub tags: Vec<String>,
    /// Billable; defaults to the project's setting.
    #[uniffi(default = None)]
    pub billable: Option<bool>,
    /// Trip (id or prefix) this is travel time for.
    #[uniffi(default = None)]
    pub trip: Option<String>,
}

impl TryFrom<NewEntry> for tacho_core::NewEntry {
    type Error = TachoError;
    fn try_from(e: NewEntry) -> Result<Self, TachoError> {
        let start = instant_opt(e.start_ms, "entry start")?;
        let stop = instant_opt(e.stop_ms, "entry stop")?;
        if let (Some(start), Some(stop)) = (start, stop)
            && stop < start
        {
            return Err(TachoError::bad_input(
                "an entry can't stop before it starts",
            ));
        }
        Ok(Self {
            project: e.project,
            description: e.description,
            start,
            stop,
            tags: e.tags,
            billable: e.billable,
            trip: e.trip,
        })
    }
}

// ---- edits -----------------------------------------------------------------

/// A value to set, or clear: `clear` with a value is refused, since it is
/// ambiguous. `None` and no `clear` leaves the field as it is.
fn set_or_clear<T>(
    value: Option<T>,
    clear: bool,
    what: &str,
) -> Result<Option<Option<T>>, TachoError> {
    match (value, clear) {
        (Some(_), true) => Err(TachoError::bad_input(format!(
            "both a new {what} and clearing it were asked for; pick one"
        ))),
        (Some(v), false) => Ok(Some(Some(v))),
        (None, true) => Ok(Some(None)),
        (None, false) => Ok(None),
    }
}

/// A change to a time entry: every `None` field stays as it is; the
/// `clear_*` flags remove a project or trip link.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EntryEdit {
    /// New project (name or id).
    #[uniffi(default = None)]
    pub project: Option<String>,
    /// Book the entry on no project.
    #[uniffi(default = false)]
    pub clear_project: bool,
    /// New description.
    #[uniffi(default = None)]
    pub description: Option<String>,
    /// New start, Unix ms.
    #[uniffi(default = None)]
    pub start_ms: Option<i64>,
    /// New stop, Unix ms (setting it on the running timer stops it).
    #[uniffi(default = None)]
    pub stop_ms: Option<i64>,
    /// The whole new set of tags (replaces the old set; `[]` removes all).
    #[uniffi(default = None)]
    pub tags: Option<Vec<String>>,
    /// New billable flag.
    #[uniffi(default = None)]
    pub billable: Option<bool>,
    /// Link to this trip (id or prefix) as its travel time.
    #[uniffi(default = None)]
    pub trip: Option<String>,
    /// Remove the trip link.
    #[uniffi(default = false)]
    pub clear_trip: bool,
}

impl TryFrom<EntryEdit> for tacho_core::EntryEdit {
    type Error = TachoError;
    fn try_from(e: EntryEdit) -> Result<Self, TachoError> {
        let start = instant_opt(e.start_ms, "entry start")?;
        let stop = instant_opt(e.stop_ms, "entry stop")?;
        if let (Some(start), Some(stop)) = (start, stop)
            && stop < start
        {
            return Err(TachoError::bad_input(
                "an entry can't stop before it starts",
            ));
        }
        Ok(Self {
            project: set_or_clear(e.project, e.clear_project, "project")?,
            description: e.description,
            start,
            stop,
            tags: e.tags,
            billable: e.billable,
            trip: set_or_clear(e.trip, e.clear_trip, "trip")?,
        })
    }
}

/// One change in a time entry's history (append-only; who, when, old and new).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TimeEntryEdit {
    /// The entry changed.
    pub entry_id: String,
    /// Which field.
    pub field: EntryField,
    /// Value before, as shown to people (`None` = empty).
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Device that made it.
    pub device_id: String,
    /// The locked month this edit changed although it reached this device
    /// after the lock, if so.
    pub arrived_after_lock: Option<String>,
}

impl From<work::TimeEntryEdit> for TimeEntryEdit {
    fn from(e: work::TimeEntryEdit) -> Self {
        Self {
            entry_id: e.entry_id.to_string(),
            field: e.field.into(),
            old_value: e.old_value,
            new_value: e.new_value,
            at_ms: millis(e.at),
            device_id: e.device.to_string(),
            arrived_after_lock: e.arrived_after_lock,
        }
    }
}

/// One time entry for a detail view: the entry, whether it is deleted, its
/// project and its whole history.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EntryDetail {
    /// The entry.
    pub entry: TimeEntry,
    /// Deleted (a restore brings it back).
    pub deleted: bool,
    /// Its project (also an archived or deleted one), if any.
    pub project: Option<Project>,
    /// Every edit, delete and restore, oldest first.
    pub history: Vec<TimeEntryEdit>,
}

impl From<tacho_core::EntryDetail> for EntryDetail {
    fn from(d: tacho_core::EntryDetail) -> Self {
        Self {
            entry: d.entry.into(),
            deleted: d.deleted,
            project: d.project.map(Into::into),
            history: d.history.into_iter().map(Into::into).collect(),
        }
    }
}

/// A change to a project; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ProjectChange {
    /// New name.
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// New client.
    #[uniffi(default = None)]
    pub client: Option<String>,
    /// Remove the client.
    #[uniffi(default = false)]
    pub clear_client: bool,
    /// New default billable flag.
    #[uniffi(default = None)]
    pub billable: Option<bool>,
    /// New rounding.
    #[uniffi(default = None)]
    pub rounding: Option<Rounding>,
}

impl TryFrom<ProjectChange> for tacho_core::ProjectChange {
    type Error = TachoError;
    fn try_from(c: ProjectChange) -> Result<Self, TachoError> {
        Ok(Self {
            name: c.name,
            client: set_or_clear(c.client, c.clear_client, "client")?,
            billable: c.billable,
            rounding: c.rounding.map(work::Rounding::try_from).transpose()?,
        })
    }
}

/// A change to a car; `None` fields stay as they are, `clear_*` removes one.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct CarChange {
    /// New short name.
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// New licence plate.
    #[uniffi(default = None)]
    pub plate: Option<String>,
    /// New make.
    #[uniffi(default = None)]
    pub make: Option<String>,
    /// Remove the make.
    #[uniffi(default = false)]
    pub clear_make: bool,
    /// New model.
    #[uniffi(default = None)]
    pub model: Option<String>,
    /// Remove the model.
    #[uniffi(default = false)]
    pub clear_model: bool,
    /// New first day available, `YYYY-MM-DD`.
    #[uniffi(default = None)]
    pub available_from: Option<String>,
    /// Remove the first day available.
    #[uniffi(default = false)]
    pub clear_available_from: bool,
    /// New last day available, `YYYY-MM-DD`.
    #[uniffi(default = None)]
    pub available_to: Option<String>,
    /// Remove the last day available.
    #[uniffi(default = false)]
    pub clear_available_to: bool,
    /// New Bluetooth / CarPlay name.
    #[uniffi(default = None)]
    pub connect_hint: Option<String>,
    /// Remove the Bluetooth / CarPlay name.
    #[uniffi(default = false)]
    pub clear_connect_hint: bool,
}

impl TryFrom<CarChange> for tacho_core::CarChange {
    type Error = TachoError;
    fn try_from(c: CarChange) -> Result<Self, TachoError> {
        let from = c
            .available_from
            .as_deref()
            .map(|d| day(d, "available-from date"))
            .transpose()?;
        let to = c
            .available_to
            .as_deref()
            .map(|d| day(d, "available-to date"))
            .transpose()?;
        Ok(Self {
            name: c.name,
            plate: c.plate,
            make: set_or_clear(c.make, c.clear_make, "make")?,
            model: set_or_clear(c.model, c.clear_model, "model")?,
            available_from: set_or_clear(from, c.clear_available_from, "available-from date")?,
            available_to: set_or_clear(to, c.clear_available_to, "available-to date")?,
            connect_hint: set_or_clear(c.connect_hint, c.clear_connect_hint, "connect hint")?,
        })
    }
}

/// A change to a place; `None` fields stay as they are. `lat` and `lon` are
/// given together. The store checks coordinates and radius.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct PlaceChange {
    /// New name.
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// New role.
    #[uniffi(default = None)]
    pub kind: Option<PlaceKind>,
    /// New centre latitude (with `lon`).
    #[uniffi(default = None)]
    pub lat: Option<f64>,
    /// New centre longitude (with `lat`).
    #[uniffi(default = None)]
    pub lon: Option<f64>,
    /// New radius in metres.
    #[uniffi(default = None)]
    pub radius_m: Option<f64>,
    /// New street address.
    #[uniffi(default = None)]
    pub address: Option<String>,
    /// Remove the street address.
    #[uniffi(default = false)]
    pub clear_address: bool,
}

impl TryFrom<PlaceChange> for tacho_core::PlaceChange {
    type Error = TachoError;
    fn try_from(c: PlaceChange) -> Result<Self, TachoError> {
        let center = match (c.lat, c.lon) {
            (Some(lat), Some(lon)) => Some(tacho_model::gps::LatLon { lat, lon }),
            (None, None) => None,
            _ => {
                return Err(TachoError::bad_input(
                    "a new position needs both `lat` and `lon`",
                ));
            }
        };
        Ok(Self {
            name: c.name,
            kind: c.kind.map(Into::into),
            center,
            radius_m: c.radius_m,
            address: set_or_clear(c.address, c.clear_address, "address")?,
        })
    }
}

/// Which entries to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EntryFilter {
    /// Entries starting at or after this instant (Unix ms).
    #[uniffi(default = None)]
    pub from_ms: Option<i64>,
    /// Entries starting before this instant (Unix ms).
    #[uniffi(default = None)]
    pub until_ms: Option<i64>,
    /// Only this project's entries (name or id).
    #[uniffi(default = None)]
    pub project: Option<String>,
}

/// The timer as a watch face shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TimerStatus {
    /// The running entry, if any.
    pub running: Option<TimeEntry>,
    /// Its project.
    pub project: Option<Project>,
    /// Raw elapsed seconds of the running entry.
    pub elapsed_s: i64,
    /// Raw seconds worked today (UTC day, see the core) including the running entry.
    pub today_s: i64,
    /// The same, rounded per project.
    pub today_rounded_s: i64,
}

impl From<tacho_core::TimerStatus> for TimerStatus {
    fn from(s: tacho_core::TimerStatus) -> Self {
        Self {
            running: s.running.map(Into::into),
            project: s.project.map(Into::into),
            elapsed_s: s.elapsed_s,
            today_s: s.today_s,
            today_rounded_s: s.today_rounded_s,
        }
    }
}

// ---- sync ----------------------------------------------------------------

/// Sign-in and queue state, for a settings screen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatus {
    /// Whether this database is signed in to a relay.
    pub signed_in: bool,
    /// Relay URL, when signed in.
    pub relay_url: Option<String>,
    /// Account id, when signed in.
    pub account_id: Option<String>,
    /// Own ops not yet confirmed by the relay.
    pub pending_ops: u64,
    /// Ops the relay refused as invalid and that were parked (the queue moved on).
    pub parked_ops: u64,
    /// Last successful sync, Unix ms.
    pub last_sync_at_ms: Option<i64>,
    /// Last error, in words.
    pub last_error: Option<String>,
}

impl From<tacho_core::SyncStatus> for SyncStatus {
    fn from(s: tacho_core::SyncStatus) -> Self {
        Self {
            signed_in: s.relay_url.is_some(),
            relay_url: s.relay_url,
            account_id: s.account_id,
            pending_ops: s.pending_ops,
            parked_ops: u64::try_from(s.parked_ops).unwrap_or(u64::MAX),
            last_sync_at_ms: s.last_sync_at.map(millis),
            last_error: s.last_error,
        }
    }
}

/// What `logout` did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogoutReport {
    /// Whether the relay revoked the session (false when it could not be reached: the tokens
    /// are forgotten here anyway).
    pub revoked_on_relay: bool,
    /// Why the relay did not revoke it.
    pub relay_error: Option<String>,
    /// Whether the local records were deleted too.
    pub forgot_data: bool,
    /// Own changes still waiting for the relay (kept; pushed after the next sign-in).
    pub unsynced_ops: u64,
}

impl From<tacho_core::LogoutReport> for LogoutReport {
    fn from(r: tacho_core::LogoutReport) -> Self {
        Self {
            revoked_on_relay: r.revoked_on_relay,
            relay_error: r.relay_error,
            forgot_data: r.forgot_data,
            unsynced_ops: r.unsynced_ops,
        }
    }
}

/// One device of the account, for a "devices" settings screen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceInfo {
    /// The device's id.
    pub device_id: String,
    /// Its name.
    pub name: String,
    /// When it first signed in (RFC 3339 UTC).
    pub created_at: String,
    /// When it last pushed changes (RFC 3339 UTC), if ever.
    pub last_push_at: Option<String>,
    /// Whether it is this device.
    pub current: bool,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

impl From<tacho_core::DeviceInfo> for DeviceInfo {
    fn from(d: tacho_core::DeviceInfo) -> Self {
        Self {
            device_id: d.device_id.to_string(),
            name: d.name,
            created_at: d.created_at,
            last_push_at: d.last_push_at,
            current: d.current,
            revoked_at: d.revoked_at,
        }
    }
}

/// An OpenID Connect sign-in waiting for the browser (from `oidc_begin`). Open
/// `authorization_url` in a browser session (ASWebAuthenticationSession, Custom Tabs) and pass
/// the URL it comes back with to `oidc_complete` together with `pending`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OidcPending {
    /// The provider's page to open in the browser session.
    pub authorization_url: String,
    /// The `state` the redirect must carry (for matching the callback to this sign-in).
    pub state: String,
    /// Where the browser comes back (the callback URL scheme to listen for).
    pub redirect_uri: String,
    /// When the relay forgets this sign-in, Unix ms.
    pub expires_at_ms: i64,
    /// The whole sign-in, opaque, for `oidc_complete`. It holds the PKCE verifier: keep it
    /// private (memory or the keychain, never logs or analytics) and drop it afterwards.
    pub pending: String,
}

/// A one-time nonce for a native ID-token sign-in (from `oidc_nonce`); pass `nonce` verbatim
/// to the platform's request (`ASAuthorizationAppleIDRequest.nonce`), not hashed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OidcNonce {
    /// The nonce, for the platform request and for `oidc_sign_in_with_id_token`.
    pub nonce: String,
    /// When the relay forgets it, Unix ms.
    pub expires_at_ms: i64,
}

/// What one sync run did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Own ops the relay confirmed.
    pub pushed: u64,
    /// Ops pulled.
    pub pulled: u64,
    /// Pulled ops that changed local data.
    pub changed: u64,
    /// Own ops parked as invalid.
    pub parked: u64,
    /// The pull cursor after the run.
    pub cursor: u64,
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl From<tacho_core::SyncReport> for SyncReport {
    fn from(r: tacho_core::SyncReport) -> Self {
        Self {
            pushed: count(r.pushed),
            pulled: count(r.pulled),
            changed: count(r.changed),
            parked: count(r.parked),
            cursor: r.cursor,
        }
    }
}

/// An op the relay refused as permanently invalid, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ParkedOp {
    /// Op id.
    pub op_id: String,
    /// Entity kind, e.g. `trip`.
    pub entity: String,
    /// Entity id.
    pub entity_id: String,
    /// The relay's error code.
    pub code: String,
    /// The relay's message.
    pub reason: String,
    /// When it was parked, Unix ms.
    pub parked_at_ms: i64,
}

impl From<tacho_core::ParkedOp> for ParkedOp {
    fn from(p: tacho_core::ParkedOp) -> Self {
        Self {
            op_id: p.op.op_id.to_string(),
            entity: p.op.entity.as_str().to_owned(),
            entity_id: p.op.entity_id.to_string(),
            code: p.code,
            reason: p.message,
            parked_at_ms: millis(p.parked_at),
        }
    }
}

/// A session the phone minted for the watch: everything the watch needs to
/// sync without ever seeing the password. Secret: hand it over only on an
/// encrypted channel (WatchConnectivity) and keep it in the Keychain.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceHandoff {
    /// Relay base URL.
    pub relay_url: String,
    /// Account id.
    pub account_id: String,
    /// The account's space.
    pub space_id: String,
    /// The device the session is for (the watch's own device id).
    pub device_id: String,
    /// Access token.
    pub access_token: String,
    /// Its expiry, Unix ms.
    pub access_expires_at_ms: i64,
    /// Refresh token (rotates on first use).
    pub refresh_token: String,
}

impl From<tacho_core::DeviceHandoff> for DeviceHandoff {
    fn from(h: tacho_core::DeviceHandoff) -> Self {
        Self {
            relay_url: h.relay_url,
            account_id: h.account_id,
            space_id: h.space_id,
            device_id: h.device_id,
            access_token: h.access_token,
            access_expires_at_ms: millis(h.access_expires_at),
            refresh_token: h.refresh_token,
        }
    }
}

impl TryFrom<DeviceHandoff> for tacho_core::DeviceHandoff {
    type Error = TachoError;
    fn try_from(h: DeviceHandoff) -> Result<Self, TachoError> {
        Ok(Self {
            access_expires_at: instant(h.access_expires_at_ms, "session expiry")?,
            relay_url: h.relay_url,
            account_id: h.account_id,
            space_id: h.space_id,
            device_id: h.device_id,
            access_token: h.access_token,
            refresh_token: h.refresh_token,
        })
    }
}

/// Serialises a handoff to the JSON the core uses, for transports that carry
/// bytes or strings (WatchConnectivity's `transferUserInfo`, the Keychain).
#[uniffi::export]
pub fn handoff_to_json(handoff: DeviceHandoff) -> Result<String, TachoError> {
    let core = tacho_core::DeviceHandoff::try_from(handoff)?;
    serde_json::to_string(&core).map_err(|e| TachoError::Internal {
        reason: format!("can't serialise the handoff: {e}"),
    })
}

/// Reads a handoff back from [`handoff_to_json`]'s JSON; malformed input is
/// [`TachoError::BadInput`].
#[uniffi::export]
pub fn handoff_from_json(json: String) -> Result<DeviceHandoff, TachoError> {
    serde_json::from_str::<tacho_core::DeviceHandoff>(&json)
        .map(Into::into)
        .map_err(|e| TachoError::bad_input(format!("not a device handoff: {e}")))
}

// ---- timesheet connectors ------------------------------------------------

/// Where a connection stands on the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ConnectorState {
    /// Pushing and pulling.
    Active,
    /// Paused by the person: work queues, nothing is sent.
    Paused,
    /// The service refused the credentials (see `disabled_reason`): rotate the token on the
    /// relay (CLI or dashboard), then resume.
    Disabled,
    /// Waiting for the service's quota (see `quota_until`).
    Quota,
    /// A state this build does not know (a newer relay); shown as is in `state_name`.
    Unknown,
}

impl ConnectorState {
    /// The state named `name` on the wire.
    fn parse(name: &str) -> Self {
        match name {
            "active" => Self::Active,
            "paused" => Self::Paused,
            "disabled" => Self::Disabled,
            "quota" => Self::Quota,
            _ => Self::Unknown,
        }
    }
}

mirror_enum!(
    /// Where one time entry stands on one connection (a badge on the timesheet).
    LinkState <=> tacho_model::connector::LinkState {
        /// Waiting to be pushed (paused connection, quota, retry after a failure).
        Pending,
        /// The service holds what Tacho holds.
        Synced,
        /// A conflict is open for it: see `conflicts`.
        Conflict,
        /// Pushing failed for good; the link's `message` says why.
        Error,
    }
);

mirror_enum!(
    /// Open or settled.
    ConflictState <=> tacho_model::connector::ConflictState {
        /// Waiting for the person.
        Open,
        /// Resolved (see `resolution`).
        Resolved,
    }
);

mirror_enum!(
    /// How a person settles a conflict.
    Resolution <=> tacho_model::connector::Resolution {
        /// Tacho's values win: they are pushed over the service's.
        KeepLocal,
        /// The service's values win: they are written into the Tacho entry.
        KeepRemote,
        /// Close it and change nothing on either side.
        Dismiss,
    }
);

/// A timesheet connection (Toggl, Tempo, Kimai, Zammad) as the relay lists it. Adding one
/// takes a service token, so it stays a CLI or dashboard task; apps list and steer them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConnectionInfo {
    /// The relay's id of the connection.
    pub id: String,
    /// The person's name for it (the service's name when it has none).
    pub name: String,
    /// The service: `toggl`, `tempo`, `kimai` or `zammad`.
    pub service: String,
    /// Where it stands.
    pub state: ConnectorState,
    /// The state's wire name (`active`, `paused`, …), also for states this build does not know.
    pub state_name: String,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Until when it waits for the service's quota (RFC 3339).
    pub quota_until: Option<String>,
    /// Entries waiting to be pushed.
    pub pending: u64,
    /// Open conflicts.
    pub conflicts: u64,
    /// Entries whose push failed for good.
    pub errors: u64,
    /// Last successful push (RFC 3339).
    pub last_push_at: Option<String>,
    /// Last successful pull (RFC 3339).
    pub last_pull_at: Option<String>,
}

impl From<tacho_model::api::connectors::ConnectionInfo> for ConnectionInfo {
    fn from(c: tacho_model::api::connectors::ConnectionInfo) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.label.unwrap_or_else(|| c.provider.clone()),
            service: c.provider,
            state: ConnectorState::parse(&c.state),
            state_name: c.state,
            disabled_reason: c.disabled_reason,
            quota_until: c.quota_until,
            pending: c.counts.pending,
            conflicts: c.counts.conflicts,
            errors: c.counts.errors,
            last_push_at: c.last_push_at,
            last_pull_at: c.last_pull_at,
        }
    }
}

/// A connection's queue right now (`connector_status`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConnectorStatus {
    /// Where it stands.
    pub state: ConnectorState,
    /// The state's wire name.
    pub state_name: String,
    /// Entries waiting to be pushed.
    pub pending: u64,
    /// Work being done right now.
    pub running: u64,
    /// Open conflicts.
    pub conflicts: u64,
    /// Entries whose push failed for good.
    pub errors: u64,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Last successful push (RFC 3339).
    pub last_push_at: Option<String>,
    /// Last successful pull (RFC 3339).
    pub last_pull_at: Option<String>,
}

impl From<tacho_model::api::connectors::ConnectorStatus> for ConnectorStatus {
    fn from(s: tacho_model::api::connectors::ConnectorStatus) -> Self {
        Self {
            state: ConnectorState::parse(&s.state),
            state_name: s.state,
            pending: s.pending,
            running: s.running,
            conflicts: s.conflicts,
            errors: s.errors,
            last_error: s.last_error,
            last_push_at: s.last_push_at,
            last_pull_at: s.last_pull_at,
        }
    }
}

/// What `connector_run` saw when the connection's work was drained (or given up on).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConnectorRunReport {
    /// The connection's status at the end.
    pub status: ConnectorStatus,
    /// Whether everything queued was pushed (nothing pending or running, no error, active).
    pub drained: bool,
}

impl From<tacho_core::RunReport> for ConnectorRunReport {
    fn from(r: tacho_core::RunReport) -> Self {
        Self {
            status: r.status.into(),
            drained: r.drained,
        }
    }
}

/// A time entry as one side of a conflict holds it. Every field is optional: services keep
/// different subsets (Zammad has no description or start time).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EntrySnapshot {
    /// Description.
    pub description: Option<String>,
    /// Start, Unix ms.
    pub start_ms: Option<i64>,
    /// Stop, Unix ms.
    pub stop_ms: Option<i64>,
    /// Duration in seconds.
    pub seconds: Option<i64>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Billable flag.
    pub billable: Option<bool>,
    /// Project (Tacho's name) or the service's target, in its words.
    pub project: Option<String>,
}

impl From<tacho_model::connector::EntrySnapshot> for EntrySnapshot {
    fn from(s: tacho_model::connector::EntrySnapshot) -> Self {
        Self {
            description: s.description,
            start_ms: s.start.map(millis),
            stop_ms: s.stop.map(millis),
            seconds: s.seconds,
            tags: s.tags,
            billable: s.billable,
            project: s.project,
        }
    }
}

/// A disagreement between Tacho and a service, for the conflict inbox: both sides to show
/// side by side and the person's choice (`resolve_conflict`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConnectorConflict {
    /// The conflict's id (for `resolve_conflict`).
    pub id: String,
    /// The relay's connection id.
    pub connection_id: String,
    /// The person's name for the connection.
    pub connection_name: String,
    /// The service.
    pub service: String,
    /// The Tacho entry concerned (none for a connection-wide alert such as a refused token).
    pub entry_id: Option<String>,
    /// The service's id of the record concerned.
    pub remote_id: Option<String>,
    /// What happened, in the service's words where it gave some.
    pub message: String,
    /// Tacho's values (none: deleted in Tacho, or not about an entry).
    pub local: Option<EntrySnapshot>,
    /// The service's values (none: deleted there, or never written).
    pub remote: Option<EntrySnapshot>,
    /// When the relay raised it, Unix ms.
    pub raised_at_ms: i64,
    /// Open or resolved.
    pub state: ConflictState,
    /// How it was resolved.
    pub resolution: Option<Resolution>,
    /// When it was resolved, Unix ms.
    pub resolved_at_ms: Option<i64>,
}

impl ConnectorConflict {
    /// The conflict with its entity id.
    pub(crate) fn new(id: uuid::Uuid, c: tacho_model::connector::ConnectorConflict) -> Self {
        Self {
            id: id.to_string(),
            connection_id: c.connection_id.to_string(),
            connection_name: c.connection_name,
            service: c.service,
            entry_id: c.entry_id.map(|e| e.to_string()),
            remote_id: c.remote_id,
            message: c.message,
            local: c.local.map(Into::into),
            remote: c.remote.map(Into::into),
            raised_at_ms: millis(c.raised_at),
            state: c.state.into(),
            resolution: c.resolution.map(Into::into),
            resolved_at_ms: c.resolved_at.map(millis),
        }
    }
}

/// One time entry on one connection.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConnectorLink {
    /// The Tacho time entry.
    pub entry_id: String,
    /// The relay's connection id.
    pub connection_id: String,
    /// The person's name for the connection.
    pub connection_name: String,
    /// The service.
    pub service: String,
    /// The service's id for the entry, once it has one.
    pub remote_id: Option<String>,
    /// Where it stands.
    pub state: LinkState,
    /// When it was last in step, Unix ms.
    pub synced_at_ms: Option<i64>,
    /// The service's or the relay's explanation, for `Error` and `Conflict`.
    pub message: Option<String>,
}

impl From<tacho_model::connector::ConnectorLink> for ConnectorLink {
    fn from(l: tacho_model::connector::ConnectorLink) -> Self {
        Self {
            entry_id: l.entry_id.to_string(),
            connection_id: l.connection_id.to_string(),
            connection_name: l.connection_name,
            service: l.service,
            remote_id: l.remote_id,
            state: l.state.into(),
            synced_at_ms: l.synced_at.map(millis),
            message: l.message,
        }
    }
}

/// One entry's sync badge: the most urgent state of its links (conflict, then error, then
/// pending; synced only when every link is), with the links behind it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EntrySyncState {
    /// The Tacho time entry.
    pub entry_id: String,
    /// The badge.
    pub state: LinkState,
    /// The entry's links, one per connection.
    pub links: Vec<ConnectorLink>,
}

/// Groups links by entry into badges, entries in id order (ids are time-ordered).
pub(crate) fn entry_sync_states(
    links: Vec<tacho_model::connector::ConnectorLink>,
) -> Vec<EntrySyncState> {
    let mut by_entry: std::collections::BTreeMap<uuid::Uuid, Vec<_>> =
        std::collections::BTreeMap::new();
    for link in links {
        by_entry.entry(link.entry_id).or_default().push(link);
    }
    by_entry
        .into_iter()
        .filter_map(|(entry, links)| {
            let state =
                tacho_model::connector::LinkState::most_urgent(links.iter().map(|l| l.state))?;
            Some(EntrySyncState {
                entry_id: entry.to_string(),
                state: state.into(),
                links: links.into_iter().map(Into::into).collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_checked() {
        assert_eq!(millis(instant(0, "t").unwrap_or_default()), 0);
        let ms = 1_772_000_000_123;
        assert!(matches!(instant(ms, "t"), Ok(at) if millis(at) == ms));
        for bad in [-1, MAX_MS + 1, i64::MAX, i64::MIN] {
            assert!(
                matches!(instant(bad, "fix time"), Err(TachoError::BadInput { ref reason }) if reason.contains("fix time")),
                "{bad} must be refused"
            );
        }
        assert!(instant(MAX_MS, "t").is_ok());
    }

    #[test]
    fn rfc3339_parses_and_refuses() {
        assert_eq!(
            parse_rfc3339_ms("2026-03-02T08:15:00+01:00".into()),
            Ok(1_772_435_700_000)
        );
        assert_eq!(
            format_rfc3339_ms(1_772_435_700_000),
            Ok("2026-03-02T07:15:00.000Z".to_owned())
        );
        for bad in [
            "",
            "yesterday",
            "2026-03-02",
            "2026-13-02T08:15:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(
                matches!(
                    parse_rfc3339_ms(bad.into()),
                    Err(TachoError::BadInput { .. })
                ),
                "`{bad}` must be refused"
            );
        }
    }

    #[test]
    fn days_are_checked() {
        assert_eq!(
            day(" 2026-02-28 ", "d").ok(),
            NaiveDate::from_ymd_opt(2026, 2, 28)
        );
        for bad in ["2026-02-30", "28.02.2026", "", "2026-2"] {
            assert!(
                matches!(day(bad, "d"), Err(TachoError::BadInput { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn rounding_round_trips_and_checks_the_step() {
        for r in [
            work::Rounding::None,
            work::Rounding::Up(15),
            work::Rounding::Down(6),
            work::Rounding::Nearest(1440),
        ] {
            assert_eq!(work::Rounding::try_from(Rounding::from(r)), Ok(r));
        }
        for bad in [0, 1441, u32::MAX] {
            assert!(work::Rounding::try_from(Rounding::Up { minutes: bad }).is_err());
        }
    }

    #[test]
    fn enums_mirror_the_core_both_ways() {
        for p in [
            trip::Purpose::Business,
            trip::Purpose::Private,
            trip::Purpose::Commute,
        ] {
            assert_eq!(trip::Purpose::from(Purpose::from(p)), p);
        }
        assert_eq!(
            TripSource::from(trip::TripSource::CarApi),
            TripSource::CarApi
        );
        assert_eq!(
            tacho_core::report::ReportFormat::from(ReportFormat::Xlsx),
            tacho_core::report::ReportFormat::Xlsx
        );
    }

    #[test]
    fn a_ping_with_a_bad_time_is_refused_before_the_core() {
        let ping = Ping {
            at_ms: i64::MAX,
            lat: 48.1,
            lon: 11.5,
            accuracy_m: None,
            speed_mps: None,
            heading_deg: None,
            altitude_m: None,
        };
        assert!(matches!(
            tacho_model::gps::Ping::try_from(ping),
            Err(TachoError::BadInput { .. })
        ));
    }

    #[test]
    fn new_cars_and_entries_check_their_dates() {
        let car = NewCar {
            name: "Golf".into(),
            plate: "M-TC 1".into(),
            make: None,
            model: None,
            available_from: Some("2026-02-30".into()),
            available_to: None,
            connect_hint: None,
        };
        assert!(matches!(
            tacho_core::NewCar::try_from(car),
            Err(TachoError::BadInput { .. })
        ));
        let entry = NewEntry {
            start_ms: Some(2_000),
            stop_ms: Some(1_000),
            ..Default::default()
        };
        assert!(matches!(
            tacho_core::NewEntry::try_from(entry),
            Err(TachoError::BadInput { .. })
        ));
    }

    #[test]
    fn handoffs_round_trip_through_json_and_refuse_garbage() {
        let handoff = DeviceHandoff {
            relay_url: "http://127.0.0.1:8787".into(),
            account_id: "acc".into(),
            space_id: "space".into(),
            device_id: "0190d5e2-0000-7000-8000-000000000001".into(),
            access_token: "a".into(),
            access_expires_at_ms: 1_772_435_700_000,
            refresh_token: "r".into(),
        };
        let json = handoff_to_json(handoff.clone());
        assert!(json.is_ok());
        assert_eq!(handoff_from_json(json.unwrap_or_default()), Ok(handoff));
        assert!(matches!(
            handoff_from_json("{\"relay_url\": 1}".into()),
            Err(TachoError::BadInput { .. })
        ));
    }
}
