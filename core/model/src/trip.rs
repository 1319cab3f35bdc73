//! Trips: one drive of one car, from connect to disconnect.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::gps::LatLon;
use crate::id::{CarId, PlaceId, TripId};

/// What told Tacho that a trip started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripSource {
    /// CarPlay connected (App Intent / Shortcuts automation).
    Carplay,
    /// The car's Bluetooth connected.
    Bluetooth,
    /// The person started it by hand.
    Manual,
    /// A relay automation hook.
    Hook,
    /// A car manufacturer API.
    CarApi,
    /// A GPS track file.
    Import,
    /// Pings alone, with no connect event: started when movement was clear.
    Auto,
}

impl TripSource {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Carplay => "carplay",
            Self::Bluetooth => "bluetooth",
            Self::Manual => "manual",
            Self::Hook => "hook",
            Self::CarApi => "car_api",
            Self::Import => "import",
            Self::Auto => "auto",
        }
    }
}

/// Lifecycle of a trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripState {
    /// Still recording.
    Active,
    /// Finished; edits are tracked in the history from now on.
    Ended,
    /// Thrown away by the person (kept as a tombstone for sync).
    Discarded,
}

/// Tax category of a trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Driven for work; needs a business partner or purpose in Germany.
    Business,
    /// Private use, counts against the 500 km yearly limit (NL).
    Private,
    /// Home to the regular workplace.
    Commute,
}

impl Purpose {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Business => "business",
            Self::Private => "private",
            Self::Commute => "commute",
        }
    }
}

impl std::str::FromStr for Purpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "business" | "b" => Ok(Self::Business),
            "private" | "p" => Ok(Self::Private),
            "commute" | "c" => Ok(Self::Commute),
            other => Err(format!(
                "unknown purpose `{other}` (expected business, private or commute)"
            )),
        }
    }
}

/// Who decided a trip's purpose; the person's choice always wins over rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decider {
    /// Place rules classified it.
    Rule,
    /// The person chose it.
    User,
}

/// One drive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trip {
    /// Identity.
    pub id: TripId,
    /// The car driven, when known.
    pub car_id: Option<CarId>,
    /// Lifecycle state.
    pub state: TripState,
    /// What started it.
    pub source: TripSource,
    /// Car hint from the connect event (e.g. a Bluetooth device name).
    pub car_hint: Option<String>,
    /// Start instant.
    pub started_at: DateTime<Utc>,
    /// End instant, once ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// IANA time zone the trip was recorded in, for local dates in reports.
    pub time_zone: String,
    /// First position.
    pub start: Option<LatLon>,
    /// Last position.
    pub end: Option<LatLon>,
    /// Start address, free text.
    pub start_address: Option<String>,
    /// End address, free text.
    pub end_address: Option<String>,
    /// Known place at the start.
    pub start_place: Option<PlaceId>,
    /// Known place at the end.
    pub end_place: Option<PlaceId>,
    /// Filtered GPS path length in metres.
    pub distance_m: f64,
    /// Number of points recorded.
    pub point_count: u32,
    /// Tax category; `None` while unclassified.
    pub purpose: Option<Purpose>,
    /// Who set `purpose`.
    pub purpose_by: Option<Decider>,
    /// Business partner (client) visited.
    pub business_partner: Option<String>,
    /// Free note, e.g. why the route deviated.
    pub note: Option<String>,
    /// Closed by recovery after a long silence rather than by a disconnect.
    pub recovered: bool,
}

/// The fields of an ended trip a person may edit; each edit is kept in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripField {
    /// [`Trip::purpose`].
    Purpose,
    /// [`Trip::business_partner`].
    BusinessPartner,
    /// [`Trip::note`].
    Note,
    /// [`Trip::start_address`].
    StartAddress,
    /// [`Trip::end_address`].
    EndAddress,
    /// Odometer reading at the start.
    OdometerStart,
    /// Odometer reading at the end.
    OdometerEnd,
    /// [`Trip::car_id`].
    Car,
    /// Discarded (new value `discarded`) or restored (old value `discarded`).
    Discarded,
    /// On a source of a merge: the merged trip's id.
    MergedInto,
    /// On a merged trip: its sources' ids.
    MergedFrom,
    /// On a split trip: the parts' ids.
    SplitInto,
    /// On a split part: the source's id and the part's time window.
    SplitFrom,
}

impl TripField {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Purpose => "purpose",
            Self::BusinessPartner => "business_partner",
            Self::Note => "note",
            Self::StartAddress => "start_address",
            Self::EndAddress => "end_address",
            Self::OdometerStart => "odometer_start",
            Self::OdometerEnd => "odometer_end",
            Self::Car => "car",
            Self::Discarded => "discarded",
            Self::MergedInto => "merged_into",
            Self::MergedFrom => "merged_from",
            Self::SplitInto => "split_into",
            Self::SplitFrom => "split_from",
        }
    }
}

/// One change to an ended trip, kept forever (German Fahrtenbuch rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TripEdit {
    /// The trip changed.
    pub trip_id: TripId,
    /// Which field.
    pub field: TripField,
    /// Value before, as shown to people (`None` = empty).
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
    /// When the edit was made.
    pub at: DateTime<Utc>,
    /// Device that made it.
    pub device: crate::id::DeviceId,
    /// The locked month this edit changed although it reached the log after
    /// the lock (made offline before the month was locked; see `lock`).
    /// Each replica decides this itself when it applies the edit (a value
    /// inside a pulled op is ignored); edits are recorded without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_after_lock: Option<String>,
}
