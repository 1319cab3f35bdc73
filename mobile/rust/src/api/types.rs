//! Plain data the Dart side reads and writes. Each mirrors a core type with
//! Dart-friendly fields: ids as strings, instants as unix milliseconds.

/// What told Tacho a trip started; recorded on the trip and in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripSource {
    /// CarPlay connected (App Intent run by a Shortcuts automation).
    Carplay,
    /// The car's Bluetooth connected.
    Bluetooth,
    /// The person pressed start.
    Manual,
    /// A relay automation hook.
    Hook,
    /// A car manufacturer API.
    CarApi,
    /// A GPS track file.
    Import,
    /// Pings alone started it.
    Auto,
}

/// Where a trip is in its life; only ended trips go into reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripState {
    /// Still recording.
    Active,
    /// Finished; later edits are kept in its history.
    Ended,
    /// Thrown away (kept as a tombstone for sync).
    Discarded,
}

/// The tax category of a trip, the main thing a person sets on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Driven for work.
    Business,
    /// Private use.
    Private,
    /// Home to the regular workplace.
    Commute,
}

/// Who chose a trip's purpose, so the UI can show "suggested" vs "chosen".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decider {
    /// The place rules.
    Rule,
    /// The person.
    User,
}

/// The trip fields a person may edit; each edit of an ended trip is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripField {
    /// Business, private or commute (`business`, `private`, `commute`).
    Purpose,
    /// The client visited.
    BusinessPartner,
    /// A free note, e.g. why the route deviated.
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
    /// History only: discarded (`yes`) or restored (`no`).
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

/// Whether a trip counts in totals, and if not why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripStatus {
    /// Counts in totals and reports.
    Current,
    /// Discarded by a person; restorable.
    Discarded,
    /// Replaced by a merged trip or split parts, which count instead.
    Replaced,
    /// A merge or split that lost to a concurrent one; kept for the history.
    Superseded,
}

/// How to split a trip (with `at_ms` for `Time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitMode {
    /// At an instant: fixes before it go to the first part.
    Time,
    /// At its longest stop (at least a minute within 150 m).
    LongestStop,
}

/// Which field of a time entry an edit changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryField {
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
    /// The linked trip.
    Trip,
    /// Deleted (`yes`) or restored (`no`).
    Deleted,
}

/// Which end of a trip an odometer reading belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripEnd {
    /// When it started.
    Start,
    /// When it ended.
    End,
}

/// Where an odometer reading came from, shown next to the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadingSource {
    /// Typed in.
    Manual,
    /// From the car maker's API.
    CarApi,
}

/// The role of a place in classifying trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceKind {
    /// Home.
    Home,
    /// The regular workplace.
    Office,
    /// A client: trips to or from it are business.
    Client,
    /// Anything else worth naming.
    Other,
}

/// How a time entry came to be, shown as an icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntrySource {
    /// The timer.
    Timer,
    /// Typed in afterwards.
    Manual,
    /// Travel time taken from a trip.
    Trip,
    /// Pulled from a connected timesheet service (Toggl, Tempo, Kimai, Zammad).
    Connector,
}

/// How a project's durations are rounded in views and reports (stored
/// times never are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundingMode {
    /// Exact.
    None,
    /// Up to the next multiple.
    Up,
    /// Down to the previous multiple.
    Down,
    /// To the nearest multiple.
    Nearest,
}

/// A rounding rule: mode plus step; `minutes` is ignored for `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundingRule {
    /// The mode.
    pub mode: RoundingMode,
    /// The step in minutes (1 to 1440).
    pub minutes: u32,
}

/// File format of an exported report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// CSV, for spreadsheets and scripts.
    Csv,
    /// An Excel workbook, for people and tax advisers.
    Xlsx,
    /// JSON, for machines.
    Json,
}

