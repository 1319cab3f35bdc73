//! The async facade over Tacho's local store: what the CLI, the phone app
//! (flutter_rust_bridge) and the watch app (uniffi) call.
//!
//! [`Core`] owns one database. Every method is a complete unit of work: it
//! validates, writes the domain rows and their outbox ops in one transaction,
//! and then announces the change on the [`CoreEvent`] stream.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tacho_model::car::{Car, OdometerReading, TripEnd};
use tacho_model::clock::{Clock, SystemClock};
use tacho_model::detector::{DetectorConfig, DetectorInput};
use tacho_model::gps::Ping;
use tacho_model::id::{CarId, TripId};
use tacho_model::place::Place;
use tacho_model::trip::{Purpose, Trip, TripEdit, TripField, TripSource};
use tacho_model::work::{Project, TimeEntry};
use tacho_store::Store;
use tokio::sync::broadcast;

mod account;
pub mod connectors;
mod db;
mod edit;
mod entry_import;
mod error;
mod hooks;
pub mod import;
pub mod oidc;
mod recording;
pub mod report;
mod reports;
mod secrets;
mod sync;
mod trip_changes;
mod work;

pub use account::LogoutReport;
pub use connectors::RunReport;
pub use edit::{EntryDetail, EntryEdit};
pub use entry_import::{EntryImportOptions, EntryImportSummary};
pub use error::{CoreError, Result};
pub use hooks::{HookToken, HookTokenInfo};
pub use import::{ImportOptions, ImportProgress, ImportSummary};
pub use oidc::{LoopbackLogin, OidcCallback, OidcPending};
pub use recording::FeedOutcome;
pub use secrets::{SecretStore, SecretStoreError};
pub use sync::{DeviceHandoff, SyncReport, SyncStatus};
pub use tacho_model::api::DeviceInfo;
// The store's types this API takes and hands out, re-exported so the CLI and
// the bindings depend on tacho-core alone and never reach into the store.
pub use tacho_store::{
    CarChange, EntryFilter, ParkedOp, PlaceChange, ProjectChange, SplitAt, TripFilter, TripPoint,
};
pub use work::{NewEntry, TimerStatus};

/// How a [`Core`] is set up.
#[derive(Clone)]
pub struct CoreConfig {
    /// The SQLite file (created if missing).
    pub db_path: PathBuf,
    /// Trip detector tunables (grace period, recovery time, filters).
    pub detector: DetectorConfig,
    /// IANA time zone new trips and entries are recorded in.
    pub time_zone: String,
    /// The name the relay lists this device under when it signs in. Each
    /// front end passes its own (the CLI `--device-name`, the apps the
    /// device's name); the shared core reads no environment for it.
    pub device_name: String,
    /// Where the relay tokens are kept: the platform's secret storage when the app gives one
    /// (then the SQLite file never holds a token), else the SQLite file.
    pub secret_store: Option<Arc<dyn SecretStore>>,
}

impl std::fmt::Debug for CoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreConfig")
            .field("db_path", &self.db_path)
            .field("detector", &self.detector)
            .field("time_zone", &self.time_zone)
            .field("device_name", &self.device_name)
            .field(
                "secret_store",
                &self.secret_store.as_ref().map(|_| "platform"),
            )
            .finish()
    }
}

impl CoreConfig {
    /// Defaults for a database at `db_path`, in UTC.
    pub fn new(db_path: impl Into<PathBuf>) -> Self {
        Self {
            db_path: db_path.into(),
            detector: DetectorConfig::default(),
            time_zone: "UTC".into(),
            device_name: default_device_name(),
            secret_store: None,
        }
    }
}

/// The device name sent when the front end sets none: what every client sent
/// before the name became configurable, so devices keep their names.
pub fn default_device_name() -> String {
    format!("tacho-cli on {}", std::env::consts::OS)
}

/// A change a UI may want to refresh for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CoreEvent {
    /// A trip started recording.
    TripStarted {
        /// The trip.
        trip: TripId,
    },
    /// A trip ended.
    TripEnded {
        /// The trip.
        trip: TripId,
    },
    /// New points were stored for the open trip.
    TripProgress {
        /// The trip.
        trip: TripId,
        /// Live distance in metres.
        distance_m: f64,
    },
    /// A trip's details changed (classification, edits, odometer).
    TripChanged {
        /// The trip.
        trip: TripId,
    },
    /// The running timer started, stopped or switched.
    TimerChanged,
    /// Reference data (cars, places, projects, entries, locks) changed.
    DataChanged,
}

