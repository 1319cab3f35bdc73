//! Conversions between the Dart-facing types in [`crate::api`] and the
//! core's types. Kept out of `api` so flutter_rust_bridge does not export
//! them. Every conversion from Dart input is checked and returns an
//! [`ApiError`] instead of panicking.

use chrono::{DateTime, NaiveDate, Utc};
use tacho_core::report::ReportFormat as CoreReportFormat;
use tacho_core::{CoreError, CoreEvent, FeedOutcome};
use tacho_core::{ParkedOp, TripPoint};
use tacho_model::api::connectors::{ConnectionInfo, ConnectorStatus};
use tacho_model::car as mcar;
use tacho_model::connector as mconnector;
use tacho_model::gps::{LatLon, Ping};
use tacho_model::place as mplace;
use tacho_model::trip as mtrip;
use tacho_model::work as mwork;

use crate::api::error::{ApiError, ApiErrorKind};
use crate::api::types::*;

/// A refused input, in words for people.
pub(crate) fn bad_input(message: impl Into<String>) -> ApiError {
    ApiError {
        kind: ApiErrorKind::BadInput,
        message: message.into(),
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let kind = match &e {
            CoreError::BadInput { .. } => ApiErrorKind::BadInput,
            CoreError::NotFound { .. } => ApiErrorKind::NotFound,
            CoreError::Conflict { .. } => ApiErrorKind::Conflict,
            CoreError::InUse { .. } => ApiErrorKind::InUse,
            CoreError::LockedPeriod { .. } => ApiErrorKind::LockedPeriod,
            CoreError::Storage { .. } => ApiErrorKind::Storage,
            CoreError::Import(_) => ApiErrorKind::Import,
            CoreError::Auth { .. } => ApiErrorKind::Auth,
            CoreError::Network { .. } => ApiErrorKind::Network,
            CoreError::Report { .. } => ApiErrorKind::Report,
        };
        Self {
            kind,
            message: e.to_string(),
        }
    }
}

/// Unix milliseconds from Dart to an instant; out-of-range values are
/// refused rather than wrapped.
pub(crate) fn instant(ms: i64, what: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| {
        bad_input(format!(
            "{what}: {ms} is not a valid time (unix milliseconds)"
        ))
    })
}

/// [`instant`] for optional times.
pub(crate) fn instant_opt(ms: Option<i64>, what: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    ms.map(|ms| instant(ms, what)).transpose()
}

/// An instant as unix milliseconds for Dart.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// A `YYYY-MM-DD` day typed in a form.
pub(crate) fn day(text: Option<String>, what: &str) -> Result<Option<NaiveDate>, ApiError> {
    let Some(text) = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            bad_input(format!(
                "{what}: `{text}` is not a date (expected YYYY-MM-DD)"
            ))
        })
}

/// Checks that a string is a UUID of the given kind before it reaches the
/// core, for calls that take an id rather than a searchable key.
pub(crate) fn parse_id<T>(text: &str) -> Result<T, ApiError>
where
    T: std::str::FromStr<Err = tacho_model::id::ParseIdError>,
{
    text.parse::<T>().map_err(|e| bad_input(e.to_string()))
}

/// A fix from the phone's location service.
pub(crate) fn ping(p: PingInput) -> Result<Ping, ApiError> {
    Ok(Ping {
        at: instant(p.at_ms, "fix time")?,
        lat: p.lat,
        lon: p.lon,
        accuracy_m: p.accuracy_m,
        speed_mps: p.speed_mps,
        heading_deg: p.heading_deg,
        altitude_m: p.altitude_m,
    })
}

/// A rounding rule from a form; the step is checked like the CLI's
/// `up:15` syntax (1 to 1440 minutes).
pub(crate) fn rounding(rule: RoundingRule) -> Result<mwork::Rounding, ApiError> {
    if rule.mode != RoundingMode::None && !(1..=1440).contains(&rule.minutes) {
        return Err(bad_input(format!(
            "rounding step {} minutes is out of range (1 to 1440)",
            rule.minutes
        )));
    }
    Ok(match rule.mode {
        RoundingMode::None => mwork::Rounding::None,
        RoundingMode::Up => mwork::Rounding::Up(rule.minutes),
        RoundingMode::Down => mwork::Rounding::Down(rule.minutes),
        RoundingMode::Nearest => mwork::Rounding::Nearest(rule.minutes),
    })
}

impl From<mwork::Rounding> for RoundingRule {
    fn from(r: mwork::Rounding) -> Self {
        let (mode, minutes) = match r {
            mwork::Rounding::None => (RoundingMode::None, 0),
            mwork::Rounding::Up(m) => (RoundingMode::Up, m),
            mwork::Rounding::Down(m) => (RoundingMode::Down, m),
            mwork::Rounding::Nearest(m) => (RoundingMode::Nearest, m),
        };
        Self { mode, minutes }
    }
}

/// Both directions between a field-less API enum and the core's enum with
/// the same variants; a variant added on one side fails to compile here.
macro_rules! same_variants {
    ($api:ty, $core:ty, [$($v:ident),+ $(,)?]) => {
        impl From<$api> for $core {
            fn from(v: $api) -> Self {
                match v { $(<$api>::$v => <$core>::$v,)+ }
            }
        }
        impl From<$core> for $api {
            fn from(v: $core) -> Self {
                match v { $(<$core>::$v => <$api>::$v,)+ }
            }
        }
    };
}

