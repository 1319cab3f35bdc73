//! The exported `Core` object: one database, one runtime, every call the
//! watch and the iOS extensions make. Each method converts its arguments
//! with checks, runs the core call on the `Core`'s runtime, and converts the
//! result; nothing else lives here, so the behaviour is the core's.

use std::sync::Arc;

use tacho_model::clock::{Clock, SystemClock};

use crate::clock::{ClockSource, ForeignClock};
use crate::error::TachoError;
use crate::events::{CoreListener, TaskHandle, spawn_listener};
use crate::runtime::{Runtime, RuntimeKind};
use crate::secrets::{ForeignSecrets, SecretStore};
use crate::types::{
    ActiveTrip, Car, CarChange, ConnectionInfo, ConnectorConflict, ConnectorLink,
    ConnectorRunReport, ConnectorStatus, DeviceHandoff, DeviceInfo, EntryDetail, EntryEdit,
    EntryFilter, EntrySyncState, FeedOutcome, LogoutReport, NewCar, NewEntry, NewPlace, OidcNonce,
    OidcPending, ParkedOp, Ping, Place, PlaceChange, Project, ProjectChange, Purpose, ReportFormat,
    Resolution, RestoredTrip, Rounding, SplitAt, SplitTrip, SyncReport, SyncStatus, TimeEntry,
    TimerStatus, Trip, TripDetail, TripEnd, TripField, TripFilter, TripPoint, TripStatusOf,
    entry_sync_states, instant_opt, millis,
};

/// Result of every exported call.
type Result<T, E = TachoError> = std::result::Result<T, E>;

/// Tacho's core for foreign code: a local SQLite database with the live trip
/// recorder, timers, reports and the sync client. Thread-safe; share one per
/// database. Async methods run on the `Core`'s own runtime (see
/// [`RuntimeKind`]), so they can be awaited from any executor.
#[derive(uniffi::Object)]
pub struct Core {
    inner: tacho_core::Core,
    // Declared last so it is dropped last: in-flight work holds clones of
    // `inner`, never the runtime.
    runtime: Runtime,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("runtime", &self.runtime)
            .finish_non_exhaustive()
    }
}

impl Core {
    fn open_with(
        db_path: String,
        time_zone: String,
        runtime: RuntimeKind,
        clock: Arc<dyn Clock>,
        device_name: Option<String>,
        secret_store: Option<Arc<dyn SecretStore>>,
    ) -> Result<Arc<Self>> {
        if db_path.trim().is_empty() {
            return Err(TachoError::bad_input("the database path is empty"));
        }
        let runtime = Runtime::new(runtime)?;
        let mut config = tacho_core::CoreConfig::new(db_path.clone());
        config.time_zone = time_zone.trim().to_owned();
        if let Some(name) = device_name {
            config.device_name = name;
        }
        config.secret_store =
            secret_store.map(|s| Arc::new(ForeignSecrets(s)) as Arc<dyn tacho_core::SecretStore>);
        let inner = runtime
            .block_on(async move { Ok(tacho_core::Core::open_with_clock(config, clock).await?) })?;
        tracing::info!(db = %db_path, runtime = ?runtime.kind(), "opened the tacho database");
        Ok(Arc::new(Self { inner, runtime }))
    }