/// A position, for map markers and polylines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLng {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// A trip as lists and headers show it.
#[derive(Debug, Clone, PartialEq)]
pub struct TripInfo {
    /// Trip id.
    pub id: String,
    /// The car driven, when known.
    pub car_id: Option<String>,
    /// Lifecycle state.
    pub state: TripState,
    /// What started it.
    pub source: TripSource,
    /// Car hint from the connect event (e.g. a Bluetooth device name).
    pub car_hint: Option<String>,
    /// Start, unix ms.
    pub started_at_ms: i64,
    /// End, unix ms, once ended.
    pub ended_at_ms: Option<i64>,
    /// IANA zone the trip was recorded in (for local dates).
    pub time_zone: String,
    /// First position.
    pub start: Option<LatLng>,
    /// Last position.
    pub end: Option<LatLng>,
    /// Start address.
    pub start_address: Option<String>,
    /// End address.
    pub end_address: Option<String>,
    /// Known place at the start.
    pub start_place_id: Option<String>,
    /// Known place at the end.
    pub end_place_id: Option<String>,
    /// Filtered GPS distance in metres.
    pub distance_m: f64,
    /// Points recorded.
    pub point_count: u32,
    /// Purpose; `None` while unclassified.
    pub purpose: Option<Purpose>,
    /// Who set the purpose.
    pub purpose_by: Option<Decider>,
    /// Business partner visited.
    pub business_partner: Option<String>,
    /// Free note.
    pub note: Option<String>,
    /// Closed by recovery after a long silence rather than a disconnect.
    pub recovered: bool,
}

/// The trip being recorded, for the Today screen and the Live Activity.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveTrip {
    /// The trip header.
    pub trip: TripInfo,
    /// Live distance in metres (the recorder's, newer than the header's).
    pub live_distance_m: f64,
    /// Seconds since it started.
    pub duration_s: i64,
}

/// One change to an ended trip, shown in its history (Fahrtenbuch rule).
#[derive(Debug, Clone, PartialEq)]
pub struct TripEditInfo {
    /// The field changed.
    pub field: TripField,
    /// Value before, as shown to people.
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
    /// When, unix ms.
    pub at_ms: i64,
    /// The device that made it.
    pub device_id: String,
}

/// An odometer reading, for the car screen and the trip detail.
#[derive(Debug, Clone, PartialEq)]
pub struct OdometerReadingInfo {
    /// Reading id.
    pub id: String,
    /// The car.
    pub car_id: String,
    /// When it was read, unix ms.
    pub at_ms: i64,
    /// Value in whole metres (exact).
    pub odometer_m: i64,
    /// Value in km, for display.
    pub odometer_km: f64,
    /// Where it came from.
    pub source: ReadingSource,
    /// The trip it belongs to, if any.
    pub trip_id: Option<String>,
    /// Which end of that trip.
    pub trip_end: Option<TripEnd>,
}

/// Everything about one trip, for the detail screen.
#[derive(Debug, Clone, PartialEq)]
pub struct TripDetail {
    /// The header.
    pub trip: TripInfo,
    /// Points stored.
    pub point_count: u32,
    /// Odometer at the start.
    pub odometer_start: Option<OdometerReadingInfo>,
    /// Odometer at the end.
    pub odometer_end: Option<OdometerReadingInfo>,
    /// Every change made after the trip ended, oldest first.
    pub history: Vec<TripEditInfo>,
    /// Whether it counts in totals, and if not why.
    pub status: TripStatus,
    /// For a merged trip: its sources (ids), in time order.
    pub merged_from: Vec<String>,
    /// For a split part: the trip it was cut from.
    pub split_from: Option<String>,
    /// For a replaced trip: the merged trip or the split parts.
    pub replaced_by: Vec<String>,
}

/// A trip's status by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TripStatusInfo {
    /// Trip id.
    pub trip_id: String,
    /// Its status.
    pub status: TripStatus,
}

/// The two parts of a split trip, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitTripInfo {
    /// The first part.
    pub first: TripDetail,
    /// The second part.
    pub second: TripDetail,
}

/// A restored trip and whether it was discarded at all.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredTripInfo {
    /// The trip.
    pub trip: TripDetail,
    /// False when it was not discarded (nothing changed).
    pub changed: bool,
}

/// One stored GPS point, for drawing the route on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct TripPointInfo {
    /// Position within the trip.
    pub seq: u32,
    /// When, unix ms.
    pub at_ms: i64,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Accuracy radius in metres, if known.
    pub accuracy_m: Option<f64>,
    /// Whether it counted toward the distance (false = poor accuracy).
    pub counted: bool,
}

/// Filter for the trip list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TripQuery {
    /// Trips starting at or after this instant (unix ms).
    pub from_ms: Option<i64>,
    /// Trips starting before this instant (unix ms).
    pub until_ms: Option<i64>,
    /// Only this car (id, name or plate).
    pub car: Option<String>,
    /// Include discarded trips.
    pub include_discarded: bool,
    /// At most this many, newest first.
    pub limit: Option<u32>,
}