same_variants!(
    TripSource,
    mtrip::TripSource,
    [Carplay, Bluetooth, Manual, Hook, CarApi, Import, Auto]
);
same_variants!(TripState, mtrip::TripState, [Active, Ended, Discarded]);
same_variants!(Purpose, mtrip::Purpose, [Business, Private, Commute]);
same_variants!(Decider, mtrip::Decider, [Rule, User]);
same_variants!(
    TripField,
    mtrip::TripField,
    [
        Purpose,
        BusinessPartner,
        Note,
        StartAddress,
        EndAddress,
        OdometerStart,
        OdometerEnd,
        Car,
        Discarded,
        MergedInto,
        MergedFrom,
        SplitInto,
        SplitFrom
    ]
);
same_variants!(
    TripStatus,
    tacho_model::lineage::TripStatus,
    [Current, Discarded, Replaced, Superseded]
);
same_variants!(
    EntryField,
    mwork::EntryField,
    [
        Project,
        Description,
        Start,
        Stop,
        Tags,
        Billable,
        Trip,
        Deleted
    ]
);
same_variants!(TripEnd, mcar::TripEnd, [Start, End]);
same_variants!(ReadingSource, mcar::ReadingSource, [Manual, CarApi]);
same_variants!(PlaceKind, mplace::PlaceKind, [Home, Office, Client, Other]);
same_variants!(
    EntrySource,
    mwork::EntrySource,
    [Timer, Manual, Trip, Connector]
);
same_variants!(ReportFormat, CoreReportFormat, [Csv, Xlsx, Json]);

impl From<LatLon> for LatLng {
    fn from(p: LatLon) -> Self {
        Self {
            lat: p.lat,
            lon: p.lon,
        }
    }
}

