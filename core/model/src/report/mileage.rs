//! The mileage log (NL *rittenregistratie*, DE *Fahrtenbuch*) of one car.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::chain::{ChainOptions, ChainRow, Gap, OdometerValue, odometer_chain};
use super::period::Period;
use super::tz::local_datetime;
use crate::car::{Car, OdometerReading};
use crate::id::{CarId, DeviceId, PlaceId, TripId};
use crate::place::Place;
use crate::trip::{Purpose, Trip, TripEdit, TripField};

/// The Dutch yearly limit on private use of a company car: 500 km.
pub const PRIVATE_LIMIT_M: i64 = 500_000;

/// Everything the mileage log of one car is built from.
#[derive(Debug, Clone, Copy)]
pub struct MileageInput<'a> {
    /// The car.
    pub car: &'a Car,
    /// Local dates covered.
    pub period: Period,
    /// Ended trips of this car; may include earlier trips, which feed the
    /// odometer chain and the year-to-date private total.
    pub trips: &'a [Trip],
    /// Odometer readings of this car.
    pub readings: &'a [OdometerReading],
    /// Edit history of the trips.
    pub edits: &'a [TripEdit],
    /// Known places, to name trip ends.
    pub places: &'a [Place],
    /// Every car, to name cars in the edit history.
    pub cars: &'a [Car],
    /// Locked months, `YYYY-MM`.
    pub locked_months: &'a [String],
}

/// How far the odometer distance of a trip may stray from its GPS length
/// before the log flags it: an inspector asks about a 52.4 km odometer trip
/// whose track is 37.6 km long, not about GPS noise.
pub const ODOMETER_GPS_TOLERANCE: (f64, i64) = (0.15, 2_000);

/// Tax category as shown in the log; `Unclassified` is kept visible rather
/// than guessed, so open trips stand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportPurpose {
    /// Business trip.
    Business,
    /// Private trip.
    Private,
    /// Home to regular workplace.
    Commute,
    /// Not classified yet.
    Unclassified,
}

impl ReportPurpose {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Business => "business",
            Self::Private => "private",
            Self::Commute => "commute",
            Self::Unclassified => "unclassified",
        }
    }
}

impl From<Option<Purpose>> for ReportPurpose {
    fn from(p: Option<Purpose>) -> Self {
        match p {
            Some(Purpose::Business) => Self::Business,
            Some(Purpose::Private) => Self::Private,
            Some(Purpose::Commute) => Self::Commute,
            None => Self::Unclassified,
        }
    }
}

/// The car as the log's header must identify it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarInfo {
    /// Identity.
    pub id: CarId,
    /// Short name.
    pub name: String,
    /// Make.
    pub make: Option<String>,
    /// Type / model.
    pub model: Option<String>,
    /// Licence plate.
    pub plate: String,
}

/// One visible change to a trip (German rule: changes stay visible).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditRow {
    /// Field changed.
    pub field: TripField,
    /// Value before.
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// Which device.
    pub device: DeviceId,
    /// The edit changed a locked month although it reached the log after the
    /// lock (made offline before the month was locked).
    pub arrived_after_lock: bool,
}

/// One trip in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TripRow {
    /// Trip identity.
    pub trip_id: TripId,
    /// Local date of the start.
    pub date: NaiveDate,
    /// Local start.
    pub start_local: NaiveDateTime,
    /// Local end.
    pub end_local: NaiveDateTime,
    /// Start instant.
    pub started_at: DateTime<Utc>,
    /// End instant.
    pub ended_at: DateTime<Utc>,
    /// IANA zone the local times are in.
    pub time_zone: String,
    /// `false` when the zone was unknown and UTC was used instead.
    pub time_zone_known: bool,
    /// Odometer at the start.
    pub odometer_start: Option<OdometerValue>,
    /// Odometer at the end.
    pub odometer_end: Option<OdometerValue>,
    /// Start place: name and address, else `lat,lon`.
    pub start_place: String,
    /// End place: name and address, else `lat,lon`.
    pub end_place: String,
    /// Tax category.
    pub purpose: ReportPurpose,
    /// Business partner visited.
    pub business_partner: Option<String>,
    /// Deviation / free note.
    pub note: Option<String>,
    /// German *Reisezweck*: the purpose, with the business partner visited.
    /// Never the note: a note explains a detour, it is not the purpose.
    pub purpose_text: String,
    /// GPS path length, metres.
    pub gps_m: i64,
    /// Distance counted in the totals: odometer end − start when both are
    /// known and not negative, else the GPS length.
    pub distance_m: i64,
    /// `true` when the trip's own odometer end lies before its start.
    pub odometer_inconsistent: bool,
    /// `true` when odometer end − start differs from the GPS length by more
    /// than [`ODOMETER_GPS_TOLERANCE`] (share and metres, both exceeded).
    pub odometer_gps_mismatch: bool,
    /// Every edit of this trip, oldest first.
    pub edits: Vec<EditRow>,
}