/// Everything about one trip, for a detail view.
#[derive(Debug, Clone, Serialize)]
pub struct TripDetail {
    /// The header.
    pub trip: Trip,
    /// Points stored.
    pub point_count: u32,
    /// Odometer reading at the start, if any.
    pub odometer_start: Option<OdometerReading>,
    /// Odometer reading at the end, if any.
    pub odometer_end: Option<OdometerReading>,
    /// Every change made after the trip ended.
    pub history: Vec<TripEdit>,
    /// Whether it counts in totals, and if not why (discarded, merged or split into
    /// others, or a merge or split that lost to a concurrent one).
    pub status: tacho_model::lineage::TripStatus,
    /// What it was merged or split from, and what replaced it.
    pub lineage: tacho_model::lineage::TripLineage,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) recorder: recording::Recorder,
    pub(crate) cars: Vec<Car>,
    pub(crate) places: Vec<Place>,
    pub(crate) config: CoreConfig,
}

impl Inner {
    fn refresh_reference(&mut self) -> Result<()> {
        // A retired car records no new trips: the recorder never picks it.
        self.cars = self.store.cars_with(false, false)?;
        self.places = self.store.places()?;
        Ok(())
    }

    /// Feeds the recorder in one transaction. When the transaction fails the
    /// recorder is reloaded from the store, which still holds the state from
    /// before the failed events, so memory and disk never disagree.
    fn feed(
        &mut self,
        inputs: Vec<DetectorInput>,
        force_end: Option<DateTime<Utc>>,
    ) -> Result<FeedOutcome> {
        let Self {
            store,
            recorder,
            cars,
            places,
            config,
        } = self;
        let now = store.clock().now();
        let ctx = recording::Context {
            cars,
            places,
            time_zone: &config.time_zone,
        };
        let outcome = store.write(|w| {
            let mut outcome = recorder.feed_many(w, &ctx, inputs, now)?;
            if let Some(at) = force_end {
                outcome.merge(recorder.force_end(w, &ctx, at)?);
            }
            Ok::<_, CoreError>(outcome)
        });
        if outcome.is_err() {
            *recorder = recording::Recorder::load(store, config.detector)?;
        }
        outcome
    }
}

/// Tacho's core: one local database and the live trip recorder.
#[derive(Clone)]
pub struct Core {
    /// The store and the recorder; reached only through [`Core::with_store`].
    db: Arc<db::Db<Inner>>,
    /// This database's device id, fixed at open (read without the lock).
    device: tacho_model::id::DeviceId,
    events: broadcast::Sender<CoreEvent>,
    clock: Arc<dyn Clock>,
    /// One HTTP client for every relay call of this core, so connections
    /// (and TLS sessions) are pooled instead of rebuilt per call.
    http: reqwest::Client,
    /// [`CoreConfig::device_name`], read without taking the lock.
    device_name: Arc<str>,
    /// The tokens' keys in [`CoreConfig::secret_store`], when the app gave one.
    tokens: Option<secrets::TokenKeys>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").finish_non_exhaustive()
    }
}

/// A new car, as people enter it.
#[derive(Debug, Clone, Default)]
pub struct NewCar {
    /// Short name.
    pub name: String,
    /// Licence plate.
    pub plate: String,
    /// Manufacturer.
    pub make: Option<String>,
    /// Model / type.
    pub model: Option<String>,
    /// First day available.
    pub available_from: Option<chrono::NaiveDate>,
    /// Last day available.
    pub available_to: Option<chrono::NaiveDate>,
    /// Bluetooth / CarPlay name of the car.
    pub connect_hint: Option<String>,
}