impl From<mtrip::Trip> for TripInfo {
    fn from(t: mtrip::Trip) -> Self {
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

/// The open trip with the recorder's live distance and its age at `now`.
pub(crate) fn active_trip(
    trip: mtrip::Trip,
    live_distance_m: f64,
    now: DateTime<Utc>,
) -> ActiveTrip {
    let duration_s = (now - trip.started_at).num_seconds().max(0);
    ActiveTrip {
        trip: trip.into(),
        live_distance_m,
        duration_s,
    }
}

impl From<mtrip::TripEdit> for TripEditInfo {
    fn from(e: mtrip::TripEdit) -> Self {
        Self {
            field: e.field.into(),
            old_value: e.old_value,
            new_value: e.new_value,
            at_ms: millis(e.at),
            device_id: e.device.to_string(),
        }
    }
}

impl From<mcar::OdometerReading> for OdometerReadingInfo {
    fn from(r: mcar::OdometerReading) -> Self {
        Self {
            id: r.id.to_string(),
            car_id: r.car_id.to_string(),
            at_ms: millis(r.at),
            odometer_m: r.odometer_m,
            // Display only; the exact value is `odometer_m`.
            odometer_km: r.odometer_m as f64 / 1000.0,
            source: r.source.into(),
            trip_id: r.trip.map(|(t, _)| t.to_string()),
            trip_end: r.trip.map(|(_, end)| end.into()),
        }
    }
}

impl From<tacho_core::TripDetail> for TripDetail {
    fn from(d: tacho_core::TripDetail) -> Self {
        Self {
            trip: d.trip.into(),
            point_count: d.point_count,
            odometer_start: d.odometer_start.map(Into::into),
            odometer_end: d.odometer_end.map(Into::into),
            history: d.history.into_iter().map(Into::into).collect(),
            status: d.status.into(),
            merged_from: ids(d.lineage.merged_from),
            split_from: d.lineage.split_from.map(|t| t.to_string()),
            replaced_by: ids(d.lineage.replaced_by),
        }
    }
}

impl From<TripPoint> for TripPointInfo {
    fn from(p: TripPoint) -> Self {
        Self {
            seq: p.seq,
            at_ms: millis(p.ping.at),
            lat: p.ping.lat,
            lon: p.ping.lon,
            accuracy_m: p.ping.accuracy_m,
            counted: p.counted,
        }
    }
}

impl From<FeedOutcome> for FeedResult {
    fn from(o: FeedOutcome) -> Self {
        Self {
            started_trip_ids: o.started.iter().map(ToString::to_string).collect(),
            ended_trip_ids: o.ended.iter().map(ToString::to_string).collect(),
            points: o.points,
            rejected: o.rejected.map(|r| r.to_string()),
            dropped: o.dropped.map(|d| match d {
                tacho_model::detector::DropReason::Duplicate => "duplicate".to_owned(),
                tacho_model::detector::DropReason::OutOfOrder => "out_of_order".to_owned(),
            }),
            outliers: o.outliers,
            resumed: o.resumed,
            rejected_count: o.rejected_count,
            dropped_count: o.dropped_count,
        }
    }
}

impl From<mcar::Car> for CarInfo {
    fn from(c: mcar::Car) -> Self {
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

/// A car form to the core's input, with its dates checked.
pub(crate) fn new_car(c: NewCarInput) -> Result<tacho_core::NewCar, ApiError> {
    Ok(tacho_core::NewCar {
        name: c.name,
        plate: c.plate,
        make: c.make,
        model: c.model,
        available_from: day(c.available_from, "available from")?,
        available_to: day(c.available_to, "available to")?,
        connect_hint: c.connect_hint,
    })
}

impl From<mplace::Place> for PlaceInfo {
    fn from(p: mplace::Place) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name,
            kind: p.kind.into(),
            center: p.center.into(),
            radius_m: p.radius_m,
            address: p.address,
        }
    }
}

/// A place form to a new place with a fresh id. The core (store) validates
/// the coordinates and radius; this only refuses what could not be stored.
pub(crate) fn new_place(p: NewPlaceInput) -> Result<mplace::Place, ApiError> {
    if !(p.lat.is_finite() && p.lon.is_finite() && p.radius_m.is_finite()) {
        return Err(bad_input("a place needs finite coordinates and radius"));
    }
    Ok(mplace::Place {
        id: tacho_model::id::PlaceId::new(),
        name: p.name.trim().to_owned(),
        kind: p.kind.into(),
        center: LatLon {
            lat: p.lat,
            lon: p.lon,
        },
        radius_m: p.radius_m,
        address: p.address,
    })
}

impl From<mwork::Project> for ProjectInfo {
    fn from(p: mwork::Project) -> Self {
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

impl From<mwork::TimeEntry> for TimeEntryInfo {
    fn from(e: mwork::TimeEntry) -> Self {
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

fn ids(ids: Option<Vec<tacho_model::id::TripId>>) -> Vec<String> {
    ids.unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// A value to set, or clear (`Some(None)`); both at once is refused.
fn set_or_clear<T>(
    value: Option<T>,
    clear: bool,
    what: &str,
) -> Result<Option<Option<T>>, ApiError> {
    match (value, clear) {
        (Some(_), true) => Err(bad_input(format!(
            "both a new {what} and clearing it were asked for; pick one"
        ))),
        (Some(v), false) => Ok(Some(Some(v))),
        (None, true) => Ok(Some(None)),
        (None, false) => Ok(None),
    }
}

/// An entry edit form to the core's edit, with its times checked.
pub(crate) fn entry_edit(e: EntryEditInput) -> Result<tacho_core::EntryEdit, ApiError> {
    let start = instant_opt(e.start_ms, "entry start")?;
    let stop = instant_opt(e.stop_ms, "entry stop")?;
    if let (Some(start), Some(stop)) = (start, stop)
        && stop < start
    {
        return Err(bad_input("an entry can't stop before it starts"));
    }
    Ok(tacho_core::EntryEdit {
        project: set_or_clear(e.project, e.clear_project, "project")?,
        description: e.description,
        start,
        stop,
        tags: e.tags,
        billable: e.billable,
        trip: set_or_clear(e.trip, e.clear_trip, "trip")?,
    })
}

impl From<mwork::TimeEntryEdit> for TimeEntryEditInfo {
    fn from(e: mwork::TimeEntryEdit) -> Self {
        Self {
            field: e.field.into(),
            old_value: e.old_value,
            new_value: e.new_value,
            at_ms: millis(e.at),
            device_id: e.device.to_string(),
        }
    }
}

impl From<tacho_core::EntryDetail> for EntryDetailInfo {
    fn from(d: tacho_core::EntryDetail) -> Self {
        Self {
            entry: d.entry.into(),
            deleted: d.deleted,
            project: d.project.map(Into::into),
            history: d.history.into_iter().map(Into::into).collect(),
        }
    }
}

/// A project form's change to the core's, with the rounding checked.
pub(crate) fn project_change(c: ProjectChangeInput) -> Result<tacho_core::ProjectChange, ApiError> {
    Ok(tacho_core::ProjectChange {
        name: c.name,
        client: set_or_clear(c.client, c.clear_client, "client")?,
        billable: c.billable,
        rounding: c.rounding.map(rounding).transpose()?,
    })
}

/// A car form's change to the core's, with its dates checked.
pub(crate) fn car_change(c: CarChangeInput) -> Result<tacho_core::CarChange, ApiError> {
    Ok(tacho_core::CarChange {
        name: c.name,
        plate: c.plate,
        make: set_or_clear(c.make, c.clear_make, "make")?,
        model: set_or_clear(c.model, c.clear_model, "model")?,
        available_from: set_or_clear(
            day(c.available_from, "available from")?,
            c.clear_available_from,
            "available-from date",
        )?,
        available_to: set_or_clear(
            day(c.available_to, "available to")?,
            c.clear_available_to,
            "available-to date",
        )?,
        connect_hint: set_or_clear(c.connect_hint, c.clear_connect_hint, "connect hint")?,
    })
}

/// A place form's change to the core's; the store checks the values.
pub(crate) fn place_change(c: PlaceChangeInput) -> Result<tacho_core::PlaceChange, ApiError> {
    let center = match (c.lat, c.lon) {
        (Some(lat), Some(lon)) => Some(LatLon { lat, lon }),
        (None, None) => None,
        _ => {
            return Err(bad_input(
                "a new position needs both latitude and longitude",
            ));
        }
    };
    Ok(tacho_core::PlaceChange {
        name: c.name,
        kind: c.kind.map(Into::into),
        center,
        radius_m: c.radius_m,
        address: set_or_clear(c.address, c.clear_address, "address")?,
    })
}

/// Where to split, from a mode and (for `Time`) an instant.
pub(crate) fn split_at(
    mode: SplitMode,
    at_ms: Option<i64>,
) -> Result<tacho_core::SplitAt, ApiError> {
    match (mode, at_ms) {
        (SplitMode::LongestStop, _) => Ok(tacho_core::SplitAt::LongestStop),
        (SplitMode::Time, Some(ms)) => Ok(tacho_core::SplitAt::Time(instant(ms, "split time")?)),
        (SplitMode::Time, None) => Err(bad_input("a split at a time needs the time")),
    }
}

/// An entry form to the core's input, with its times checked.
pub(crate) fn new_entry(e: NewEntryInput) -> Result<tacho_core::NewEntry, ApiError> {
    Ok(tacho_core::NewEntry {
        project: e.project,
        description: e.description,
        start: instant_opt(e.start_ms, "entry start")?,
        stop: instant_opt(e.stop_ms, "entry stop")?,
        tags: e.tags,
        billable: e.billable,
        trip: e.trip,
    })
}

impl From<tacho_core::TimerStatus> for TimerStatusInfo {
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

/// Counts for Dart's `int` (64-bit signed); saturates instead of wrapping.
fn count<T: TryInto<i64>>(n: T) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

impl From<tacho_core::SyncStatus> for SyncStatusInfo {
    fn from(s: tacho_core::SyncStatus) -> Self {
        Self {
            relay_url: s.relay_url,
            account_id: s.account_id,
            pending_ops: count(s.pending_ops),
            parked_ops: count(s.parked_ops),
            last_sync_at_ms: s.last_sync_at.map(millis),
            last_error: s.last_error,
        }
    }
}

impl From<tacho_core::LogoutReport> for LogoutInfo {
    fn from(r: tacho_core::LogoutReport) -> Self {
        Self {
            revoked_on_relay: r.revoked_on_relay,
            relay_error: r.relay_error,
            forgot_data: r.forgot_data,
            unsynced_ops: count(r.unsynced_ops),
        }
    }
}

impl From<tacho_core::DeviceInfo> for DeviceInfoView {
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

impl From<tacho_core::SyncReport> for SyncReportInfo {
    fn from(r: tacho_core::SyncReport) -> Self {
        Self {
            pushed: count(r.pushed),
            pulled: count(r.pulled),
            changed: count(r.changed),
            parked: count(r.parked),
            cursor: count(r.cursor),
        }
    }
}

impl From<ParkedOp> for ParkedOpInfo {
    fn from(p: ParkedOp) -> Self {
        Self {
            op_id: p.op.op_id.to_string(),
            entity: p.op.entity.as_str().to_owned(),
            entity_id: p.op.entity_id.to_string(),
            code: p.code,
            message: p.message,
            parked_at_ms: millis(p.parked_at),
        }
    }
}

/// The handoff for the watch, with the JSON the watch's core reads back.
pub(crate) fn watch_handoff(h: &tacho_core::DeviceHandoff) -> Result<WatchHandoff, ApiError> {
    let json = serde_json::to_string(h).map_err(|e| ApiError {
        kind: ApiErrorKind::Storage,
        message: format!("can't encode the watch session: {e}"),
    })?;
    Ok(WatchHandoff {
        json,
        device_id: h.device_id.clone(),
        relay_url: h.relay_url.clone(),
        access_expires_at_ms: millis(h.access_expires_at),
    })
}

impl From<CoreEvent> for CoreEventInfo {
    fn from(e: CoreEvent) -> Self {
        let (kind, trip, distance_m) = match e {
            CoreEvent::TripStarted { trip } => (CoreEventKind::TripStarted, Some(trip), None),
            CoreEvent::TripEnded { trip } => (CoreEventKind::TripEnded, Some(trip), None),
            CoreEvent::TripProgress { trip, distance_m } => {
                (CoreEventKind::TripProgress, Some(trip), Some(distance_m))
            }
            CoreEvent::TripChanged { trip } => (CoreEventKind::TripChanged, Some(trip), None),
            CoreEvent::TimerChanged => (CoreEventKind::TimerChanged, None, None),
            CoreEvent::DataChanged => (CoreEventKind::DataChanged, None, None),
        };
        Self {
            kind,
            trip_id: trip.map(|t| t.to_string()),
            distance_m,
        }
    }
}

/// The event sent when a listener fell behind the broadcast buffer.
pub(crate) fn missed_event() -> CoreEventInfo {
    CoreEventInfo {
        kind: CoreEventKind::Missed,
        trip_id: None,
        distance_m: None,
    }
}

/// A file name for a shared report: only letters, digits, `-` and `_` from
/// the car and period, so it is safe on every file system.
pub(crate) fn report_file_name(
    kind: &str,
    subject: Option<&str>,
    period: &str,
    format: ReportFormat,
) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    let ext = CoreReportFormat::from(format).extension();
    match subject {
        Some(s) => format!("tacho-{kind}-{}-{}.{ext}", clean(s), clean(period)),
        None => format!("tacho-{kind}-{}.{ext}", clean(period)),
    }
}

// ---- timesheet connectors --------------------------------------------------

same_variants!(
    LinkState,
    tacho_model::connector::LinkState,
    [Pending, Synced, Conflict, Error]
);
same_variants!(
    ConflictState,
    tacho_model::connector::ConflictState,
    [Open, Resolved]
);
same_variants!(
    Resolution,
    tacho_model::connector::Resolution,
    [KeepLocal, KeepRemote, Dismiss]
);

/// A connection state by its wire name; a name this build does not know is `Unknown`.
fn connector_state(name: &str) -> ConnectorState {
    match name {
        "active" => ConnectorState::Active,
        "paused" => ConnectorState::Paused,
        "disabled" => ConnectorState::Disabled,
        "quota" => ConnectorState::Quota,
        _ => ConnectorState::Unknown,
    }
}

impl From<ConnectionInfo> for ConnectionView {
    fn from(c: ConnectionInfo) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.label.unwrap_or_else(|| c.provider.clone()),
            service: c.provider,
            state: connector_state(&c.state),
            state_name: c.state,
            disabled_reason: c.disabled_reason,
            quota_until: c.quota_until,
            pending: count(c.counts.pending),
            conflicts: count(c.counts.conflicts),
            errors: count(c.counts.errors),
            last_push_at: c.last_push_at,
            last_pull_at: c.last_pull_at,
        }
    }
}

impl From<ConnectorStatus> for ConnectorStatusInfo {
    fn from(s: ConnectorStatus) -> Self {
        Self {
            state: connector_state(&s.state),
            state_name: s.state,
            pending: count(s.pending),
            running: count(s.running),
            conflicts: count(s.conflicts),
            errors: count(s.errors),
            last_error: s.last_error,
            last_push_at: s.last_push_at,
            last_pull_at: s.last_pull_at,
        }
    }
}

impl From<tacho_core::RunReport> for ConnectorRunInfo {
    fn from(r: tacho_core::RunReport) -> Self {
        Self {
            status: r.status.into(),
            drained: r.drained,
        }
    }
}

impl From<mconnector::EntrySnapshot> for EntrySnapshotInfo {
    fn from(s: mconnector::EntrySnapshot) -> Self {
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

/// A conflict with its entity id, for Dart.
pub(crate) fn conflict(id: uuid::Uuid, c: mconnector::ConnectorConflict) -> ConflictInfo {
    ConflictInfo {
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

impl From<mconnector::ConnectorLink> for ConnectorLinkInfo {
    fn from(l: mconnector::ConnectorLink) -> Self {
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

/// Groups links by entry into badges (the most urgent state of each entry's links), entries
/// in id order (ids are time-ordered).
pub(crate) fn entry_sync_states(links: Vec<mconnector::ConnectorLink>) -> Vec<EntrySyncInfo> {
    let mut by_entry: std::collections::BTreeMap<uuid::Uuid, Vec<_>> =
        std::collections::BTreeMap::new();
    for link in links {
        by_entry.entry(link.entry_id).or_default().push(link);
    }
    by_entry
        .into_iter()
        .filter_map(|(entry, links)| {
            let state = mconnector::LinkState::most_urgent(links.iter().map(|l| l.state))?;
            Some(EntrySyncInfo {
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
    use crate::api::session::TachoCore;

    #[test]
    fn every_core_error_keeps_its_category_and_message() {
        let cases = [
            (
                CoreError::BadInput { reason: "r".into() },
                ApiErrorKind::BadInput,
            ),
            (
                CoreError::NotFound {
                    kind: "trip".into(),
                    id: "x".into(),
                },
                ApiErrorKind::NotFound,
            ),
            (
                CoreError::Conflict { reason: "r".into() },
                ApiErrorKind::Conflict,
            ),
            (
                CoreError::LockedPeriod {
                    month: "2026-03".into(),
                },
                ApiErrorKind::LockedPeriod,
            ),
            (
                CoreError::Storage { reason: "r".into() },
                ApiErrorKind::Storage,
            ),
            (CoreError::Auth { reason: "r".into() }, ApiErrorKind::Auth),
            (
                CoreError::Network { reason: "r".into() },
                ApiErrorKind::Network,
            ),
            (
                CoreError::Report { reason: "r".into() },
                ApiErrorKind::Report,
            ),
        ];
        for (core, kind) in cases {
            let message = core.to_string();
            let api = ApiError::from(core);
            assert_eq!(api.kind, kind);
            assert_eq!(api.message, message);
        }
    }

    #[test]
    fn times_are_checked_not_wrapped() {
        assert_eq!(
            millis(instant(1_700_000_000_123, "t").unwrap()),
            1_700_000_000_123
        );
        let err = instant(i64::MAX, "fix time").unwrap_err();
        assert_eq!(err.kind, ApiErrorKind::BadInput);
        assert!(err.message.contains("fix time"), "{}", err.message);
        assert_eq!(instant_opt(None, "t").unwrap(), None);
        assert!(
            ping(PingInput {
                at_ms: i64::MIN,
                lat: 0.0,
                lon: 0.0,
                accuracy_m: None,
                speed_mps: None,
                heading_deg: None,
                altitude_m: None,
            })
            .is_err()
        );
    }

    #[test]
    fn dates_and_ids_are_checked() {
        assert_eq!(
            day(Some(" 2026-03-01 ".into()), "from").unwrap(),
            NaiveDate::from_ymd_opt(2026, 3, 1)
        );
        assert_eq!(day(Some("  ".into()), "from").unwrap(), None);
        assert_eq!(
            day(Some("1.3.2026".into()), "from").unwrap_err().kind,
            ApiErrorKind::BadInput
        );
        let err = parse_id::<tacho_model::id::DeviceId>("watch").unwrap_err();
        assert_eq!(err.kind, ApiErrorKind::BadInput);
        assert!(err.message.contains("device"), "{}", err.message);
    }

    #[test]
    fn rounding_rules_round_trip_and_bad_steps_are_refused() {
        for rule in [
            mwork::Rounding::None,
            mwork::Rounding::Up(15),
            mwork::Rounding::Down(6),
            mwork::Rounding::Nearest(1440),
        ] {
            assert_eq!(rounding(RoundingRule::from(rule)).unwrap(), rule);
        }
        let zero = RoundingRule {
            mode: RoundingMode::Up,
            minutes: 0,
        };
        assert_eq!(rounding(zero).unwrap_err().kind, ApiErrorKind::BadInput);
        let none = RoundingRule {
            mode: RoundingMode::None,
            minutes: 0,
        };
        assert_eq!(rounding(none).unwrap(), mwork::Rounding::None);
    }

    #[test]
    fn enums_map_both_ways() {
        for s in [
            TripSource::Carplay,
            TripSource::Bluetooth,
            TripSource::Manual,
            TripSource::Hook,
            TripSource::CarApi,
            TripSource::Import,
            TripSource::Auto,
        ] {
            assert_eq!(TripSource::from(mtrip::TripSource::from(s)), s);
        }
        assert_eq!(
            mtrip::TripField::from(TripField::BusinessPartner).as_str(),
            "business_partner"
        );
        assert_eq!(
            CoreReportFormat::from(ReportFormat::Xlsx).extension(),
            "xlsx"
        );
    }

    #[test]
    fn places_with_non_finite_numbers_are_refused() {
        let place = NewPlaceInput {
            name: " Office ".into(),
            kind: PlaceKind::Office,
            lat: 52.0,
            lon: 4.0,
            radius_m: 150.0,
            address: None,
        };
        assert_eq!(new_place(place.clone()).unwrap().name, "Office");
        let bad = NewPlaceInput {
            lat: f64::NAN,
            ..place
        };
        assert_eq!(new_place(bad).unwrap_err().kind, ApiErrorKind::BadInput);
    }

    #[test]
    fn report_file_names_are_safe() {
        assert_eq!(
            report_file_name("mileage", Some("AB/12 CD"), "2026-03", ReportFormat::Csv),
            "tacho-mileage-AB-12-CD-2026-03.csv"
        );
        assert_eq!(
            report_file_name("hours", None, "2026-03-01..2026-03-31", ReportFormat::Xlsx),
            "tacho-hours-2026-03-01--2026-03-31.xlsx"
        );
    }

    #[test]
    fn core_events_map_to_flat_events() {
        let trip = tacho_model::id::TripId::new();
        let info = CoreEventInfo::from(CoreEvent::TripProgress {
            trip,
            distance_m: 12.5,
        });
        assert_eq!(info.kind, CoreEventKind::TripProgress);
        assert_eq!(info.trip_id, Some(trip.to_string()));
        assert_eq!(info.distance_m, Some(12.5));
        assert_eq!(CoreEventInfo::from(CoreEvent::TimerChanged).trip_id, None);
    }

    /// The API end to end on a real database (no Dart): a trip recorded
    /// from connect to end, classified and edited, a timer, and a report.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_trip_and_a_timer_through_the_api() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("tacho.db").to_string_lossy().into_owned();
        let core = TachoCore::open(db, "Europe/Amsterdam".into(), Some("test phone".into()))
            .await
            .unwrap();

        // Another file: an open database's zone is its first open's (crate::shared).
        let elsewhere = dir.path().join("other.db").to_string_lossy().into_owned();
        let bad = TachoCore::open(elsewhere, "Mars/Olympus".into(), None)
            .await
            .err()
            .unwrap();
        assert_eq!(bad.kind, ApiErrorKind::BadInput);

        let car = core
            .add_car(NewCarInput {
                name: "Golf".into(),
                plate: "AB-123-C".into(),
                connect_hint: Some("VW BT".into()),
                available_from: Some("2026-01-01".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(car.available_from.as_deref(), Some("2026-01-01"));

        let started = core
            .connect(TripSource::Bluetooth, Some("VW BT".into()))
            .await
            .unwrap();
        assert_eq!(started.started_trip_ids.len(), 1);
        let now = core.core.now().timestamp_millis();
        let fixes = (0..5)
            .map(|i| PingInput {
                at_ms: now + i * 1000,
                lat: 52.0 + i as f64 * 0.0001,
                lon: 4.0,
                accuracy_m: Some(5.0),
                speed_mps: None,
                heading_deg: None,
                altitude_m: None,
            })
            .collect();
        core.ping_batch(fixes).await.unwrap();
        let active = core.active_trip().await.unwrap().unwrap();
        assert_eq!(active.trip.id, started.started_trip_ids[0]);
        assert!(active.live_distance_m > 0.0);

        let ended = core.end_trip().await.unwrap();
        assert_eq!(ended.ended_trip_ids, started.started_trip_ids);
        assert!(core.active_trip().await.unwrap().is_none());

        let id = ended.ended_trip_ids[0].clone();
        let trip = core
            .classify_trip(id.clone(), Purpose::Business, Some("ACME".into()))
            .await
            .unwrap();
        assert_eq!(trip.purpose, Some(Purpose::Business));
        assert_eq!(trip.purpose_by, Some(Decider::User));
        core.edit_trip(id.clone(), TripField::Note, Some("detour".into()))
            .await
            .unwrap();
        let detail = core
            .set_trip_odometer(id.clone(), TripEnd::Start, 12_345.6)
            .await
            .unwrap();
        assert_eq!(
            detail.odometer_start.as_ref().map(|r| r.odometer_m),
            Some(12_345_600)
        );
        assert!(detail.history.iter().any(|e| e.field == TripField::Note));
        let points = core.trip_points(id.clone()).await.unwrap();
        assert_eq!(points.len() as u32, detail.point_count, "{points:?}");
        assert!(!points.is_empty());
        let listed = core
            .trips(TripQuery {
                car: Some("Golf".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(core.car_readings("Golf".into(), 10).await.unwrap().len(), 1);

        let err = core.end_trip().await.unwrap_err();
        assert_eq!(err.kind, ApiErrorKind::Conflict);
        let err = core.trip("nope".into()).await.unwrap_err();
        assert_eq!(err.kind, ApiErrorKind::NotFound);

        core.start_timer(None, "admin".into(), vec![])
            .await
            .unwrap();
        assert!(core.timer_status().await.unwrap().running.is_some());
        core.stop_timer().await.unwrap();
        assert_eq!(
            core.stop_timer().await.unwrap_err().kind,
            ApiErrorKind::Conflict
        );

        let month = core.core.now().format("%Y-%m").to_string();
        let path = core
            .write_mileage_report(
                "Golf".into(),
                month,
                ReportFormat::Csv,
                dir.path().to_string_lossy().into_owned(),
            )
            .await
            .unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 0);

        let status = core.sync_status().await.unwrap();
        assert_eq!(status.relay_url, None);
        assert!(status.pending_ops > 0);
        let err = core.sync_now().await.unwrap_err();
        assert_eq!(err.kind, ApiErrorKind::Auth);
        let err = core
            .mint_watch_session("not-an-id".into(), "Watch".into())
            .await
            .unwrap_err();
        assert_eq!(err.kind, ApiErrorKind::BadInput);
    }

    #[test]
    fn edit_inputs_refuse_setting_and_clearing_at_once() {
        let both = entry_edit(EntryEditInput {
            project: Some("ACME".into()),
            clear_project: true,
            ..Default::default()
        });
        assert_eq!(both.err().map(|e| e.kind), Some(ApiErrorKind::BadInput));
        let cleared = entry_edit(EntryEditInput {
            clear_trip: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!((cleared.trip, cleared.project), (Some(None), None));
        let backwards = entry_edit(EntryEditInput {
            start_ms: Some(2_000),
            stop_ms: Some(1_000),
            ..Default::default()
        });
        assert!(backwards.is_err());
        assert!(
            car_change(CarChangeInput {
                available_to: Some("2026-02-30".into()),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            place_change(PlaceChangeInput {
                lat: Some(1.0),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            project_change(ProjectChangeInput {
                rounding: Some(RoundingRule {
                    mode: RoundingMode::Up,
                    minutes: 0
                }),
                ..Default::default()
            })
            .is_err()
        );
        assert!(split_at(SplitMode::Time, None).is_err());
        assert_eq!(
            split_at(SplitMode::LongestStop, Some(5)).unwrap(),
            tacho_core::SplitAt::LongestStop
        );
        assert_eq!(
            ApiError::from(CoreError::InUse {
                kind: "car".into(),
                name: "Golf".into(),
                count: 2,
                reason: "retire it instead".into(),
            })
            .kind,
            ApiErrorKind::InUse
        );
    }

    /// Entries, projects, cars and places fixed through the API on a real
    /// database: an edit with its history, delete and restore, a project in
    /// use archived but not deleted, and a locked month refusing an edit.
    #[tokio::test(flavor = "multi_thread")]
    async fn fixing_entries_and_reference_data_through_the_api() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("tacho.db").to_string_lossy().into_owned();
        let core = TachoCore::open(db, "Europe/Berlin".into(), None)
            .await
            .unwrap();
        let rule = RoundingRule {
            mode: RoundingMode::None,
            minutes: 0,
        };
        for name in ["ACME", "Beta"] {
            core.add_project(NewProjectInput {
                name: name.into(),
                client: None,
                billable: true,
                rounding: rule,
            })
            .await
            .unwrap();
        }
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
        let entry = core
            .add_entry(NewEntryInput {
                project: Some("ACME".into()),
                description: "instal".into(),
                start_ms: Some(at("2026-03-02T09:00:00+01:00")),
                stop_ms: Some(at("2026-03-02T10:00:00+01:00")),
                tags: vec!["a".into()],
                billable: None,
                trip: None,
            })
            .await
            .unwrap();
        let edited = core
            .edit_entry(
                entry.id.clone(),
                EntryEditInput {
                    project: Some("Beta".into()),
                    description: Some("install".into()),
                    tags: Some(vec!["a".into(), "b".into()]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(edited.entry.description, "install");
        assert_eq!(edited.project.map(|p| p.name).as_deref(), Some("Beta"));
        let mut changed: Vec<_> = edited.history.iter().map(|h| h.field).collect();
        changed.sort_by_key(|f| format!("{f:?}"));
        assert_eq!(
            changed,
            [
                EntryField::Description,
                EntryField::Project,
                EntryField::Tags
            ]
        );

        assert!(core.delete_entry(entry.id.clone()).await.unwrap());
        assert!(core.entry(entry.id.clone()).await.unwrap().deleted);
        let restored = core.restore_entry(entry.id.clone()).await.unwrap();
        assert!(!restored.deleted);
        assert_eq!(
            restored.history.last().map(|h| h.field),
            Some(EntryField::Deleted)
        );

        let in_use = core.delete_project("Beta".into()).await.unwrap_err();
        assert_eq!(in_use.kind, ApiErrorKind::InUse);
        assert!(
            core.archive_project("Beta".into(), true)
                .await
                .unwrap()
                .archived
        );
        let listed: Vec<_> = core
            .project_list(false)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(listed, ["ACME"]);
        assert!(core.delete_project("ACME".into()).await.unwrap());

        let car = core
            .add_car(NewCarInput {
                name: "Golf".into(),
                plate: "M-TC 1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let car = core
            .edit_car(
                car.id,
                CarChangeInput {
                    plate: Some("M-TC 2".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(car.plate, "M-TC 2");
        assert!(core.retire_car(car.id.clone(), true).await.unwrap().retired);
        assert!(core.car_list(false).await.unwrap().is_empty());
        assert_eq!(core.car_list(true).await.unwrap().len(), 1);

        core.lock_period("2026-03".into()).await.unwrap();
        let locked = core
            .edit_entry(
                entry.id.clone(),
                EntryEditInput {
                    description: Some("late".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(locked.kind, ApiErrorKind::LockedPeriod);
        assert_eq!(
            core.entry(entry.id).await.unwrap().entry.description,
            "install"
        );
    }

    /// Connector state written as the relay's connector device would (ops of kind
    /// `connector_link` / `connector_conflict`), applied to a real store file through the pull
    /// path before the API opens it.
    fn pulled_connector_ops(
        path: &std::path::Path,
        ops: Vec<(
            tacho_model::op::EntityKind,
            uuid::Uuid,
            Option<serde_json::Value>,
        )>,
    ) {
        use tacho_model::hlc::Hlc;
        use tacho_model::id::{DeviceId, OpId};
        use tacho_model::op::{Op, OpKind, SCHEMA_VERSION};
        let device = DeviceId::new();
        let ops: Vec<Op> = ops
            .into_iter()
            .enumerate()
            .map(|(i, (entity, entity_id, fields))| Op {
                op_id: OpId::new(),
                device,
                device_seq: i as u64 + 1,
                hlc: Hlc::new(RAISED_MS as u64 + i as u64, 0),
                entity,
                entity_id,
                kind: match fields {
                    Some(serde_json::Value::Object(fields)) => OpKind::Upsert { fields },
                    Some(_) => panic!("fields are an object"),
                    None => OpKind::Delete,
                },
                schema: SCHEMA_VERSION,
            })
            .collect();
        let mut store =
            tacho_store::Store::open(path, std::sync::Arc::new(tacho_model::clock::SystemClock))
                .unwrap();
        let applied = store
            .write(|w| w.apply_remote(&ops, ops.len() as u64))
            .unwrap();
        assert_eq!(applied.invalid, 0);
    }

    /// 2026-12-07T10:00:00Z.
    const RAISED_MS: i64 = 1_796_637_600_000;

    #[tokio::test(flavor = "multi_thread")]
    async fn conflicts_links_and_badges_through_the_api() {
        use serde_json::json;
        use tacho_model::connector::link_id;
        use tacho_model::op::EntityKind::{ConnectorConflict, ConnectorLink};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tacho.db");
        let (kimai, toggl) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let (entry_a, entry_b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let (open_id, settled_id, gone_id) = (
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
        );
        let link = |conn: uuid::Uuid, entry: uuid::Uuid, state: &str| {
            (
                ConnectorLink,
                link_id(conn, entry),
                Some(json!({
                    "connection_id": conn, "connection_name": "work", "service": "toggl",
                    "entry_id": entry, "state": state, "synced_at": "2026-12-07T09:00:00Z",
                })),
            )
        };
        let conflict = |conn: uuid::Uuid, entry: uuid::Uuid, minute: u32| {
            Some(json!({
                "connection_id": conn, "connection_name": "work", "service": "toggl",
                "entry_id": entry, "remote_id": "4711",
                "local": {"description": "standup", "seconds": 900, "project": "Acme"},
                "remote": {"description": "stand-up", "stop": "2026-12-07T09:15:00Z"},
                "message": "edited on both sides",
                "raised_at": format!("2026-12-07T10:{minute:02}:00Z"), "state": "open",
            }))
        };
        pulled_connector_ops(
            &path,
            vec![
                link(kimai, entry_a, "synced"),
                link(toggl, entry_a, "pending"),
                link(kimai, entry_b, "conflict"),
                link(toggl, entry_b, "error"),
                (ConnectorConflict, open_id, conflict(kimai, entry_b, 15)),
                (ConnectorConflict, settled_id, conflict(toggl, entry_a, 5)),
                (
                    ConnectorConflict,
                    settled_id,
                    Some(json!({"state": "resolved", "resolution": "keep_remote",
                                "resolved_at": "2026-12-07T10:30:00Z"})),
                ),
                (ConnectorConflict, gone_id, conflict(kimai, entry_a, 1)),
                (ConnectorConflict, gone_id, None),
            ],
        );

        let core = TachoCore::open(path.to_string_lossy().into_owned(), "UTC".into(), None)
            .await
            .unwrap();
        assert_eq!(core.conflict_count().await.unwrap(), 1);
        let open = core.conflicts(false).await.unwrap();
        assert_eq!(open.len(), 1);
        let c = &open[0];
        assert_eq!(c.id, open_id.to_string());
        assert_eq!(c.connection_id, kimai.to_string());
        assert_eq!(c.entry_id, Some(entry_b.to_string()));
        assert_eq!(c.remote_id.as_deref(), Some("4711"));
        assert_eq!(c.raised_at_ms, RAISED_MS + 15 * 60_000);
        assert_eq!(c.state, ConflictState::Open);
        let local = c.local.clone().unwrap();
        assert_eq!(
            (
                local.description.as_deref(),
                local.seconds,
                local.project.as_deref()
            ),
            (Some("standup"), Some(900), Some("Acme"))
        );
        let remote = c.remote.clone().unwrap();
        assert_eq!(remote.stop_ms, Some(RAISED_MS - 45 * 60_000));
        assert_eq!(remote.seconds, None);

        let all = core.conflicts(true).await.unwrap();
        let ids: Vec<_> = all.iter().map(|c| c.id.clone()).collect();
        assert_eq!(ids, [settled_id.to_string(), open_id.to_string()]);
        assert_eq!(all[0].state, ConflictState::Resolved);
        assert_eq!(all[0].resolution, Some(Resolution::KeepRemote));
        assert_eq!(all[0].resolved_at_ms, Some(RAISED_MS + 30 * 60_000));

        let links = core.connector_links().await.unwrap();
        assert_eq!(links.len(), 4);
        assert!(
            links
                .iter()
                .all(|l| l.synced_at_ms == Some(RAISED_MS - 3_600_000))
        );
        let badges = core.entry_sync_states().await.unwrap();
        let badge = |entry: uuid::Uuid| {
            badges
                .iter()
                .find(|b| b.entry_id == entry.to_string())
                .map(|b| (b.state, b.links.len()))
        };
        assert_eq!(badges.len(), 2);
        assert_eq!(badge(entry_a), Some((LinkState::Pending, 2)));
        assert_eq!(badge(entry_b), Some((LinkState::Conflict, 2)));

        // Resolving checks the id before anything else, and needs a session.
        let bad = core
            .resolve_conflict("nope".into(), Resolution::Dismiss)
            .await
            .unwrap_err();
        assert_eq!(bad.kind, ApiErrorKind::BadInput);
        assert!(bad.message.contains("nope"), "{}", bad.message);
        let signed_out = core
            .resolve_conflict(open_id.to_string(), Resolution::KeepLocal)
            .await
            .unwrap_err();
        assert_eq!(signed_out.kind, ApiErrorKind::Auth);
        assert_eq!(
            core.connectors().await.unwrap_err().kind,
            ApiErrorKind::Auth
        );
    }

    #[test]
    fn connections_map_their_state_and_name() {
        let info: ConnectionInfo = serde_json::from_value(serde_json::json!({
            "id": "0190d5e2-0000-7000-8000-00000000abcd", "provider": "kimai", "label": "client A",
            "state": "disabled", "disabled_reason": "401 from Kimai",
            "counts": {"pending": 3, "conflicts": 2, "errors": 1},
            "created_at": "2026-12-01T00:00:00Z", "updated_at": "2026-12-01T00:00:00Z",
        }))
        .unwrap();
        let view = ConnectionView::from(info.clone());
        assert_eq!(
            (view.name.as_str(), view.service.as_str()),
            ("client A", "kimai")
        );
        assert_eq!(view.state, ConnectorState::Disabled);
        assert_eq!(view.disabled_reason.as_deref(), Some("401 from Kimai"));
        assert_eq!((view.pending, view.conflicts, view.errors), (3, 2, 1));
        let unknown = ConnectionView::from(ConnectionInfo {
            label: None,
            state: "migrating".into(),
            ..info
        });
        assert_eq!(unknown.name, "kimai");
        assert_eq!(unknown.state, ConnectorState::Unknown);
        assert_eq!(unknown.state_name, "migrating");
    }
}