/// A gap between trips as shown in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapRow {
    /// Local date of the end of the gap (when it was detected).
    pub date: NaiveDate,
    /// Local start of the gap.
    pub from_local: NaiveDateTime,
    /// Local end of the gap.
    pub to_local: NaiveDateTime,
    /// The chain's gap.
    #[serde(flatten)]
    pub gap: Gap,
}

/// A row of the log, in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogRow {
    /// A trip.
    Trip(TripRow),
    /// Driving no trip explains.
    Unexplained(GapRow),
    /// The odometer went backwards.
    Backwards(GapRow),
}

impl LogRow {
    /// The row's kind as shown in writers.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Trip(_) => "trip",
            Self::Unexplained(_) => "unexplained",
            Self::Backwards(_) => "backwards",
        }
    }
}

/// Distance totals, metres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MileageTotals {
    /// Number of trips.
    pub trips: usize,
    /// Business trips.
    pub business_m: i64,
    /// Commute trips.
    pub commute_m: i64,
    /// Private trips.
    pub private_m: i64,
    /// Trips not yet classified.
    pub unclassified_m: i64,
    /// All trips.
    pub total_m: i64,
    /// Driving between trips the log does not explain.
    pub unexplained_m: i64,
    /// Sum of backwards jumps, as a positive number.
    pub backwards_m: i64,
}

/// The Dutch 500 km private-use test over the calendar year so far.
/// Commute is NOT private here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateLimit {
    /// 1 January to the period's end.
    pub span: Period,
    /// Private km (commute excluded).
    pub private_m: i64,
    /// Unclassified km, which could still turn out private.
    pub unclassified_m: i64,
    /// Unexplained km, which an inspector will likely count as private.
    pub unexplained_m: i64,
    /// The limit, 500 km.
    pub limit_m: i64,
    /// `private_m > limit_m`.
    pub exceeded: bool,
    /// Whether the limit is exceeded if every unclassified and unexplained
    /// kilometre proves private.
    pub exceeded_worst_case: bool,
}

/// The private share for VAT (NL btw correction) over the calendar year so
/// far. Commute counts as private here, unlike for the 500 km limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatPrivateUse {
    /// 1 January to the period's end.
    pub span: Period,
    /// Private plus commute km.
    pub private_and_commute_m: i64,
    /// All km driven: trips plus unexplained.
    pub total_m: i64,
    /// `private_and_commute_m / total_m` in percent, 2 decimals ("0.00" when
    /// nothing was driven).
    pub share_percent: String,
}

/// The mileage log of one car over one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MileageLog {
    /// The car.
    pub car: CarInfo,
    /// Local dates covered.
    pub period: Period,
    /// Gap tolerances used.
    pub chain_options: ChainOptions,
    /// Trips and gaps in the period, in time order.
    pub rows: Vec<LogRow>,
    /// Totals over the period.
    pub totals: MileageTotals,
    /// 500 km private-use test, year to date.
    pub private_limit: PrivateLimit,
    /// VAT private share, year to date.
    pub vat_private_use: VatPrivateUse,
    /// The months of the period that are locked.
    pub locked_months: Vec<String>,
    /// Whether every month of the period is locked (the log can't change
    /// any more, except by edits made before the lock that arrive late,
    /// which the history marks).
    pub locked: bool,
}

/// Builds the mileage log with the default chain tolerances.
pub fn mileage_log(input: &MileageInput) -> MileageLog {
    mileage_log_with(input, ChainOptions::default())
}