    /// Runs `work` with a clone of the core on the runtime.
    async fn run<T, F, Fut>(&self, work: F) -> Result<T>
    where
        F: FnOnce(tacho_core::Core) -> Fut,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.runtime.run(work(self.inner.clone())).await
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Core {
    /// Opens (or creates) the database at `db_path`, recording new trips and
    /// entries in the IANA `time_zone` (e.g. `Europe/Amsterdam`), on a
    /// runtime of kind `runtime` (the watch passes `CurrentThread`). Blocks
    /// while SQLite opens and migrates the file: call it off the main thread.
    /// A trip whose grace period ran out while the app was not running is
    /// closed here. `device_name` is what the relay lists this device as
    /// (e.g. the watch's name); without one the core's default is used.
    /// `secret_store` keeps the relay tokens (the Keychain, the Android
    /// Keystore); without one they are kept in the database file.
    #[uniffi::constructor(default(device_name = None, secret_store = None))]
    pub fn new(
        db_path: String,
        time_zone: String,
        runtime: RuntimeKind,
        device_name: Option<String>,
        secret_store: Option<Arc<dyn SecretStore>>,
    ) -> Result<Arc<Self>> {
        Self::open_with(
            db_path,
            time_zone,
            runtime,
            Arc::new(SystemClock),
            device_name,
            secret_store,
        )
    }

    /// [`Core::new`] with time from `clock` instead of the system clock:
    /// for replaying a recorded drive and for tests.
    #[uniffi::constructor(default(device_name = None, secret_store = None))]
    pub fn with_clock(
        db_path: String,
        time_zone: String,
        runtime: RuntimeKind,
        clock: Arc<dyn ClockSource>,
        device_name: Option<String>,
        secret_store: Option<Arc<dyn SecretStore>>,
    ) -> Result<Arc<Self>> {
        Self::open_with(
            db_path,
            time_zone,
            runtime,
            Arc::new(ForeignClock(clock)),
            device_name,
            secret_store,
        )
    }

    /// The runtime kind this core was opened with.
    pub fn runtime_kind(&self) -> RuntimeKind {
        self.runtime.kind()
    }

    /// The core's "now" in Unix ms (the injected clock, if any).
    pub fn now_ms(&self) -> i64 {
        millis(self.inner.now())
    }

    /// This database's device id: what the phone needs to mint a session for it.
    pub fn device_id(&self) -> Result<String> {
        Ok(self.inner.device()?.to_string())
    }

    // ---- events ----------------------------------------------------------

    /// Calls `listener` for every change from now on, on a core thread, until
    /// the returned handle is cancelled or dropped. Subscribing is
    /// synchronous, so a change made right after this call is never missed.
    pub fn subscribe(&self, listener: Arc<dyn CoreListener>) -> Arc<TaskHandle> {
        Arc::new(spawn_listener(
            self.runtime.handle(),
            self.inner.subscribe(),
            listener,
        ))
    }

    // ---- trips -----------------------------------------------------------

    /// A connect event (CarPlay, Bluetooth, a Shortcut): starts a trip, or
    /// continues the last one within its grace period (a fuel stop).
    pub async fn connect(
        &self,
        source: crate::types::TripSource,
        car_hint: Option<String>,
    ) -> Result<FeedOutcome> {
        self.run(|core| async move { Ok(core.connect(source.into(), car_hint).await?.into()) })
            .await
    }

    /// A disconnect event: the trip ends once the grace period passes
    /// without a reconnect (see [`Core::tick`]).
    pub async fn disconnect(&self) -> Result<FeedOutcome> {
        self.run(|core| async move { Ok(core.disconnect().await?.into()) })
            .await
    }

    /// Ends the open trip now, without a grace period (a "stop" button).
    /// `Conflict` if no trip is recording.
    pub async fn end_trip(&self) -> Result<FeedOutcome> {
        self.run(|core| async move { Ok(core.end_trip().await?.into()) })
            .await
    }

    /// Lets time pass: ends trips whose grace period or recovery time ran
    /// out. Call it when the app wakes.
    pub async fn tick(&self) -> Result<FeedOutcome> {
        self.run(|core| async move { Ok(core.tick().await?.into()) })
            .await
    }

    /// One GPS fix. A refused fix (NaN, out of range, from the future) is
    /// `BadInput` naming why; duplicates and late fixes are ignored and
    /// reported in the outcome.
    pub async fn ping(&self, ping: Ping) -> Result<FeedOutcome> {
        let ping = tacho_model::gps::Ping::try_from(ping)?;
        self.run(|core| async move { Ok(core.ping(ping).await?.into()) })
            .await
    }

    /// Several fixes in one transaction (Core Location's batched delivery).
    /// Refused fixes are counted in the outcome, not fatal; a fix with an
    /// impossible timestamp fails the whole batch as `BadInput` before
    /// anything is stored.
    pub async fn ping_batch(&self, pings: Vec<Ping>) -> Result<FeedOutcome> {
        let pings = pings
            .into_iter()
            .map(tacho_model::gps::Ping::try_from)
            .collect::<Result<Vec<_>>>()?;
        self.run(|core| async move { Ok(core.ping_batch(pings).await?.into()) })
            .await
    }

    /// The trip being recorded with its live distance and duration, if any.
    pub async fn active_trip(&self) -> Result<Option<ActiveTrip>> {
        self.run(|core| async move {
            let now = core.now();
            Ok(core
                .active_trip()
                .await?
                .map(|(trip, distance_m)| ActiveTrip {
                    duration_s: (now - trip.started_at).num_seconds().max(0),
                    trip: trip.into(),
                    distance_m,
                }))
        })
        .await
    }

    /// The most recent ended trip, for the watch's one-tap classification.
    pub async fn last_ended_trip(&self) -> Result<Option<Trip>> {
        self.run(|core| async move {
            // Newest first, discarded ones excluded. Only active trips can
            // sit above the newest ended one: this device's own and, after a
            // sync, ones another device is recording, so a few suffice. (A
            // state filter in the core's TripFilter would make this exact.)
            let trips = core
                .trips(tacho_core::TripFilter {
                    limit: Some(8),
                    ..Default::default()
                })
                .await?;
            Ok(trips
                .into_iter()
                .find(|t| t.state == tacho_model::trip::TripState::Ended)
                .map(Into::into))
        })
        .await
    }

    /// Trips matching `filter`, newest first when a limit is set.
    pub async fn trips(&self, filter: TripFilter) -> Result<Vec<Trip>> {
        let from = instant_opt(filter.from_ms, "`from` time")?;
        let until = instant_opt(filter.until_ms, "`until` time")?;
        self.run(|core| async move {
            let car = match filter.car {
                Some(key) => Some(core.find_car(&key).await?.id),
                None => None,
            };
            let trips = core
                .trips(tacho_core::TripFilter {
                    from,
                    until,
                    car,
                    include_discarded: filter.include_discarded,
                    limit: filter.limit.map(|l| l as usize),
                })
                .await?;
            Ok(trips.into_iter().map(Into::into).collect())
        })
        .await
    }

    /// One trip by id or unique id prefix, with odometer readings and history.
    pub async fn trip(&self, key: String) -> Result<TripDetail> {
        self.run(|core| async move { Ok(core.trip(&key).await?.into()) })
            .await
    }

    /// A trip's stored GPS points, for drawing its path.
    pub async fn trip_points(&self, key: String) -> Result<Vec<TripPoint>> {
        self.run(|core| async move {
            Ok(core
                .trip_points(&key)
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// Sets a trip's purpose (and business partner); the person's choice
    /// always wins over the place rules. On an ended trip it is kept in the
    /// history.
    pub async fn classify_trip(
        &self,
        key: String,
        purpose: Purpose,
        business_partner: Option<String>,
    ) -> Result<Trip> {
        self.run(|core| async move {
            Ok(core
                .classify_trip(&key, purpose.into(), business_partner)
                .await?
                .into())
        })
        .await
    }

    /// Changes one field of a trip (`None` clears it); kept in the history
    /// of an ended trip.
    pub async fn edit_trip(
        &self,
        key: String,
        field: TripField,
        value: Option<String>,
    ) -> Result<Trip> {
        self.run(|core| async move { Ok(core.edit_trip(&key, field.into(), value).await?.into()) })
            .await
    }

    /// Records the odometer (km, as read off the dashboard) at one end of a trip.
    pub async fn set_trip_odometer(
        &self,
        key: String,
        end: TripEnd,
        km: f64,
    ) -> Result<TripDetail> {
        self.run(
            |core| async move { Ok(core.set_trip_odometer(&key, end.into(), km).await?.into()) },
        )
        .await
    }

    /// Throws a trip away (a tombstone for sync; it stays in the history,
    /// out of totals). `Conflict` while recording, `LockedPeriod` in a
    /// locked month.
    pub async fn discard_trip(&self, key: String) -> Result<()> {
        self.run(|core| async move { Ok(core.discard_trip(&key).await?) })
            .await
    }

    /// Brings a discarded trip back into totals (kept in its history).
    pub async fn restore_trip(&self, key: String) -> Result<RestoredTrip> {
        self.run(|core| async move {
            let (trip, changed) = core.restore_trip(&key).await?;
            Ok(RestoredTrip {
                trip: trip.into(),
                changed,
            })
        })
        .await
    }

    /// Merges two consecutive ended trips of the same car into one (distance
    /// added up, odometer start of the first and end of the second); the
    /// originals stay as `Replaced`, out of totals. Returns the merged trip.
    pub async fn merge_trips(&self, first: String, second: String) -> Result<TripDetail> {
        self.run(|core| async move { Ok(core.merge_trips(&first, &second).await?.into()) })
            .await
    }

    /// Splits an ended trip in two at an instant or at its longest stop; the
    /// trip stays as `Replaced`. Returns the two parts in time order.
    pub async fn split_trip(&self, key: String, at: SplitAt) -> Result<SplitTrip> {
        let at = tacho_core::SplitAt::try_from(at)?;
        self.run(|core| async move {
            let (first, second) = core.split_trip(&key, at).await?;
            Ok(SplitTrip {
                first: first.into(),
                second: second.into(),
            })
        })
        .await
    }

    /// Whether each trip counts in totals (for a list that shows all trips).
    pub async fn trip_statuses(&self) -> Result<Vec<TripStatusOf>> {
        self.run(|core| async move {
            Ok(core
                .trip_statuses()
                .await?
                .into_iter()
                .map(|(id, status)| TripStatusOf {
                    trip_id: id.to_string(),
                    status: status.into(),
                })
                .collect())
        })
        .await
    }

    // ---- cars, places, locks ---------------------------------------------

    /// Adds a car.
    pub async fn add_car(&self, car: NewCar) -> Result<Car> {
        let car = tacho_core::NewCar::try_from(car)?;
        self.run(|core| async move { Ok(core.add_car(car).await?.into()) })
            .await
    }

    /// All cars.
    pub async fn cars(&self) -> Result<Vec<Car>> {
        self.run(|core| async move { Ok(core.cars().await?.into_iter().map(Into::into).collect()) })
            .await
    }

    /// Adds a place (home, office, client) used to classify trips.
    pub async fn add_place(&self, place: NewPlace) -> Result<Place> {
        let place = tacho_model::place::Place::from(place);
        self.run(|core| async move { Ok(core.add_place(place).await?.into()) })
            .await
    }

    /// All places.
    pub async fn places(&self) -> Result<Vec<Place>> {
        self.run(
            |core| async move { Ok(core.places().await?.into_iter().map(Into::into).collect()) },
        )
        .await
    }

    /// Cars by name; retired ones only with `include_retired`.
    pub async fn car_list(&self, include_retired: bool) -> Result<Vec<Car>> {
        self.run(|core| async move {
            Ok(core
                .car_list(include_retired)
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// Changes a car (id, name or plate).
    pub async fn edit_car(&self, key: String, change: CarChange) -> Result<Car> {
        let change = tacho_core::CarChange::try_from(change)?;
        self.run(|core| async move { Ok(core.edit_car(&key, change).await?.into()) })
            .await
    }

    /// Retires a car (`retired = false` takes it back into use): its trips
    /// stay, no new trip is recorded in it.
    pub async fn retire_car(&self, key: String, retired: bool) -> Result<Car> {
        self.run(|core| async move { Ok(core.retire_car(&key, retired).await?.into()) })
            .await
    }

    /// Deletes a car no trip or reading refers to (`InUse` otherwise: retire
    /// it instead); false when it already was.
    pub async fn delete_car(&self, key: String) -> Result<bool> {
        self.run(|core| async move { Ok(core.delete_car(&key).await?) })
            .await
    }

    /// Brings a deleted car back.
    pub async fn restore_car(&self, key: String) -> Result<Car> {
        self.run(|core| async move { Ok(core.restore_car(&key).await?.into()) })
            .await
    }

    /// Places by name; deleted ones only with `include_deleted`.
    pub async fn place_list(&self, include_deleted: bool) -> Result<Vec<Place>> {
        self.run(|core| async move {
            Ok(core
                .place_list(include_deleted)
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// Changes a place (id or name); trips already classified keep their purpose.
    pub async fn edit_place(&self, key: String, change: PlaceChange) -> Result<Place> {
        let change = tacho_core::PlaceChange::try_from(change)?;
        self.run(|core| async move { Ok(core.edit_place(&key, change).await?.into()) })
            .await
    }

    /// Deletes a place (a tombstone); false when it already was.
    pub async fn delete_place(&self, key: String) -> Result<bool> {
        self.run(|core| async move { Ok(core.delete_place(&key).await?) })
            .await
    }

    /// Brings a deleted place back.
    pub async fn restore_place(&self, key: String) -> Result<Place> {
        self.run(|core| async move { Ok(core.restore_place(&key).await?.into()) })
            .await
    }

    /// Locks a month (`YYYY-MM`) against edits; false if it already was.
    pub async fn lock_period(&self, month: String) -> Result<bool> {
        self.run(|core| async move { Ok(core.lock_period(&month).await?) })
            .await
    }

    /// Locked months.
    pub async fn locked_periods(&self) -> Result<Vec<String>> {
        self.run(|core| async move { Ok(core.locked_periods().await?) })
            .await
    }

    // ---- work time -------------------------------------------------------

    /// Adds a project.
    pub async fn add_project(
        &self,
        name: String,
        client: Option<String>,
        billable: bool,
        rounding: Rounding,
    ) -> Result<Project> {
        let rounding = tacho_model::work::Rounding::try_from(rounding)?;
        self.run(|core| async move {
            Ok(core
                .add_project(&name, client, billable, rounding)
                .await?
                .into())
        })
        .await
    }

    /// All projects.
    pub async fn projects(&self) -> Result<Vec<Project>> {
        self.run(
            |core| async move { Ok(core.projects().await?.into_iter().map(Into::into).collect()) },
        )
        .await
    }

    /// Projects by name; archived ones only with `include_archived`.
    pub async fn project_list(&self, include_archived: bool) -> Result<Vec<Project>> {
        self.run(|core| async move {
            Ok(core
                .project_list(include_archived)
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// Changes a project (id or name).
    pub async fn edit_project(&self, key: String, change: ProjectChange) -> Result<Project> {
        let change = tacho_core::ProjectChange::try_from(change)?;
        self.run(|core| async move { Ok(core.edit_project(&key, change).await?.into()) })
            .await
    }

    /// Archives a project (`archived = false` takes it back): its entries
    /// and reports stay, no new time can be booked on it.
    pub async fn archive_project(&self, key: String, archived: bool) -> Result<Project> {
        self.run(|core| async move { Ok(core.archive_project(&key, archived).await?.into()) })
            .await
    }

    /// Deletes a project no live entry uses (`InUse` otherwise: archive it
    /// instead); false when it already was.
    pub async fn delete_project(&self, key: String) -> Result<bool> {
        self.run(|core| async move { Ok(core.delete_project(&key).await?) })
            .await
    }

    /// Brings a deleted project back.
    pub async fn restore_project(&self, key: String) -> Result<Project> {
        self.run(|core| async move { Ok(core.restore_project(&key).await?.into()) })
            .await
    }

    /// One time entry (id, or the 8-character tail lists show), deleted ones
    /// too, with its project and history.
    pub async fn entry(&self, key: String) -> Result<EntryDetail> {
        self.run(|core| async move { Ok(core.entry(&key).await?.into()) })
            .await
    }

    /// Changes a time entry (also the running one: a stop stops it); every
    /// changed field is kept in its history. `LockedPeriod` in a locked
    /// month (nothing written).
    pub async fn edit_entry(&self, key: String, edit: EntryEdit) -> Result<EntryDetail> {
        let edit = tacho_core::EntryEdit::try_from(edit)?;
        self.run(|core| async move { Ok(core.edit_entry(&key, edit).await?.into()) })
            .await
    }

    /// Deletes a time entry (a tombstone, kept in its history); false when
    /// it already was.
    pub async fn delete_entry(&self, key: String) -> Result<bool> {
        self.run(|core| async move { Ok(core.delete_entry(&key).await?) })
            .await
    }

    /// Brings a deleted time entry back.
    pub async fn restore_entry(&self, key: String) -> Result<EntryDetail> {
        self.run(|core| async move { Ok(core.restore_entry(&key).await?.into()) })
            .await
    }

    /// Starts the timer on `project` (name or id, or none); a running timer
    /// is stopped at the same instant first, so at most one ever runs.
    pub async fn start_timer(
        &self,
        project: Option<String>,
        description: String,
        tags: Vec<String>,
    ) -> Result<TimeEntry> {
        self.run(|core| async move {
            Ok(core
                .start_timer(project.as_deref(), &description, tags)
                .await?
                .into())
        })
        .await
    }

    /// Switches the running timer to another project: the watch's one tap.
    /// The same as [`Core::start_timer`], named for what the person does.
    pub async fn switch_project(&self, project: String, description: String) -> Result<TimeEntry> {
        self.start_timer(Some(project), description, Vec::new())
            .await
    }

    /// Stops the running timer. `Conflict` if none runs.
    pub async fn stop_timer(&self) -> Result<TimeEntry> {
        self.run(|core| async move { Ok(core.stop_timer().await?.into()) })
            .await
    }

    /// The running timer and today's totals.
    pub async fn timer_status(&self) -> Result<TimerStatus> {
        self.run(|core| async move { Ok(core.timer_status().await?.into()) })
            .await
    }

    /// Adds a finished entry typed in afterwards, or travel time for a trip.
    pub async fn add_entry(&self, entry: NewEntry) -> Result<TimeEntry> {
        let entry = tacho_core::NewEntry::try_from(entry)?;
        self.run(|core| async move { Ok(core.add_entry(entry).await?.into()) })
            .await
    }

    /// Entries matching `filter`.
    pub async fn entries(&self, filter: EntryFilter) -> Result<Vec<TimeEntry>> {
        let from = instant_opt(filter.from_ms, "`from` time")?;
        let until = instant_opt(filter.until_ms, "`until` time")?;
        self.run(|core| async move {
            let project = match filter.project {
                Some(key) => Some(core.find_project(&key).await?.id),
                None => None,
            };
            let entries = core
                .entries(tacho_core::EntryFilter {
                    from,
                    until,
                    project,
                })
                .await?;
            Ok(entries.into_iter().map(Into::into).collect())
        })
        .await
    }

    // ---- reports ---------------------------------------------------------

    /// The mileage log of one car (id, name or plate) for a period
    /// (`2026-03`, `2026`, `2026-03-01..2026-03-31`) as file bytes.
    pub async fn mileage_report(
        &self,
        car: String,
        period: String,
        format: ReportFormat,
    ) -> Result<Vec<u8>> {
        self.run(|core| async move { Ok(core.mileage_report(&car, &period, format.into()).await?) })
            .await
    }

    /// The timesheet (raw and rounded hours, the year's total) for a period
    /// as file bytes.
    pub async fn hours_report(&self, period: String, format: ReportFormat) -> Result<Vec<u8>> {
        self.run(|core| async move { Ok(core.hours_report(&period, format.into()).await?) })
            .await
    }

    /// [`Core::mileage_report`] written to `path` (replaced atomically, so a
    /// share sheet never sees half a file). Returns the bytes written.
    pub async fn write_mileage_report(
        &self,
        car: String,
        period: String,
        format: ReportFormat,
        path: String,
    ) -> Result<u64> {
        self.run(|core| async move {
            let bytes = core.mileage_report(&car, &period, format.into()).await?;
            write_atomically(&path, &bytes)
        })
        .await
    }

    /// [`Core::hours_report`] written to `path` atomically. Returns the bytes written.
    pub async fn write_hours_report(
        &self,
        period: String,
        format: ReportFormat,
        path: String,
    ) -> Result<u64> {
        self.run(|core| async move {
            let bytes = core.hours_report(&period, format.into()).await?;
            write_atomically(&path, &bytes)
        })
        .await
    }

    // ---- sync ------------------------------------------------------------

    /// Creates an account on the relay at `relay_url` and signs this device in.
    pub async fn signup(
        &self,
        relay_url: String,
        email: String,
        password: String,
    ) -> Result<SyncStatus> {
        self.run(|core| async move { Ok(core.signup(&relay_url, &email, &password).await?.into()) })
            .await
    }

    /// Signs this device in to an existing account.
    pub async fn login(
        &self,
        relay_url: String,
        email: String,
        password: String,
    ) -> Result<SyncStatus> {
        self.run(|core| async move { Ok(core.login(&relay_url, &email, &password).await?.into()) })
            .await
    }

    /// Starts an OpenID Connect sign-in with `provider` (an id from the relay's capabilities)
    /// for `redirect_uri` (one the relay's operator registered, e.g. `tacho://oidc/callback`).
    pub async fn oidc_begin(
        &self,
        relay_url: String,
        provider: String,
        redirect_uri: String,
    ) -> Result<OidcPending> {
        self.run(|core| async move {
            let p = core
                .oidc_begin(&relay_url, &provider, &redirect_uri)
                .await?;
            Ok(OidcPending {
                pending: p.to_opaque()?,
                authorization_url: p.authorization_url,
                state: p.state,
                redirect_uri: p.redirect_uri,
                expires_at_ms: millis(p.expires_at),
            })
        })
        .await
    }

    /// Finishes an OpenID Connect sign-in with the URL the browser session came back with;
    /// `pending` is `OidcPending::pending`. A refusal by the provider (`error=access_denied`)
    /// or another sign-in's state is `TachoError::Auth`.
    pub async fn oidc_complete(&self, pending: String, redirect_url: String) -> Result<SyncStatus> {
        self.run(|core| async move {
            let pending = tacho_core::OidcPending::from_opaque(&pending)?;
            let callback = tacho_core::OidcCallback::from_url(&redirect_url)?;
            Ok(core.oidc_complete(&pending, &callback).await?.into())
        })
        .await
    }

    /// A one-time nonce for a native ID-token sign-in (Sign in with Apple) with `provider`.
    pub async fn oidc_nonce(&self, relay_url: String, provider: String) -> Result<OidcNonce> {
        self.run(|core| async move {
            let (nonce, expires_at) = core.oidc_nonce(&relay_url, &provider).await?;
            Ok(OidcNonce {
                nonce,
                expires_at_ms: millis(expires_at),
            })
        })
        .await
    }

    /// Signs in with the ID token a native sign-in returned for a request made with `nonce`.
    pub async fn oidc_sign_in_with_id_token(
        &self,
        relay_url: String,
        provider: String,
        id_token: String,
        nonce: String,
    ) -> Result<SyncStatus> {
        self.run(|core| async move {
            Ok(core
                .oidc_sign_in_with_id_token(&relay_url, &provider, &id_token, &nonce)
                .await?
                .into())
        })
        .await
    }

    /// Whether this database is signed in to a relay.
    pub async fn is_signed_in(&self) -> Result<bool> {
        Ok(self.sync_status().await?.signed_in)
    }

    /// Sign-in state, pending and parked ops, last sync and last error.
    pub async fn sync_status(&self) -> Result<SyncStatus> {
        self.run(|core| async move { Ok(core.sync_status().await?.into()) })
            .await
    }

    /// Ops the relay refused as invalid, with its reasons.
    pub async fn parked_ops(&self) -> Result<Vec<ParkedOp>> {
        self.run(|core| async move {
            Ok(core
                .parked_ops()
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// One full sync: push everything pending, pull until caught up. Safe to
    /// repeat after any failure (the watch calls it on each wake-up).
    pub async fn sync_once(&self) -> Result<SyncReport> {
        self.run(|core| async move {
            let report = core.sync_once().await?;
            tracing::info!(
                pushed = report.pushed,
                pulled = report.pulled,
                "sync finished"
            );
            Ok(report.into())
        })
        .await
    }

    /// Keeps syncing in the background (long-poll, backoff on errors) until
    /// the returned handle is cancelled or dropped: for the foreground phone app.
    pub fn start_sync_loop(&self, wait_s: u32) -> Arc<TaskHandle> {
        let core = self.inner.clone();
        let cancelled = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let task = self.runtime.handle().spawn(async move {
            if let Err(e) = core.sync_forever(u64::from(wait_s)).await {
                tracing::warn!(error = %e, "the sync loop stopped");
            }
        });
        Arc::new(TaskHandle::new(task.abort_handle(), cancelled))
    }

    /// On the phone: mints a session for another device of this account
    /// (`device_id` is that device's [`Core::device_id`]) to hand over, e.g.
    /// via WatchConnectivity, so the watch never needs the password.
    pub async fn mint_device_session(
        &self,
        device_id: String,
        device_name: String,
    ) -> Result<DeviceHandoff> {
        self.run(|core| async move {
            Ok(core
                .mint_device_session(&device_id, &device_name)
                .await?
                .into())
        })
        .await
    }

    /// On the watch: signs in with a session the phone minted for it.
    pub async fn adopt_device_session(&self, handoff: DeviceHandoff) -> Result<SyncStatus> {
        let handoff = tacho_core::DeviceHandoff::try_from(handoff)?;
        self.run(|core| async move { Ok(core.adopt_device_session(handoff).await?.into()) })
            .await
    }

    /// Signs this device out: the relay revokes its session, the tokens are forgotten (in the
    /// secret store too). Local records stay unless `forget_data`, which deletes them once
    /// every change has reached the relay (else `Conflict`: sync first).
    pub async fn logout(&self, forget_data: bool) -> Result<LogoutReport> {
        self.run(|core| async move { Ok(core.logout(forget_data).await?.into()) })
            .await
    }

    /// The account's devices, oldest first (`current` marks this one).
    pub async fn devices(&self) -> Result<Vec<DeviceInfo>> {
        self.run(
            |core| async move { Ok(core.devices().await?.into_iter().map(Into::into).collect()) },
        )
        .await
    }

    /// Renames a device of the account.
    pub async fn rename_device(&self, device_id: String, name: String) -> Result<DeviceInfo> {
        self.run(|core| async move { Ok(core.rename_device(&device_id, &name).await?.into()) })
            .await
    }

    /// Cuts another device of the account off (a lost watch): its next call is refused.
    pub async fn revoke_device(&self, device_id: String) -> Result<()> {
        self.run(|core| async move { Ok(core.revoke_device(&device_id).await?) })
            .await
    }

    /// Ops waiting in the outbox (for a "not yet synced" badge).
    pub async fn outbox_len(&self) -> Result<u64> {
        self.run(|core| async move { Ok(core.outbox_len().await?) })
            .await
    }

    // ---- timesheet connectors -------------------------------------------
    // Connections live on the relay (these calls need the network and a session); links and
    // conflicts arrive by sync and are read locally, so badges and the inbox work offline.

    /// The account's timesheet connections with their state and counts, oldest first.
    /// Adding one takes the service's token: a CLI or dashboard task.
    pub async fn connectors(&self) -> Result<Vec<ConnectionInfo>> {
        self.run(|core| async move {
            Ok(core
                .connectors()
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// The queue and state of the connection named `key` (its name or id).
    pub async fn connector_status(&self, key: String) -> Result<ConnectorStatus> {
        self.run(|core| async move { Ok(core.connector_status(&key).await?.into()) })
            .await
    }

    /// Pauses a connection: nothing is sent until it is resumed; work keeps queueing.
    pub async fn connector_pause(&self, key: String) -> Result<ConnectionInfo> {
        self.run(|core| async move { Ok(core.connector_pause(&key).await?.into()) })
            .await
    }

    /// Resumes a paused connection, or a disabled one after its token was rotated.
    pub async fn connector_resume(&self, key: String) -> Result<ConnectionInfo> {
        self.run(|core| async move { Ok(core.connector_resume(&key).await?.into()) })
            .await
    }

    /// "Run now": pushes this device's changes, has the relay push and pull the connection,
    /// waits up to `wait_s` seconds for its queue to drain (or get stuck) and syncs what it
    /// wrote back (statuses, conflicts).
    pub async fn connector_run(&self, key: String, wait_s: u32) -> Result<ConnectorRunReport> {
        let wait = std::time::Duration::from_secs(u64::from(wait_s));
        self.run(|core| async move { Ok(core.connector_run(&key, wait, |_| {}).await?.into()) })
            .await
    }

    /// The conflict inbox as last synced, oldest first; resolved ones too with
    /// `include_resolved`. Local: works offline.
    pub async fn conflicts(&self, include_resolved: bool) -> Result<Vec<ConnectorConflict>> {
        self.run(|core| async move {
            Ok(core
                .conflicts(include_resolved)
                .await?
                .into_iter()
                .map(|(id, c)| ConnectorConflict::new(id, c))
                .collect())
        })
        .await
    }

    /// How many conflicts are open, as last synced (the watch's count). Local, no network.
    pub async fn conflict_count(&self) -> Result<u64> {
        self.run(|core| async move {
            Ok(u64::try_from(core.conflicts(false).await?.len()).unwrap_or(u64::MAX))
        })
        .await
    }

    /// Settles conflict `id` on the relay (keep-local pushes Tacho's values, keep-remote
    /// writes the service's into the entry, dismiss changes nothing), then syncs so this
    /// device shows the outcome. Needs the network and a session.
    pub async fn resolve_conflict(&self, id: String, resolution: Resolution) -> Result<()> {
        self.run(|core| async move { Ok(core.resolve_conflict(&id, resolution.into()).await?) })
            .await
    }

    /// Every entry's state on every connection, as last synced. Local.
    pub async fn connector_links(&self) -> Result<Vec<ConnectorLink>> {
        self.run(|core| async move {
            Ok(core
                .connector_links()
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// One sync badge per entry that has links (entries without any have no badge), as last
    /// synced. Local.
    pub async fn entry_sync_states(&self) -> Result<Vec<EntrySyncState>> {
        self.run(|core| async move { Ok(entry_sync_states(core.connector_links().await?)) })
            .await
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so readers see the old file or the new one, never half.
fn write_atomically(path: &str, bytes: &[u8]) -> Result<u64> {
    let path = std::path::Path::new(path);
    let storage = |e: std::io::Error| TachoError::Storage {
        reason: format!("can't write {}: {e}", path.display()),
    };
    let Some(name) = path.file_name() else {
        return Err(TachoError::bad_input(format!(
            "`{}` is not a file path",
            path.display()
        )));
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".partial");
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, bytes).map_err(storage)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        storage(e)
    })?;
    Ok(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ConflictState, ConnectorState, LinkState};

    fn open(dir: &tempfile::TempDir, zone: &str) -> Result<Arc<Core>> {
        let path = dir.path().join("t.db").to_string_lossy().into_owned();
        Core::new(path, zone.into(), RuntimeKind::CurrentThread, None, None)
    }

    #[test]
    fn opening_checks_its_arguments() {
        let Ok(dir) = tempfile::tempdir() else {
            unreachable!("a temp dir")
        };
        assert!(matches!(
            open(&dir, "Mars/Olympus_Mons"),
            Err(TachoError::BadInput { reason }) if reason.contains("time zone")
        ));
        assert!(matches!(
            Core::new(
                " ".into(),
                "UTC".into(),
                RuntimeKind::MultiThread,
                None,
                None
            ),
            Err(TachoError::BadInput { .. })
        ));
        let core = open(&dir, "Europe/Amsterdam");
        assert!(core.is_ok(), "{core:?}");
    }

    #[test]
    fn calls_map_core_errors_and_convert_results() {
        let Ok(dir) = tempfile::tempdir() else {
            unreachable!("a temp dir")
        };
        let Ok(core) = open(&dir, "UTC") else {
            unreachable!("the core opens")
        };
        let Ok(foreign) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            unreachable!("a runtime")
        };
        foreign.block_on(async {
            assert!(matches!(
                core.trip("0190d5e2-0000-7000-8000-00000000abcd".into()).await,
                Err(TachoError::NotFound { kind, .. }) if kind == "trip"
            ));
            assert!(matches!(
                core.stop_timer().await,
                Err(TachoError::Conflict { .. })
            ));
            let started = core.start_timer(None, " focus ".into(), vec![]).await;
            assert!(matches!(&started, Ok(e) if e.description == "focus" && e.stop_ms.is_none()));
            let status = core.timer_status().await;
            assert!(matches!(status, Ok(s) if s.running.is_some()));
            assert!(matches!(core.last_ended_trip().await, Ok(None)));
            assert!(matches!(
                core.ping(Ping {
                    at_ms: -1,
                    lat: 0.0,
                    lon: 0.0,
                    accuracy_m: None,
                    speed_mps: None,
                    heading_deg: None,
                    altitude_m: None,
                })
                .await,
                Err(TachoError::BadInput { .. })
            ));
        });
    }

    #[test]
    fn reports_are_written_atomically() {
        let Ok(dir) = tempfile::tempdir() else {
            unreachable!("a temp dir")
        };
        let path = dir.path().join("r.csv");
        let path_str = path.to_string_lossy().into_owned();
        assert_eq!(write_atomically(&path_str, b"a,b\n"), Ok(4));
        assert_eq!(write_atomically(&path_str, b"c\n"), Ok(2));
        assert_eq!(std::fs::read(&path).ok(), Some(b"c\n".to_vec()));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(names, vec![std::ffi::OsString::from("r.csv")]);
        assert!(matches!(
            write_atomically(&dir.path().join("missing/r.csv").to_string_lossy(), b"x"),
            Err(TachoError::Storage { .. })
        ));
    }

    /// Connector state as the relay's connector device would write it: ops of kind
    /// `connector_conflict` / `connector_link`, applied to a real store file through the pull
    /// path (`apply_remote`), before the binding opens the file.
    mod connector_state {
        use std::sync::Arc;

        use serde_json::{Value, json};
        use tacho_model::clock::SystemClock;
        use tacho_model::connector::link_id;
        use tacho_model::hlc::Hlc;
        use tacho_model::id::{DeviceId, OpId};
        use tacho_model::op::{EntityKind, Op, OpKind, SCHEMA_VERSION};

        /// 2026-12-07T10:00:00Z.
        pub const RAISED_MS: i64 = 1_796_637_600_000;

        pub struct Relay {
            device: DeviceId,
            seq: u64,
            pub ops: Vec<Op>,
        }

        impl Relay {
            pub fn new() -> Self {
                Self {
                    device: DeviceId::new(),
                    seq: 0,
                    ops: Vec::new(),
                }
            }

            fn op(&mut self, entity: EntityKind, id: uuid::Uuid, kind: OpKind) {
                self.seq += 1;
                self.ops.push(Op {
                    op_id: OpId::new(),
                    device: self.device,
                    device_seq: self.seq,
                    hlc: Hlc::new(RAISED_MS as u64 + self.seq, 0),
                    entity,
                    entity_id: id,
                    kind,
                    schema: SCHEMA_VERSION,
                });
            }

            fn upsert(&mut self, entity: EntityKind, id: uuid::Uuid, fields: Value) {
                let Value::Object(fields) = fields else {
                    unreachable!("an object")
                };
                self.op(entity, id, OpKind::Upsert { fields });
            }

            pub fn link(&mut self, conn: uuid::Uuid, entry: uuid::Uuid, state: &str) {
                self.upsert(
                    EntityKind::ConnectorLink,
                    link_id(conn, entry),
                    json!({
                        "connection_id": conn, "connection_name": format!("conn {}", &conn.to_string()[..4]),
                        "service": "kimai", "entry_id": entry, "remote_id": "17", "state": state,
                        "synced_at": "2026-12-07T09:00:00Z",
                        "message": if state == "error" { Some("HTTP 422: activity closed") } else { None },
                    }),
                );
            }

            pub fn conflict(
                &mut self,
                id: uuid::Uuid,
                conn: uuid::Uuid,
                entry: uuid::Uuid,
                minute: u32,
            ) {
                self.upsert(
                    EntityKind::ConnectorConflict,
                    id,
                    json!({
                        "connection_id": conn, "connection_name": "work kimai", "service": "kimai",
                        "entry_id": entry, "remote_id": "17",
                        "local": {"description": "review", "start": "2026-12-07T08:00:00Z",
                                  "stop": "2026-12-07T09:30:00Z", "seconds": 5400, "tags": ["a"]},
                        "remote": {"description": "code review", "seconds": 3600, "billable": true},
                        "message": "edited on both sides",
                        "raised_at": format!("2026-12-07T10:{minute:02}:00Z"), "state": "open",
                    }),
                );
            }

            pub fn resolve(&mut self, id: uuid::Uuid) {
                self.upsert(
                    EntityKind::ConnectorConflict,
                    id,
                    json!({"state": "resolved", "resolution": "dismiss",
                           "resolved_at": "2026-12-07T11:00:00Z"}),
                );
            }

            pub fn delete(&mut self, entity: EntityKind, id: uuid::Uuid) {
                self.op(entity, id, OpKind::Delete);
            }

            /// Applies the ops to the store file at `path` as one pulled page.
            pub fn apply_to(&self, path: &std::path::Path) {
                let Ok(mut store) = tacho_store::Store::open(path, Arc::new(SystemClock)) else {
                    unreachable!("the store opens")
                };
                let applied = store.write(|w| w.apply_remote(&self.ops, self.ops.len() as u64));
                assert!(matches!(&applied, Ok(a) if a.invalid == 0), "{applied:?}");
            }
        }
    }

    #[test]
    fn conflicts_links_and_badges_come_from_pulled_connector_ops() {
        use connector_state::{RAISED_MS, Relay};
        use tacho_model::op::EntityKind;

        let Ok(dir) = tempfile::tempdir() else {
            unreachable!("a temp dir")
        };
        let path = dir.path().join("t.db");
        let (kimai, toggl) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let (entry_a, entry_b, entry_c) = (
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
        );
        let (older, newer, settled, gone) = (
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
        );
        let mut relay = Relay::new();
        relay.link(kimai, entry_a, "synced");
        relay.link(toggl, entry_a, "conflict");
        relay.link(kimai, entry_b, "pending");
        relay.link(toggl, entry_b, "error");
        relay.link(kimai, entry_c, "synced");
        // Raised out of id order: the inbox is ordered by when, not by id.
        relay.conflict(newer, toggl, entry_a, 30);
        relay.conflict(older, toggl, entry_a, 5);
        relay.conflict(settled, kimai, entry_b, 10);
        relay.resolve(settled);
        relay.conflict(gone, kimai, entry_c, 20);
        relay.delete(EntityKind::ConnectorConflict, gone);
        relay.apply_to(&path);

        let Ok(core) = Core::new(
            path.to_string_lossy().into_owned(),
            "UTC".into(),
            RuntimeKind::CurrentThread,
            None,
            None,
        ) else {
            unreachable!("the core opens")
        };
        let Ok(foreign) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            unreachable!("a runtime")
        };
        foreign.block_on(async {
            assert_eq!(core.conflict_count().await, Ok(2));
            let Ok(open) = core.conflicts(false).await else {
                unreachable!("conflicts read")
            };
            let ids: Vec<_> = open.iter().map(|c| c.id.clone()).collect();
            assert_eq!(ids, [older.to_string(), newer.to_string()]);
            let first = &open[0];
            assert_eq!(first.connection_id, toggl.to_string());
            assert_eq!(first.connection_name, "work kimai");
            assert_eq!(first.service, "kimai");
            assert_eq!(first.entry_id, Some(entry_a.to_string()));
            assert_eq!(first.message, "edited on both sides");
            assert_eq!(first.raised_at_ms, RAISED_MS + 5 * 60_000);
            assert_eq!(first.state, ConflictState::Open);
            assert_eq!(first.resolution, None);
            let local = first
                .local
                .clone()
                .unwrap_or_else(|| unreachable!("local side"));
            assert_eq!(local.description.as_deref(), Some("review"));
            assert_eq!(local.start_ms, Some(RAISED_MS - 2 * 3_600_000));
            assert_eq!(local.stop_ms, Some(RAISED_MS - 30 * 60_000));
            assert_eq!(local.seconds, Some(5400));
            assert_eq!(local.tags, Some(vec!["a".to_owned()]));
            let remote = first
                .remote
                .clone()
                .unwrap_or_else(|| unreachable!("remote side"));
            assert_eq!(remote.description.as_deref(), Some("code review"));
            assert_eq!((remote.start_ms, remote.billable), (None, Some(true)));

            let Ok(all) = core.conflicts(true).await else {
                unreachable!("conflicts read")
            };
            assert_eq!(all.len(), 3, "the deleted one stays out");
            let done = all.iter().find(|c| c.id == settled.to_string());
            assert!(
                matches!(done, Some(c) if c.state == ConflictState::Resolved
                    && c.resolution == Some(Resolution::Dismiss)
                    && c.resolved_at_ms == Some(RAISED_MS + 3_600_000)),
                "{done:?}"
            );

            let Ok(links) = core.connector_links().await else {
                unreachable!("links read")
            };
            assert_eq!(links.len(), 5);
            let error = links.iter().find(|l| l.state == LinkState::Error);
            assert!(
                matches!(error, Some(l) if l.entry_id == entry_b.to_string()
                    && l.message.as_deref() == Some("HTTP 422: activity closed")
                    && l.synced_at_ms == Some(RAISED_MS - 3_600_000)),
                "{error:?}"
            );
            let Ok(badges) = core.entry_sync_states().await else {
                unreachable!("badges read")
            };
            let badge = |entry: uuid::Uuid| {
                badges
                    .iter()
                    .find(|b| b.entry_id == entry.to_string())
                    .map(|b| (b.state, b.links.len()))
            };
            assert_eq!(badges.len(), 3);
            assert_eq!(badge(entry_a), Some((LinkState::Conflict, 2)));
            assert_eq!(badge(entry_b), Some((LinkState::Error, 2)));
            assert_eq!(badge(entry_c), Some((LinkState::Synced, 1)));
        });
    }

    #[test]
    fn connector_calls_check_input_and_need_a_session() {
        let Ok(dir) = tempfile::tempdir() else {
            unreachable!("a temp dir")
        };
        let Ok(core) = open(&dir, "UTC") else {
            unreachable!("the core opens")
        };
        let Ok(foreign) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            unreachable!("a runtime")
        };
        foreign.block_on(async {
            assert_eq!(core.conflict_count().await, Ok(0));
            assert_eq!(core.entry_sync_states().await, Ok(vec![]));
            assert!(matches!(
                core.resolve_conflict("not-an-id".into(), Resolution::KeepLocal).await,
                Err(TachoError::BadInput { reason }) if reason.contains("not-an-id")
            ));
            // Connections live on the relay: without a session the call says so.
            assert!(matches!(
                core.connectors().await,
                Err(TachoError::Auth { .. })
            ));
            assert!(matches!(
                core.resolve_conflict(uuid::Uuid::now_v7().to_string(), Resolution::Dismiss)
                    .await,
                Err(TachoError::Auth { .. })
            ));
        });
    }

    #[test]
    fn connection_answers_map_their_state_and_name() {
        let info: tacho_model::api::connectors::ConnectionInfo =
            match serde_json::from_value(serde_json::json!({
                "id": "0190d5e2-0000-7000-8000-00000000abcd", "provider": "toggl",
                "state": "quota", "quota_until": "2026-12-07T11:00:00Z",
                "counts": {"pending": 4, "conflicts": 1, "errors": 2},
                "created_at": "2026-12-01T00:00:00Z", "updated_at": "2026-12-01T00:00:00Z",
            })) {
                Ok(info) => info,
                Err(e) => unreachable!("{e}"),
            };
        let mapped = ConnectionInfo::from(info.clone());
        assert_eq!(mapped.name, "toggl", "no label: the service's name");
        assert_eq!(mapped.state, ConnectorState::Quota);
        assert_eq!((mapped.pending, mapped.conflicts, mapped.errors), (4, 1, 2));
        let mut renamed = info;
        renamed.label = Some("client A".into());
        renamed.state = "archived".into();
        let mapped = ConnectionInfo::from(renamed);
        assert_eq!(mapped.name, "client A");
        assert_eq!(mapped.state, ConnectorState::Unknown);
        assert_eq!(mapped.state_name, "archived");
    }
}