/// One GPS fix from the phone's location service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PingInput {
    /// When the fix was taken, unix ms.
    pub at_ms: i64,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Horizontal accuracy in metres, if known.
    pub accuracy_m: Option<f64>,
    /// Speed in m/s, if known.
    pub speed_mps: Option<f64>,
    /// Course in degrees from north, if known.
    pub heading_deg: Option<f64>,
    /// Altitude in metres, if known.
    pub altitude_m: Option<f64>,
}

/// What a connect, ping, disconnect or tick did, so the caller can update
/// the Live Activity or notification without another call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedResult {
    /// Trips that started.
    pub started_trip_ids: Vec<String>,
    /// Trips that ended.
    pub ended_trip_ids: Vec<String>,
    /// Points stored.
    pub points: u32,
    /// Why a fix was refused, if one was.
    pub rejected: Option<String>,
    /// Why a fix was ignored (`duplicate`, `out_of_order`), if one was.
    pub dropped: Option<String>,
    /// Wild fixes dropped as outliers.
    pub outliers: u32,
    /// A reconnect continued the open trip.
    pub resumed: bool,
    /// Fixes refused in a batch.
    pub rejected_count: u32,
    /// Fixes ignored in a batch.
    pub dropped_count: u32,
}

/// A car, for pickers and the cars screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarInfo {
    /// Car id.
    pub id: String,
    /// Short name.
    pub name: String,
    /// Manufacturer.
    pub make: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Licence plate.
    pub plate: String,
    /// First day available, `YYYY-MM-DD`.
    pub available_from: Option<String>,
    /// Last day available, `YYYY-MM-DD`.
    pub available_to: Option<String>,
    /// Bluetooth / CarPlay name, used to pick the car on connect.
    pub connect_hint: Option<String>,
    /// Retired (sold): its trips stay, no new trip is recorded in it.
    pub retired: bool,
}

/// A new car as a form enters it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCarInput {
    /// Short name.
    pub name: String,
    /// Licence plate.
    pub plate: String,
    /// Manufacturer.
    pub make: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// First day available, `YYYY-MM-DD`.
    pub available_from: Option<String>,
    /// Last day available, `YYYY-MM-DD`.
    pub available_to: Option<String>,
    /// Bluetooth / CarPlay name.
    pub connect_hint: Option<String>,
}

/// A known place, for the places screen and the map.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceInfo {
    /// Place id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role in classification.
    pub kind: PlaceKind,
    /// Centre.
    pub center: LatLng,
    /// Radius in metres.
    pub radius_m: f64,
    /// Address.
    pub address: Option<String>,
}

/// A new place as a form enters it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPlaceInput {
    /// Name.
    pub name: String,
    /// Role in classification.
    pub kind: PlaceKind,
    /// Centre latitude.
    pub lat: f64,
    /// Centre longitude.
    pub lon: f64,
    /// Radius in metres.
    pub radius_m: f64,
    /// Address.
    pub address: Option<String>,
}

/// A project time is booked on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectInfo {
    /// Project id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Client billed.
    pub client: Option<String>,
    /// Billable by default.
    pub billable: bool,
    /// Rounding in views and reports.
    pub rounding: RoundingRule,
    /// Archived: its entries stay, hidden from default lists, no new time
    /// can be booked on it.
    pub archived: bool,
}

/// A new project as a form enters it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProjectInput {
    /// Name (unique).
    pub name: String,
    /// Client billed.
    pub client: Option<String>,
    /// Billable by default.
    pub billable: bool,
    /// Rounding in views and reports.
    pub rounding: RoundingRule,
}

/// A span of worked time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeEntryInfo {
    /// Entry id.
    pub id: String,
    /// Project.
    pub project_id: Option<String>,
    /// What was done.
    pub description: String,
    /// Start, unix ms.
    pub start_ms: i64,
    /// Stop, unix ms; `None` while the timer runs.
    pub stop_ms: Option<i64>,
    /// Tags.
    pub tags: Vec<String>,
    /// Billable.
    pub billable: bool,
    /// Origin.
    pub source: EntrySource,
    /// The trip it records travel time for.
    pub trip_id: Option<String>,
}

/// A finished entry typed in afterwards, or travel time for a trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewEntryInput {
    /// Project (id or name).
    pub project: Option<String>,
    /// What was done.
    pub description: String,
    /// Start, unix ms (defaults to the trip's start).
    pub start_ms: Option<i64>,
    /// Stop, unix ms (defaults to the trip's end).
    pub stop_ms: Option<i64>,
    /// Tags.
    pub tags: Vec<String>,
    /// Billable; defaults to the project's setting.
    pub billable: Option<bool>,
    /// The trip (id or prefix) this is travel time for.
    pub trip: Option<String>,
}