/// Builds the mileage log with explicit chain tolerances.
///
/// Trips of another car are ignored; rows belong to the period by the
/// local date of their start (trips, in the trip's zone) or of their end
/// (gaps, in the zone of the neighbouring trip).
pub fn mileage_log_with(input: &MileageInput, options: ChainOptions) -> MileageLog {
    let car_id = input.car.id;
    let trips: Vec<Trip> = input
        .trips
        .iter()
        .filter(|t| t.car_id.is_none_or(|c| c == car_id))
        .cloned()
        .collect();
    let readings: Vec<OdometerReading> = input
        .readings
        .iter()
        .filter(|r| r.car_id == car_id)
        .cloned()
        .collect();
    let chain = odometer_chain(&trips, &readings, options);
    let by_id: HashMap<TripId, &Trip> = trips.iter().map(|t| (t.id, t)).collect();
    let places: HashMap<PlaceId, &Place> = input.places.iter().map(|p| (p.id, p)).collect();

    let car_names: HashMap<String, &str> = input
        .cars
        .iter()
        .map(|c| (c.id.to_string(), c.name.as_str()))
        .collect();
    // A car edit stores ids; the log names the car.
    let shown = |field: TripField, value: &Option<String>| match (field, value) {
        (TripField::Car, Some(id)) => Some(
            car_names
                .get(id)
                .map_or_else(|| id.clone(), |name| (*name).to_owned()),
        ),
        _ => value.clone(),
    };
    let mut edits: HashMap<TripId, Vec<EditRow>> = HashMap::new();
    for e in input.edits {
        edits.entry(e.trip_id).or_default().push(EditRow {
            field: e.field,
            old_value: shown(e.field, &e.old_value),
            new_value: shown(e.field, &e.new_value),
            at: e.at,
            device: e.device,
            arrived_after_lock: e.arrived_after_lock.is_some(),
        });
    }
    for list in edits.values_mut() {
        list.sort_by_key(|e| e.at);
    }

    let ytd = input.period.year_to_date();
    let mut rows = Vec::new();
    let mut totals = MileageTotals::default();
    let mut year = MileageTotals::default();
    // Zone used for gaps: the trip after, else the one before.
    let zones: Vec<Option<&str>> = chain
        .rows
        .iter()
        .map(|r| match r {
            ChainRow::Trip(t) => by_id.get(&t.trip_id).map(|t| t.time_zone.as_str()),
            ChainRow::Unexplained(g) | ChainRow::Backwards(g) => g
                .before_trip
                .or(g.after_trip)
                .and_then(|id| by_id.get(&id))
                .map(|t| t.time_zone.as_str()),
        })
        .collect();

    for (row, zone) in chain.rows.iter().zip(zones) {
        match row {
            ChainRow::Trip(odo) => {
                let Some(trip) = by_id.get(&odo.trip_id) else {
                    continue;
                };
                let ended_at = trip.ended_at.unwrap_or(trip.started_at);
                let (start_local, known) = local_datetime(trip.started_at, &trip.time_zone);
                let (end_local, _) = local_datetime(ended_at, &trip.time_zone);
                let date = start_local.date();
                let gps_m = super::chain::gps_metres(trip.distance_m);
                let odo_m = odo.distance_m();
                let distance_m = odo_m.filter(|d| *d >= 0).unwrap_or(gps_m);
                let purpose = ReportPurpose::from(trip.purpose);
                if ytd.contains(date) {
                    add_trip(&mut year, purpose, distance_m);
                }
                if !input.period.contains(date) {
                    continue;
                }
                add_trip(&mut totals, purpose, distance_m);
                rows.push(LogRow::Trip(TripRow {
                    trip_id: trip.id,
                    date,
                    start_local,
                    end_local,
                    started_at: trip.started_at,
                    ended_at,
                    time_zone: trip.time_zone.clone(),
                    time_zone_known: known,
                    odometer_start: odo.start,
                    odometer_end: odo.end,
                    start_place: place_label(
                        trip.start_place.and_then(|id| places.get(&id).copied()),
                        trip.start_address.as_deref(),
                        trip.start,
                    ),
                    end_place: place_label(
                        trip.end_place.and_then(|id| places.get(&id).copied()),
                        trip.end_address.as_deref(),
                        trip.end,
                    ),
                    purpose,
                    business_partner: trip.business_partner.clone(),
                    note: trip.note.clone(),
                    purpose_text: purpose_text(purpose, trip.business_partner.as_deref()),
                    gps_m,
                    distance_m,
                    odometer_inconsistent: odo_m.is_some_and(|d| d < 0),
                    odometer_gps_mismatch: odo_m
                        .is_some_and(|odo| odo >= 0 && strays_from_gps(odo, gps_m)),
                    edits: edits.remove(&trip.id).unwrap_or_default(),
                }));
            }
            ChainRow::Unexplained(gap) | ChainRow::Backwards(gap) => {
                let zone = zone.unwrap_or("UTC");
                let (from_local, _) = local_datetime(gap.from, zone);
                let (to_local, _) = local_datetime(gap.to, zone);
                let date = to_local.date();
                let unexplained = matches!(row, ChainRow::Unexplained(_));
                if ytd.contains(date) && unexplained {
                    year.unexplained_m += gap.distance_m;
                }
                if !input.period.contains(date) {
                    continue;
                }
                let gap_row = GapRow {
                    date,
                    from_local,
                    to_local,
                    gap: gap.clone(),
                };
                if unexplained {
                    totals.unexplained_m += gap.distance_m;
                    rows.push(LogRow::Unexplained(gap_row));
                } else {
                    totals.backwards_m += -gap.distance_m;
                    rows.push(LogRow::Backwards(gap_row));
                }
            }
        }
    }

    let worst = year.private_m + year.unclassified_m + year.unexplained_m;
    let private_and_commute_m = year.private_m + year.commute_m;
    let driven = year.total_m + year.unexplained_m;
    MileageLog {
        car: CarInfo {
            id: input.car.id,
            name: input.car.name.clone(),
            make: input.car.make.clone(),
            model: input.car.model.clone(),
            plate: input.car.plate.clone(),
        },
        period: input.period,
        chain_options: options,
        rows,
        totals,
        private_limit: PrivateLimit {
            span: ytd,
            private_m: year.private_m,
            unclassified_m: year.unclassified_m,
            unexplained_m: year.unexplained_m,
            limit_m: PRIVATE_LIMIT_M,
            exceeded: year.private_m > PRIVATE_LIMIT_M,
            exceeded_worst_case: worst > PRIVATE_LIMIT_M,
        },
        vat_private_use: VatPrivateUse {
            span: ytd,
            private_and_commute_m,
            total_m: driven,
            share_percent: percent_2dp(private_and_commute_m, driven),
        },
        locked: !input.period.months().is_empty()
            && input
                .period
                .months()
                .iter()
                .all(|m| input.locked_months.contains(m)),
        locked_months: input
            .period
            .months()
            .into_iter()
            .filter(|m| input.locked_months.contains(m))
            .collect(),
    }
}