impl Core {
    /// Opens (or creates) the database and resumes the recorder, closing a
    /// trip whose grace period or recovery time ran out while the app was
    /// not running.
    pub async fn open(config: CoreConfig) -> Result<Self> {
        Self::open_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Core::open`] with an injected clock (tests, replays).
    pub async fn open_with_clock(config: CoreConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        if !tacho_model::report::tz::is_known(&config.time_zone) {
            return Err(CoreError::bad_input(format!(
                "unknown time zone `{}`; use an IANA name such as Europe/Amsterdam",
                config.time_zone
            )));
        }
        let http = sync::http_client()?;
        // A blank name falls back to the default, as an empty
        // TACHO_DEVICE_NAME did when the core read it.
        let device_name: Arc<str> = if config.device_name.trim().is_empty() {
            default_device_name().into()
        } else {
            config.device_name.as_str().into()
        };
        // Opening runs inline: nothing else of this core runs yet (a binding's
        // runtime is the core's own), and callers open once, off their UI thread.
        let mut store = Store::open(&config.db_path, clock.clone())?;
        store.set_time_zone(&config.time_zone);
        let recorder = recording::Recorder::load(&store, config.detector)?;
        let mut inner = Inner {
            store,
            recorder,
            cars: Vec::new(),
            places: Vec::new(),
            config,
        };
        inner.refresh_reference()?;
        let device = inner.store.device();
        let tokens = inner
            .config
            .secret_store
            .clone()
            .map(|store| secrets::TokenKeys::new(store, device));
        let (events, _) = broadcast::channel(256);
        let core = Self {
            db: Arc::new(db::Db::new(inner)),
            device,
            events,
            clock,
            http,
            device_name,
            tokens,
        };
        core.move_tokens_to_secret_store()?;
        core.tick().await?;
        Ok(core)
    }

    /// A stream of change notifications; slow listeners miss old events
    /// (they should then reload), they never block writers.
    pub fn subscribe(&self) -> broadcast::Receiver<CoreEvent> {
        self.events.subscribe()
    }

    /// Runs short store work `f` (one bounded transaction or a few indexed
    /// reads); it never waits for the lock on an executor thread (`db.rs`).
    pub(crate) fn with_store<T>(&self, f: impl FnOnce(&mut Inner) -> Result<T>) -> Result<T> {
        self.db.with(f)
    }

    /// Runs long store work `f` (imports, reports, full scans, pulled pages)
    /// off the async executor where the runtime allows it (`db.rs`).
    pub(crate) fn with_store_long<T>(&self, f: impl FnOnce(&mut Inner) -> Result<T>) -> Result<T> {
        self.db.with_long(f)
    }

    pub(crate) fn emit(&self, event: CoreEvent) {
        // No listeners is fine.
        let _ = self.events.send(event);
    }

    fn announce(&self, outcome: &FeedOutcome, open: Option<(TripId, f64)>) {
        for trip in &outcome.started {
            self.emit(CoreEvent::TripStarted { trip: *trip });
        }
        if outcome.points > 0
            && let Some((trip, distance_m)) = open
        {
            self.emit(CoreEvent::TripProgress { trip, distance_m });
        }
        for trip in &outcome.ended {
            self.emit(CoreEvent::TripEnded { trip: *trip });
        }
    }

    fn feed(
        &self,
        inputs: Vec<DetectorInput>,
        force_end: Option<DateTime<Utc>>,
    ) -> Result<FeedOutcome> {
        let (outcome, open) = self.with_store(|inner| {
            let outcome = inner.feed(inputs, force_end)?;
            let open = inner
                .recorder
                .open_trip()
                .map(|t| (t, inner.recorder.open_distance_m().unwrap_or(0.0)));
            Ok((outcome, open))
        })?;
        self.announce(&outcome, open);
        Ok(outcome)
    }

    /// The current instant from the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The HTTP client of this core's relay calls.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The name this device signs in to the relay under ([`CoreConfig::device_name`]).
    pub fn device_name(&self) -> &str {
        &self.device_name
    }

    // ---- trips -------------------------------------------------------------

    /// A connect event (CarPlay, Bluetooth, a hook, or a person pressing
    /// start). Within the grace period after a disconnect it continues the
    /// same trip.
    pub async fn connect(
        &self,
        source: TripSource,
        car_hint: Option<String>,
    ) -> Result<FeedOutcome> {
        let at = self.now();
        self.feed(
            vec![DetectorInput::Connect {
                at,
                source,
                car_hint,
            }],
            None,
        )
    }

    /// A disconnect event: the trip ends once the grace period passes without
    /// a reconnect.
    pub async fn disconnect(&self) -> Result<FeedOutcome> {
        let at = self.now();
        self.feed(vec![DetectorInput::Disconnect { at }], None)
    }

    /// Ends the open trip now, without a grace period.
    pub async fn end_trip(&self) -> Result<FeedOutcome> {
        let at = self.now();
        let open = self.with_store(|inner| Ok(inner.recorder.open_trip()))?;
        if open.is_none() {
            return Err(CoreError::Conflict {
                reason: "no trip is being recorded".into(),
            });
        }
        self.feed(Vec::new(), Some(at))
    }

    /// One GPS fix. A refused fix is a [`CoreError::BadInput`] naming why;
    /// duplicates and out-of-order fixes are ignored and reported in the outcome.
    pub async fn ping(&self, ping: Ping) -> Result<FeedOutcome> {
        let outcome = self.feed(vec![DetectorInput::Ping(ping)], None)?;
        match outcome.rejected {
            Some(reason) => Err(CoreError::bad_input(format!("GPS fix refused: {reason}"))),
            None => Ok(outcome),
        }
    }

    /// Several fixes in one transaction (a phone's background location
    /// delivery). Refused fixes are counted in the outcome, not fatal: one bad
    /// fix must not lose the rest of the batch.
    pub async fn ping_batch(&self, pings: Vec<Ping>) -> Result<FeedOutcome> {
        self.feed(pings.into_iter().map(DetectorInput::Ping).collect(), None)
    }

    /// Lets time pass: ends trips whose grace period or recovery time ran out.
    pub async fn tick(&self) -> Result<FeedOutcome> {
        let now = self.now();
        self.feed(vec![DetectorInput::Tick { now }], None)
    }

    /// The trip being recorded and its live distance.
    pub async fn active_trip(&self) -> Result<Option<(Trip, f64)>> {
        self.with_store(|inner| {
            let Some(id) = inner.recorder.open_trip() else {
                return Ok(None);
            };
            let trip = inner.store.trip(id)?;
            Ok(Some((
                trip,
                inner.recorder.open_distance_m().unwrap_or(0.0),
            )))
        })
    }

    /// Trips matching `filter`.
    pub async fn trips(&self, filter: TripFilter) -> Result<Vec<Trip>> {
        self.with_store(|inner| Ok(inner.store.trips(&filter)?))
    }

    /// A trip by id or unique id prefix.
    pub async fn trip(&self, key: &str) -> Result<TripDetail> {
        self.with_store(|inner| {
            let trip = inner.store.find_trip(key)?;
            Ok(TripDetail {
                point_count: inner.store.point_count(trip.id)?,
                odometer_start: inner.store.trip_reading(trip.id, TripEnd::Start)?,
                odometer_end: inner.store.trip_reading(trip.id, TripEnd::End)?,
                history: inner.store.trip_edits(trip.id)?,
                status: inner
                    .store
                    .trip_statuses()?
                    .get(&trip.id)
                    .copied()
                    .unwrap_or(tacho_model::lineage::TripStatus::Current),
                lineage: inner.store.trip_lineage(trip.id)?,
                trip,
            })
        })
    }

    /// A trip's stored GPS points.
    pub async fn trip_points(&self, key: &str) -> Result<Vec<TripPoint>> {
        self.with_store(|inner| {
            let trip = inner.store.find_trip(key)?;
            Ok(inner.store.trip_points(trip.id)?)
        })
    }

    /// Sets a trip's purpose (and partner); the person's choice always wins
    /// over the place rules.
    pub async fn classify_trip(
        &self,
        key: &str,
        purpose: Purpose,
        business_partner: Option<String>,
    ) -> Result<Trip> {
        let (id, trip) = self.with_store(|inner| {
            let id = inner.store.find_trip(key)?.id;
            inner.store.write(|w| {
                w.edit_trip(id, TripField::Purpose, Some(purpose.as_str().to_owned()))?;
                if let Some(partner) = business_partner {
                    w.edit_trip(id, TripField::BusinessPartner, Some(partner))?;
                }
                Ok::<_, CoreError>(())
            })?;
            Ok((id, inner.store.trip(id)?))
        })?;
        self.emit(CoreEvent::TripChanged { trip: id });
        Ok(trip)
    }

    /// Changes one field of a trip; on an ended trip the change is kept in
    /// its history. `None` clears the field.
    pub async fn edit_trip(
        &self,
        key: &str,
        field: TripField,
        value: Option<String>,
    ) -> Result<Trip> {
        let (id, trip) = self.with_store(|inner| {
            let id = inner.store.find_trip(key)?.id;
            let value = match (field, value) {
                (TripField::Car, Some(car)) => Some(inner.store.find_car(&car)?.id.to_string()),
                (_, v) => v,
            };
            inner.store.write(|w| w.edit_trip(id, field, value))?;
            Ok((id, inner.store.trip(id)?))
        })?;
        self.emit(CoreEvent::TripChanged { trip: id });
        Ok(trip)
    }

    /// Records the odometer (in km, as read off the dashboard) at one end of a trip.
    pub async fn set_trip_odometer(&self, key: &str, end: TripEnd, km: f64) -> Result<TripDetail> {
        if !(km.is_finite() && (0.0..10_000_000.0).contains(&km)) {
            return Err(CoreError::bad_input(format!(
                "odometer {km} km is not a plausible reading (0 to 10 million km)"
            )));
        }
        let metres = (km * 1000.0).round() as i64;
        self.with_store(|inner| {
            let id = inner.store.find_trip(key)?.id;
            Ok(inner
                .store
                .write(|w| w.set_trip_odometer(id, end, metres))?)
        })?;
        let detail = self.trip(key).await?;
        self.emit(CoreEvent::TripChanged {
            trip: detail.trip.id,
        });
        Ok(detail)
    }

    /// Throws a trip away: it stays in its history and in `trip list --all`, out of
    /// totals and reports, until [`Core::restore_trip`] (see `trip_changes.rs`).
    pub async fn discard_trip(&self, key: &str) -> Result<()> {
        let id = self.with_store(|inner| {
            let id = inner.store.find_trip(key)?.id;
            if inner.recorder.open_trip() == Some(id) {
                return Err(CoreError::Conflict {
                    reason: "the trip is still being recorded; end it first".into(),
                });
            }
            inner.store.write(|w| w.discard_trip(id))?;
            Ok(id)
        })?;
        self.emit(CoreEvent::TripChanged { trip: id });
        Ok(())
    }

    // ---- cars and places ---------------------------------------------------

    /// Adds a car.
    pub async fn add_car(&self, new: NewCar) -> Result<Car> {
        let car = Car {
            id: CarId::new(),
            name: new.name.trim().to_owned(),
            make: new.make,
            model: new.model,
            plate: new.plate.trim().to_owned(),
            available_from: new.available_from,
            available_to: new.available_to,
            connect_hint: new.connect_hint,
            retired: false,
        };
        self.with_store(|inner| {
            inner.store.write(|w| w.add_car(&car))?;
            inner.refresh_reference()
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(car)
    }

    /// All cars.
    pub async fn cars(&self) -> Result<Vec<Car>> {
        self.with_store(|inner| Ok(inner.store.cars()?))
    }

    /// A car by id, name or plate.
    pub async fn find_car(&self, key: &str) -> Result<Car> {
        self.with_store(|inner| Ok(inner.store.find_car(key)?))
    }

    /// Adds a place.
    pub async fn add_place(&self, place: Place) -> Result<Place> {
        self.with_store(|inner| {
            inner.store.write(|w| w.add_place(&place))?;
            inner.refresh_reference()
        })?;
        self.emit(CoreEvent::DataChanged);
        Ok(place)
    }

    /// All places.
    pub async fn places(&self) -> Result<Vec<Place>> {
        self.with_store(|inner| Ok(inner.store.places()?))
    }

    /// Locks a month (`YYYY-MM`) against edits; returns false if it already was.
    pub async fn lock_period(&self, month: &str) -> Result<bool> {
        let locked =
            self.with_store(|inner| Ok(inner.store.write(|w| w.lock_period(month.trim()))?))?;
        self.emit(CoreEvent::DataChanged);
        Ok(locked)
    }

    /// Locked months.
    pub async fn locked_periods(&self) -> Result<Vec<String>> {
        self.with_store(|inner| Ok(inner.store.locked_periods()?))
    }

    /// Full integrity check of the database file.
    pub async fn integrity_check(&self) -> Result<Vec<String>> {
        self.with_store_long(|inner| Ok(inner.store.integrity_check()?))
    }

    /// Projects.
    pub async fn projects(&self) -> Result<Vec<Project>> {
        self.with_store(|inner| Ok(inner.store.projects()?))
    }

    /// A project by id or name.
    pub async fn find_project(&self, key: &str) -> Result<Project> {
        self.with_store(|inner| Ok(inner.store.find_project(key)?))
    }

    /// Entries matching `filter`.
    pub async fn entries(&self, filter: EntryFilter) -> Result<Vec<TimeEntry>> {
        self.with_store(|inner| Ok(inner.store.entries(&filter)?))
    }

    /// The device id of this database.
    pub fn device(&self) -> Result<tacho_model::id::DeviceId> {
        Ok(self.device)
    }

    /// Ops in the outbox after `after_seq`, oldest first (what sync will push).
    pub async fn outbox(&self, after_seq: u64, limit: usize) -> Result<Vec<tacho_model::op::Op>> {
        self.with_store(|inner| {
            Ok(inner
                .store
                .outbox(after_seq, limit)?
                .into_iter()
                .map(|e| e.op)
                .collect())
        })
    }

    /// Every op this database wrote, pushed or not (diagnostics: `tacho db
    /// info`); a full count of the outbox.
    pub async fn outbox_total(&self) -> Result<u64> {
        self.with_store(|inner| Ok(inner.store.outbox_total()?))
    }

    /// Own ops waiting to be pushed to the relay (all of them before the
    /// first sign-in); 0 right after a full push. Parked ops don't count.
    pub async fn outbox_len(&self) -> Result<u64> {
        self.with_store(|inner| Ok(inner.store.outbox_len()?))
    }
}