/// Filter for the timesheet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryQuery {
    /// Entries starting at or after this instant (unix ms).
    pub from_ms: Option<i64>,
    /// Entries starting before this instant (unix ms).
    pub until_ms: Option<i64>,
    /// Only this project (id or name).
    pub project: Option<String>,
}

/// The timer as the Today screen and the watch show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerStatusInfo {
    /// The running entry.
    pub running: Option<TimeEntryInfo>,
    /// Its project.
    pub project: Option<ProjectInfo>,
    /// Seconds elapsed on the running entry.
    pub elapsed_s: i64,
    /// Raw seconds worked today (UTC day).
    pub today_s: i64,
    /// Rounded seconds worked today.
    pub today_rounded_s: i64,
}

/// Sign-in and queue state, for the settings screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatusInfo {
    /// Relay URL, when signed in.
    pub relay_url: Option<String>,
    /// Account id, when signed in.
    pub account_id: Option<String>,
    /// Own changes not yet confirmed by the relay.
    pub pending_ops: i64,
    /// Changes the relay refused as invalid (parked).
    pub parked_ops: i64,
    /// Last successful sync, unix ms.
    pub last_sync_at_ms: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
}

/// What `logout` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutInfo {
    /// Whether the relay revoked the session (false when it could not be reached: the tokens
    /// are forgotten here anyway).
    pub revoked_on_relay: bool,
    /// Why the relay did not revoke it.
    pub relay_error: Option<String>,
    /// Whether the local records were deleted too.
    pub forgot_data: bool,
    /// Own changes still waiting for the relay (kept; pushed after the next sign-in).
    pub unsynced_ops: i64,
}

/// One device of the account, for the devices screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfoView {
    /// The device's id.
    pub device_id: String,
    /// Its name.
    pub name: String,
    /// When it first signed in (RFC 3339 UTC).
    pub created_at: String,
    /// When it last pushed changes (RFC 3339 UTC), if ever.
    pub last_push_at: Option<String>,
    /// Whether it is this phone.
    pub current: bool,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// An OpenID Connect sign-in waiting for the browser (from `oidcBegin`): open
/// `authorization_url` with the browser session and pass the URL it returns to `oidcComplete`
/// together with `pending`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcPendingInfo {
    /// The provider's page to open in the browser session.
    pub authorization_url: String,
    /// The `state` the redirect must carry.
    pub state: String,
    /// Where the browser comes back (its scheme is the one to listen for).
    pub redirect_uri: String,
    /// When the relay forgets this sign-in, unix ms.
    pub expires_at_ms: i64,
    /// The whole sign-in, opaque, for `oidcComplete`. It holds the PKCE verifier: keep it
    /// private (memory or secure storage, never logs) and drop it afterwards.
    pub pending: String,
}

/// A one-time nonce for a native ID-token sign-in (Sign in with Apple); pass `nonce` verbatim
/// to the platform request, not hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcNonceInfo {
    /// The nonce, for the platform request and for `oidcSignInWithIdToken`.
    pub nonce: String,
    /// When the relay forgets it, unix ms.
    pub expires_at_ms: i64,
}

/// What one "sync now" did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReportInfo {
    /// Own changes the relay confirmed.
    pub pushed: i64,
    /// Changes pulled.
    pub pulled: i64,
    /// Pulled changes that changed local data.
    pub changed: i64,
    /// Own changes refused and parked.
    pub parked: i64,
    /// Pull cursor after the run.
    pub cursor: i64,
}

/// A hook token just made: `token` is the secret for the automation's
/// `Authorization: Bearer` header, shown only this once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHookToken {
    /// Id, for revoking.
    pub id: String,
    /// The secret (`tho_…`).
    pub token: String,
}

/// A hook token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookTokenView {
    /// Id, for revoking.
    pub id: String,
    /// Label for people.
    pub label: String,
    /// The car it is limited to, if any.
    pub car_id: Option<String>,
    /// That car's name when the token was made.
    pub car_name: Option<String>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it was last used (RFC 3339).
    pub last_used_at: Option<String>,
}

/// How a background sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackgroundSyncOutcome {
    /// Pushed and pulled until caught up.
    Synced,
    /// Another sync of this database was running (the foreground loop, or an earlier
    /// background run): nothing was done, that one carries on.
    Busy,
    /// Not signed in: nothing to do, nothing was sent.
    NotSignedIn,
    /// The time budget ran out first; what was pushed or pulled by then is kept and the next
    /// sync continues from there.
    OutOfTime,
    /// The sync failed (no network, the relay refused); the error is also in the sync status.
    Failed,
}