/// The purpose as the log states it: its name, and for business trips the
/// partner visited.
fn purpose_text(purpose: ReportPurpose, partner: Option<&str>) -> String {
    match partner.map(str::trim).filter(|p| !p.is_empty()) {
        Some(partner) if purpose == ReportPurpose::Business => {
            format!("{} ({partner})", purpose.as_str())
        }
        _ => purpose.as_str().to_owned(),
    }
}

/// Whether an odometer distance differs from the GPS length by more than the
/// tolerance, in share and in metres.
fn strays_from_gps(odometer_m: i64, gps_m: i64) -> bool {
    let (share, metres) = ODOMETER_GPS_TOLERANCE;
    let diff = (odometer_m - gps_m).abs();
    let base = odometer_m.max(gps_m).max(1);
    #[allow(clippy::cast_precision_loss)]
    let stray = diff as f64 / base as f64;
    diff > metres && stray > share
}

fn add_trip(t: &mut MileageTotals, purpose: ReportPurpose, m: i64) {
    t.trips += 1;
    t.total_m += m;
    match purpose {
        ReportPurpose::Business => t.business_m += m,
        ReportPurpose::Private => t.private_m += m,
        ReportPurpose::Commute => t.commute_m += m,
        ReportPurpose::Unclassified => t.unclassified_m += m,
    }
}

/// Place name plus address, else the trip's address, else `lat,lon`.
fn place_label(
    place: Option<&Place>,
    address: Option<&str>,
    point: Option<crate::gps::LatLon>,
) -> String {
    let address = address
        .filter(|a| !a.trim().is_empty())
        .or_else(|| place.and_then(|p| p.address.as_deref()))
        .filter(|a| !a.trim().is_empty());
    let name = place
        .map(|p| p.name.as_str())
        .filter(|n| !n.trim().is_empty());
    match (name, address) {
        (Some(n), Some(a)) => format!("{n}, {a}"),
        (Some(n), None) => n.to_owned(),
        (None, Some(a)) => a.to_owned(),
        (None, None) => point
            .map(|p| format!("{:.5},{:.5}", p.lat, p.lon))
            .unwrap_or_default(),
    }
}

/// `num / den` as a percentage with 2 decimals, rounded half up, in
/// integer arithmetic.
fn percent_2dp(num: i64, den: i64) -> String {
    if den <= 0 {
        return "0.00".to_owned();
    }
    let num = i128::from(num.max(0));
    let den = i128::from(den);
    let hundredths = (num * 10_000 * 2 + den) / (den * 2);
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}