/// What one background sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackgroundSyncInfo {
    /// How it ended.
    pub outcome: BackgroundSyncOutcome,
    /// The counts, when it synced.
    pub report: Option<SyncReportInfo>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// A change the relay refused as invalid; shown so the person knows what
/// did not sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedOpInfo {
    /// The change's id.
    pub op_id: String,
    /// Which kind of entity (`trip`, `car`, ...).
    pub entity: String,
    /// Which entity.
    pub entity_id: String,
    /// The relay's error code.
    pub code: String,
    /// The relay's message.
    pub message: String,
    /// When it was parked, unix ms.
    pub parked_at_ms: i64,
}

/// A session minted for the watch. `json` is exactly what the watch's
/// `adopt_device_session` reads; send it unchanged over WatchConnectivity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchHandoff {
    /// The handoff as JSON (contains tokens: never log it).
    pub json: String,
    /// The watch's device id it was minted for.
    pub device_id: String,
    /// The relay.
    pub relay_url: String,
    /// When the access token expires, unix ms (the refresh token outlives it).
    pub access_expires_at_ms: i64,
}

/// What changed, so a screen knows whether to reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreEventKind {
    /// A trip started recording.
    TripStarted,
    /// A trip ended.
    TripEnded,
    /// New points for the open trip (`distance_m` is set).
    TripProgress,
    /// A trip's details changed.
    TripChanged,
    /// The timer started, stopped or switched.
    TimerChanged,
    /// Cars, places, projects, entries or locks changed.
    DataChanged,
    /// This listener fell behind and missed events: reload everything.
    Missed,
}

/// One change notification from the core.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreEventInfo {
    /// What changed.
    pub kind: CoreEventKind,
    /// The trip concerned, for trip events.
    pub trip_id: Option<String>,
    /// Live distance in metres, for `trip_progress`.
    pub distance_m: Option<f64>,
}

// ---- edits -------------------------------------------------------------------
// A `None` field stays as it is; a `clear_*` flag removes an optional value
// (setting and clearing the same field at once is refused as bad input).

/// A change to a time entry from the edit form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryEditInput {
    /// New project (id or name).
    pub project: Option<String>,
    /// Book it on no project.
    pub clear_project: bool,
    /// New description.
    pub description: Option<String>,
    /// New start, unix ms.
    pub start_ms: Option<i64>,
    /// New stop, unix ms (on the running timer: stops it).
    pub stop_ms: Option<i64>,
    /// The whole new set of tags.
    pub tags: Option<Vec<String>>,
    /// New billable flag.
    pub billable: Option<bool>,
    /// Link to this trip (id or prefix).
    pub trip: Option<String>,
    /// Remove the trip link.
    pub clear_trip: bool,
}

/// One change in a time entry's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeEntryEditInfo {
    /// Which field.
    pub field: EntryField,
    /// Value before, as shown to people.
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
    /// When, unix ms.
    pub at_ms: i64,
    /// The device that made it.
    pub device_id: String,
}

/// A time entry with its project and whole history, for the edit screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDetailInfo {
    /// The entry.
    pub entry: TimeEntryInfo,
    /// Deleted (a restore brings it back).
    pub deleted: bool,
    /// Its project, if any (also an archived one).
    pub project: Option<ProjectInfo>,
    /// Every edit, delete and restore, oldest first.
    pub history: Vec<TimeEntryEditInfo>,
}

/// A change to a project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectChangeInput {
    /// New name.
    pub name: Option<String>,
    /// New client.
    pub client: Option<String>,
    /// Remove the client.
    pub clear_client: bool,
    /// New default billable flag.
    pub billable: Option<bool>,
    /// New rounding.
    pub rounding: Option<RoundingRule>,
}

/// A change to a car; dates are `YYYY-MM-DD`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CarChangeInput {
    /// New short name.
    pub name: Option<String>,
    /// New licence plate.
    pub plate: Option<String>,
    /// New make.
    pub make: Option<String>,
    /// Remove the make.
    pub clear_make: bool,
    /// New model.
    pub model: Option<String>,
    /// Remove the model.
    pub clear_model: bool,
    /// New first day available.
    pub available_from: Option<String>,
    /// Remove the first day available.
    pub clear_available_from: bool,
    /// New last day available.
    pub available_to: Option<String>,
    /// Remove the last day available.
    pub clear_available_to: bool,
    /// New Bluetooth / CarPlay name.
    pub connect_hint: Option<String>,
    /// Remove the Bluetooth / CarPlay name.
    pub clear_connect_hint: bool,
}

/// A change to a place; `lat` and `lon` go together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlaceChangeInput {
    /// New name.
    pub name: Option<String>,
    /// New role.
    pub kind: Option<PlaceKind>,
    /// New centre latitude.
    pub lat: Option<f64>,
    /// New centre longitude.
    pub lon: Option<f64>,
    /// New radius in metres.
    pub radius_m: Option<f64>,
    /// New address.
    pub address: Option<String>,
    /// Remove the address.
    pub clear_address: bool,
}

/// Where a timesheet connection stands on the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// A state this build does not know (a newer relay); `state_name` has its name.
    Unknown,
}

/// Where one time entry stands on one connection (a badge on the timesheet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting to be pushed (paused connection, quota, retry after a failure).
    Pending,
    /// The service holds what Tacho holds.
    Synced,
    /// A conflict is open for it: see `conflicts`.
    Conflict,
    /// Pushing failed for good; the link's `message` says why.
    Error,
}

/// Open or settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictState {
    /// Waiting for the person.
    Open,
    /// Resolved (see `resolution`).
    Resolved,
}

/// How a person settles a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Tacho's values win: they are pushed over the service's.
    KeepLocal,
    /// The service's values win: they are written into the Tacho entry.
    KeepRemote,
    /// Close it and change nothing on either side.
    Dismiss,
}

/// A timesheet connection (Toggl, Tempo, Kimai, Zammad) as the relay lists it. Adding one
/// takes a service token, so it stays a CLI or dashboard task; the app lists and steers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionView {
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
    pub pending: i64,
    /// Open conflicts.
    pub conflicts: i64,
    /// Entries whose push failed for good.
    pub errors: i64,
    /// Last successful push (RFC 3339).
    pub last_push_at: Option<String>,
    /// Last successful pull (RFC 3339).
    pub last_pull_at: Option<String>,
}

/// A connection's queue right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorStatusInfo {
    /// Where it stands.
    pub state: ConnectorState,
    /// The state's wire name.
    pub state_name: String,
    /// Entries waiting to be pushed.
    pub pending: i64,
    /// Work being done right now.
    pub running: i64,
    /// Open conflicts.
    pub conflicts: i64,
    /// Entries whose push failed for good.
    pub errors: i64,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Last successful push (RFC 3339).
    pub last_push_at: Option<String>,
    /// Last successful pull (RFC 3339).
    pub last_pull_at: Option<String>,
}

/// What "run now" saw when the connection's work was drained (or given up on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorRunInfo {
    /// The connection's status at the end.
    pub status: ConnectorStatusInfo,
    /// Whether everything queued was pushed (nothing pending or running, no error, active).
    pub drained: bool,
}

/// A time entry as one side of a conflict holds it. Every field is optional: services keep
/// different subsets (Zammad has no description or start time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySnapshotInfo {
    /// Description.
    pub description: Option<String>,
    /// Start, unix ms.
    pub start_ms: Option<i64>,
    /// Stop, unix ms.
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

/// A disagreement between Tacho and a service, for the conflict inbox: both sides to show
/// side by side and the person's choice (`resolveConflict`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictInfo {
    /// The conflict's id (for `resolveConflict`).
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
    pub local: Option<EntrySnapshotInfo>,
    /// The service's values (none: deleted there, or never written).
    pub remote: Option<EntrySnapshotInfo>,
    /// When the relay raised it, unix ms.
    pub raised_at_ms: i64,
    /// Open or resolved.
    pub state: ConflictState,
    /// How it was resolved.
    pub resolution: Option<Resolution>,
    /// When it was resolved, unix ms.
    pub resolved_at_ms: Option<i64>,
}

/// One time entry on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorLinkInfo {
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
    /// When it was last in step, unix ms.
    pub synced_at_ms: Option<i64>,
    /// The service's or the relay's explanation, for `error` and `conflict`.
    pub message: Option<String>,
}

/// One entry's sync badge: the most urgent state of its links (conflict, then error, then
/// pending; synced only when every link is), with the links behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySyncInfo {
    /// The Tacho time entry.
    pub entry_id: String,
    /// The badge.
    pub state: LinkState,
    /// The entry's links, one per connection.
    pub links: Vec<ConnectorLinkInfo>,
}
