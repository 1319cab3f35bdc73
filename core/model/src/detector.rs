//! The trip detector: a pure state machine from connect/ping/disconnect/tick
//! events to trip boundaries and classified points.
//!
//! The detector never reads a clock: deadlines (grace after a disconnect,
//! silence of a ping-only trip, crash recovery) are checked against the time
//! of whatever input arrives next, so replaying the same inputs always gives
//! the same trips, live or from an import. Its whole state is a few small
//! fields and is meant to be stored as JSON after every input.
//!
//! Lifecycle:
//! - **Idle**: no trip. A `Connect` opens one at once. Pings are held in a
//!   small buffer; once they show clear movement a trip with source
//!   [`TripSource::Auto`] starts at the first buffered fix.
//! - **Active**: pings become points of the trip through the GPS noise filter.
//!   A connect-started trip ends only by `Disconnect` (after grace), by
//!   [`Detector::force_end`] or by recovery after `recovery_after` without a
//!   ping. A ping-started trip also ends after a silence longer than `grace`,
//!   or after pinging from one spot for longer than twice `grace`.
//! - **Grace**: disconnected, waiting `grace` for a reconnect (fuel stop).
//!   Pings dated after the disconnect are buffered: a reconnect adds them to
//!   the resumed trip, otherwise they may start an auto trip of their own.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::gps::filter::{FilterConfig, PathFilter, PointKind, exact};
use crate::gps::{LatLon, Ping};
use crate::trip::TripSource;

/// Most pings held while waiting for movement (or for a reconnect). Beyond
/// this the buffer is thinned where dropping a fix changes the path least,
/// which keeps the persisted state small at 1 Hz.
const BUFFER_CAP: usize = 8;

/// A ping-only trip whose fixes stay within this radius is standing still.
/// Wider than parked-phone jitter, narrower than a car park exit.
const STILL_RADIUS_M: f64 = 50.0;

/// Serde for `chrono::Duration` (which has none) as whole milliseconds.
mod duration_ms {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(d: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_milliseconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeDelta, D::Error> {
        let ms = i64::deserialize(d)?;
        TimeDelta::try_milliseconds(ms).ok_or_else(|| D::Error::custom("duration out of range"))
    }
}

/// Tunables of the detector. Durations serialise as whole milliseconds
/// (`grace_ms`, ...), so sub-millisecond parts do not survive a round trip;
/// [`Detector::new`] truncates them up front for that reason.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectorConfig {
    /// How long a disconnected trip waits for a reconnect (fuel stop) before
    /// it ends at the disconnect time. Also the silence that ends a
    /// ping-only trip, and the window in which idle pings must show movement.
    #[serde(rename = "grace_ms", with = "duration_ms")]
    pub grace: chrono::Duration,
    /// An active trip with no ping for this long was orphaned (app killed,
    /// phone dead): it is closed at its last ping and marked recovered.
    #[serde(rename = "recovery_after_ms", with = "duration_ms")]
    pub recovery_after: chrono::Duration,
    /// Pings dated later than `now` plus this are rejected: phone clocks
    /// drift, but a fix from the future would block all real ones as
    /// out of order.
    #[serde(rename = "future_tolerance_ms", with = "duration_ms")]
    pub future_tolerance: chrono::Duration,
    /// Straight-line movement from the first buffered fix that starts a trip
    /// without a connect. 200 m is beyond any GPS jitter or car-park
    /// shuffling, and a car covers it within a minute in town.
    pub auto_start_distance_m: f64,
    /// Rules of the GPS noise filter used for each trip's distance.
    pub filter: FilterConfig,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            grace: TimeDelta::minutes(5),
            recovery_after: TimeDelta::hours(3),
            future_tolerance: TimeDelta::minutes(10),
            auto_start_distance_m: 200.0,
            filter: FilterConfig::default(),
        }
    }
}

/// What the outside world tells the detector, in the order it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DetectorInput {
    /// The car connected (CarPlay, Bluetooth, a hook, by hand): a trip opens
    /// now, or the trip in grace resumes.
    Connect {
        /// When the connection was made.
        at: DateTime<Utc>,
        /// What reported it; carried into the trip.
        source: TripSource,
        /// Which car, if the source can tell (Bluetooth name, ...).
        car_hint: Option<String>,
    },
    /// One GPS fix.
    Ping(Ping),
    /// The car disconnected: the trip ends unless a reconnect comes within
    /// the grace period.
    Disconnect {
        /// When the connection was lost.
        at: DateTime<Utc>,
    },
    /// Time passed with nothing else happening: lets deadlines fire.
    Tick {
        /// The caller's current time.
        now: DateTime<Utc>,
    },
}

/// Why a ping was refused outright: it cannot be a real fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PingRejection {
    /// Latitude or longitude is NaN or infinite.
    #[error("latitude or longitude is not a finite number")]
    NotFinite,
    /// Latitude outside -90..=90.
    #[error("latitude is outside -90..=90")]
    LatitudeOutOfRange,
    /// Longitude outside -180..=180.
    #[error("longitude is outside -180..=180")]
    LongitudeOutOfRange,
    /// Dated later than now plus the future tolerance.
    #[error("the fix is dated in the future")]
    InTheFuture,
    /// A negative accuracy radius (iOS uses it to flag an invalid fix).
    #[error("accuracy is negative, which marks an invalid fix")]
    NegativeAccuracy,
    /// Accuracy is NaN or infinite.
    #[error("accuracy is not a finite number")]
    AccuracyNotFinite,
    /// Speed, heading or altitude is NaN or infinite; such a value could not
    /// be stored or compared, so the fix is refused rather than altered.
    #[error("speed, heading or altitude is not a finite number")]
    MeasurementNotFinite,
}

/// Why a well-formed ping was ignored: it repeats or predates what we have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DropReason {
    /// Same time and position as the last accepted ping (a retried upload).
    Duplicate,
    /// Not later than the last accepted ping, or before the open trip began.
    OutOfOrder,
}

/// A finished trip, ready to be written as an op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TripSummary {
    /// What started the trip.
    pub source: TripSource,
    /// Which car, if any connect named one.
    pub car_hint: Option<String>,
    /// Connect time, or the first buffered fix of an auto-started trip.
    pub started_at: DateTime<Utc>,
    /// Disconnect time, the last ping (silence, recovery) or the
    /// `force_end` time; never before `started_at`.
    pub ended_at: DateTime<Utc>,
    /// Filtered path length in metres.
    pub distance_m: f64,
    /// First good position, for the start address.
    pub start: Option<LatLon>,
    /// Last good position, for the end address.
    pub end: Option<LatLon>,
    /// Points emitted for this trip (Counted + PoorAccuracy).
    pub point_count: u32,
    /// Closed by recovery after a long silence rather than a real end.
    pub recovered: bool,
}

/// What the detector concluded from one input, in the order to apply it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DetectorOutput {
    /// A new trip opened.
    TripStarted {
        /// Start time of the trip.
        at: DateTime<Utc>,
        /// What started it.
        source: TripSource,
        /// Which car, if known.
        car_hint: Option<String>,
    },
    /// A reconnect within grace: the open trip goes on.
    TripResumed {
        /// Reconnect time.
        at: DateTime<Utc>,
    },
    /// A fix that belongs to the open trip (Counted or PoorAccuracy).
    Point {
        /// The fix.
        ping: Ping,
        /// Whether it counted toward the distance.
        kind: PointKind,
    },
    /// A fix that cannot be real.
    PingRejected {
        /// The fix.
        ping: Ping,
        /// Why.
        reason: PingRejection,
    },
    /// A fix that repeats or predates what was already accepted.
    PingDropped {
        /// The fix.
        ping: Ping,
        /// Why.
        reason: DropReason,
    },
    /// A fix of the open trip judged a wild GPS outlier.
    OutlierDropped {
        /// The fix.
        ping: Ping,
    },
    /// The trip is over; all its points were emitted before this.
    TripEnded {
        /// Its figures.
        summary: TripSummary,
    },
}

/// Serde for buffered pings through [`StoredPing`] (exact floats).
mod stored_pings {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::gps::Ping;
    use crate::gps::filter::StoredPing;

    pub fn serialize<S: Serializer>(v: &[Ping], s: S) -> Result<S::Ok, S::Error> {
        let stored: Vec<StoredPing> = v.iter().map(|p| StoredPing::from(*p)).collect();
        stored.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Ping>, D::Error> {
        let stored = Vec::<StoredPing>::deserialize(d)?;
        Ok(stored.into_iter().map(Ping::from).collect())
    }
}

/// Time and position of the last accepted ping, for duplicate detection.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Mark {
    at: DateTime<Utc>,
    #[serde(with = "exact")]
    lat: f64,
    #[serde(with = "exact")]
    lon: f64,
}

/// Where a ping-only trip has been standing since when.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Still {
    #[serde(with = "exact")]
    lat: f64,
    #[serde(with = "exact")]
    lon: f64,
    since: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OpenTrip {
    source: TripSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    car_hint: Option<String>,
    started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_ping_at: Option<DateTime<Utc>>,
    points: u32,
    /// Started by pings alone, so silence (not a disconnect) ends it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    by_pings: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    still: Option<Still>,
    filter: PathFilter,
}

impl OpenTrip {
    fn new(
        source: TripSource,
        car_hint: Option<String>,
        started_at: DateTime<Utc>,
        by_pings: bool,
        cfg: FilterConfig,
    ) -> Self {
        Self {
            source,
            car_hint,
            started_at,
            last_ping_at: None,
            points: 0,
            by_pings,
            still: None,
            filter: PathFilter::new(cfg),
        }
    }

    fn last_activity(&self) -> DateTime<Utc> {
        self.last_ping_at
            .map_or(self.started_at, |t| t.max(self.started_at))
    }

    fn feed(&mut self, ping: Ping, out: &mut Vec<DetectorOutput>) {
        self.last_ping_at = Some(ping.at);
        if self.by_pings
            && ping
                .accuracy_m
                .is_none_or(|a| a <= self.filter.config().max_accuracy_m)
        {
            let moved = self
                .still
                .is_none_or(|s| pos(s.lat, s.lon).distance_m(ping.position()) > STILL_RADIUS_M);
            if moved {
                self.still = Some(Still {
                    lat: ping.lat,
                    lon: ping.lon,
                    since: ping.at,
                });
            }
        }
        let verdicts = self.filter.push(ping);
        self.emit(verdicts, out);
    }

    fn emit(&mut self, verdicts: Vec<(Ping, PointKind)>, out: &mut Vec<DetectorOutput>) {
        for (ping, kind) in verdicts {
            if kind == PointKind::Outlier {
                out.push(DetectorOutput::OutlierDropped { ping });
            } else {
                self.points = self.points.saturating_add(1);
                out.push(DetectorOutput::Point { ping, kind });
            }
        }
    }

    fn close(mut self, ended_at: DateTime<Utc>, recovered: bool, out: &mut Vec<DetectorOutput>) {
        let verdicts = self.filter.finish();
        self.emit(verdicts, out);
        let summary = TripSummary {
            source: self.source,
            car_hint: self.car_hint,
            started_at: self.started_at,
            ended_at: ended_at.max(self.started_at),
            distance_m: self.filter.distance_m(),
            start: self.filter.first(),
            end: self.filter.last(),
            point_count: self.points,
            recovered,
        };
        out.push(DetectorOutput::TripEnded { summary });
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    Idle {
        #[serde(default, with = "stored_pings", skip_serializing_if = "Vec::is_empty")]
        buffer: Vec<Ping>,
    },
    Active {
        trip: OpenTrip,
    },
    Grace {
        trip: OpenTrip,
        since: DateTime<Utc>,
        #[serde(default, with = "stored_pings", skip_serializing_if = "Vec::is_empty")]
        buffer: Vec<Ping>,
    },
}

/// The trip detector. Feed it every input in order with [`Detector::handle`]
/// and persist it (serde) after each call; restoring it continues exactly
/// where it left off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detector {
    config: DetectorConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last: Option<Mark>,
    phase: Phase,
}

fn pos(lat: f64, lon: f64) -> LatLon {
    LatLon { lat, lon }
}

fn truncate_ms(d: TimeDelta) -> TimeDelta {
    TimeDelta::try_milliseconds(d.num_milliseconds()).unwrap_or(d)
}

impl Detector {
    /// A detector with no trip open.
    pub fn new(mut config: DetectorConfig) -> Self {
        config.grace = truncate_ms(config.grace);
        config.recovery_after = truncate_ms(config.recovery_after);
        config.future_tolerance = truncate_ms(config.future_tolerance);
        Self {
            config,
            last: None,
            phase: Phase::Idle { buffer: Vec::new() },
        }
    }

    /// The rules this detector runs by.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Changes the rules of a restored detector (settings may change between
    /// runs). Grace, recovery and future tolerance apply at once; the noise
    /// filter of a trip already open keeps the settings it started with, so
    /// one trip is never measured by two rules.
    pub fn set_config(&mut self, config: DetectorConfig) {
        self.config = Self::new(config).config;
    }

    /// Processes one input. `now` is the caller's wall clock (the model never
    /// reads the system clock); it only bounds how far in the future a ping,
    /// connect or tick may be dated. Deadlines are judged by the input's own
    /// time, so replaying an old track behaves as it did live.
    pub fn handle(&mut self, input: DetectorInput, now: DateTime<Utc>) -> Vec<DetectorOutput> {
        let mut out = Vec::new();
        match input {
            DetectorInput::Connect {
                at,
                source,
                car_hint,
            } => {
                let at = self.clamp_future(at, now);
                self.expire(at, &mut out);
                self.connect(at, source, car_hint, &mut out);
            }
            DetectorInput::Ping(ping) => self.ping(ping, now, &mut out),
            DetectorInput::Disconnect { at } => {
                let at = self.clamp_future(at, now);
                self.expire(at, &mut out);
                self.disconnect(at);
            }
            DetectorInput::Tick { now: t } => {
                let t = self.clamp_future(t, now);
                self.expire(t, &mut out);
                if let Phase::Idle { buffer } = &mut self.phase {
                    prune(buffer, t, self.config.grace);
                }
            }
        }
        out
    }

    /// Whether a trip is active or in its grace period.
    pub fn is_trip_open(&self) -> bool {
        !matches!(self.phase, Phase::Idle { .. })
    }

    /// Whether the open trip is disconnected and waiting for a reconnect.
    pub fn is_in_grace(&self) -> bool {
        matches!(self.phase, Phase::Grace { .. })
    }

    /// Distance so far of the open trip, for a live display.
    pub fn open_trip_distance_m(&self) -> Option<f64> {
        self.open_trip().map(|t| t.filter.distance_m())
    }

    /// Start time of the open trip, for a live display.
    pub fn open_trip_started_at(&self) -> Option<DateTime<Utc>> {
        self.open_trip().map(|t| t.started_at)
    }

    /// Ends any open trip now, without waiting for grace (the "trip end"
    /// command, the end of an import). The held-back point is flushed first.
    ///
    /// `ended_at` is `at`, but never before the trip's last ping (so no point
    /// lies after the end); for a trip already in grace it is the disconnect
    /// time, when the car really stopped. Pings buffered in grace stay
    /// buffered and may still start an auto trip.
    pub fn force_end(&mut self, at: DateTime<Utc>) -> Vec<DetectorOutput> {
        let mut out = Vec::new();
        let phase = std::mem::replace(&mut self.phase, Phase::Idle { buffer: Vec::new() });
        self.phase = match phase {
            Phase::Idle { buffer } => Phase::Idle { buffer },
            Phase::Active { trip } => {
                let end = at.max(trip.last_activity());
                trip.close(end, false, &mut out);
                Phase::Idle { buffer: Vec::new() }
            }
            Phase::Grace {
                trip,
                since,
                buffer,
            } => {
                trip.close(since, false, &mut out);
                Phase::Idle { buffer }
            }
        };
        out
    }

    fn open_trip(&self) -> Option<&OpenTrip> {
        match &self.phase {
            Phase::Idle { .. } => None,
            Phase::Active { trip } | Phase::Grace { trip, .. } => Some(trip),
        }
    }

    fn future_limit(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        now.checked_add_signed(self.config.future_tolerance)
    }

    /// Connect, disconnect and tick times later than the tolerance are
    /// replaced by `now`: the caller's clock is the better guess.
    fn clamp_future(&self, t: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        match self.future_limit(now) {
            Some(limit) if t > limit => now,
            _ => t,
        }
    }

    /// Fires every deadline that has passed by `t`.
    fn expire(&mut self, t: DateTime<Utc>, out: &mut Vec<DetectorOutput>) {
        let cfg = self.config;
        let phase = std::mem::replace(&mut self.phase, Phase::Idle { buffer: Vec::new() });
        self.phase = match phase {
            Phase::Active { trip } => {
                let last = trip.last_activity();
                let silence = t - last;
                if trip.by_pings && silence > cfg.grace {
                    trip.close(last, false, out);
                    Phase::Idle { buffer: Vec::new() }
                } else if silence > cfg.recovery_after {
                    trip.close(last, true, out);
                    Phase::Idle { buffer: Vec::new() }
                } else {
                    Phase::Active { trip }
                }
            }
            Phase::Grace {
                trip,
                since,
                mut buffer,
            } if t - since > cfg.grace => {
                trip.close(since, false, out);
                prune(&mut buffer, t, cfg.grace);
                self.after_idle_push(buffer, out)
            }
            other => other,
        };
    }

    fn connect(
        &mut self,
        at: DateTime<Utc>,
        source: TripSource,
        car_hint: Option<String>,
        out: &mut Vec<DetectorOutput>,
    ) {
        let cfg = self.config;
        let phase = std::mem::replace(&mut self.phase, Phase::Idle { buffer: Vec::new() });
        self.phase = match phase {
            Phase::Idle { .. } => {
                out.push(DetectorOutput::TripStarted {
                    at,
                    source,
                    car_hint: car_hint.clone(),
                });
                Phase::Active {
                    trip: OpenTrip::new(source, car_hint, at, false, cfg.filter),
                }
            }
            Phase::Active { mut trip } => {
                // A repeated connect, or the car announcing itself during a
                // ping-started trip: from now on a disconnect ends it.
                trip.by_pings = false;
                trip.still = None;
                if trip.car_hint.is_none() {
                    trip.car_hint = car_hint;
                }
                Phase::Active { trip }
            }
            Phase::Grace {
                mut trip, buffer, ..
            } => {
                out.push(DetectorOutput::TripResumed { at });
                if trip.car_hint.is_none() {
                    trip.car_hint = car_hint;
                }
                for p in buffer {
                    trip.feed(p, out);
                }
                Phase::Active { trip }
            }
        };
    }

    fn disconnect(&mut self, at: DateTime<Utc>) {
        let phase = std::mem::replace(&mut self.phase, Phase::Idle { buffer: Vec::new() });
        self.phase = match phase {
            Phase::Active { trip } => {
                let since = at.max(trip.last_activity());
                Phase::Grace {
                    trip,
                    since,
                    buffer: Vec::new(),
                }
            }
            other => other,
        };
    }

    fn ping(&mut self, ping: Ping, now: DateTime<Utc>, out: &mut Vec<DetectorOutput>) {
        if let Some(reason) = self.validate(&ping, now) {
            out.push(DetectorOutput::PingRejected { ping, reason });
            return;
        }
        if let Some(last) = self.last {
            let reason = if ping.at == last.at && ping.lat == last.lat && ping.lon == last.lon {
                Some(DropReason::Duplicate)
            } else if ping.at <= last.at {
                Some(DropReason::OutOfOrder)
            } else {
                None
            };
            if let Some(reason) = reason {
                out.push(DetectorOutput::PingDropped { ping, reason });
                return;
            }
        }
        self.expire(ping.at, out);
        if self.open_trip().is_some_and(|t| ping.at < t.started_at) {
            out.push(DetectorOutput::PingDropped {
                ping,
                reason: DropReason::OutOfOrder,
            });
            return;
        }
        self.last = Some(Mark {
            at: ping.at,
            lat: ping.lat,
            lon: ping.lon,
        });

        let cfg = self.config;
        let phase = std::mem::replace(&mut self.phase, Phase::Idle { buffer: Vec::new() });
        self.phase = match phase {
            Phase::Active { trip } if trip.by_pings && standing_too_long(&trip, &ping, cfg) => {
                // Parked with the phone still pinging: end at the last ping
                // before this one, which then waits for movement like any
                // idle fix.
                let end = trip.last_activity();
                trip.close(end, false, out);
                self.after_idle_push(vec![ping], out)
            }
            Phase::Active { mut trip } => {
                trip.feed(ping, out);
                Phase::Active { trip }
            }
            Phase::Grace {
                mut trip,
                since,
                mut buffer,
            } => {
                if ping.at <= since {
                    // Dated before the disconnect: it belongs to the trip.
                    trip.feed(ping, out);
                } else {
                    buffer_push(&mut buffer, ping, cfg);
                }
                Phase::Grace {
                    trip,
                    since,
                    buffer,
                }
            }
            Phase::Idle { mut buffer } => {
                buffer_push(&mut buffer, ping, cfg);
                self.after_idle_push(buffer, out)
            }
        };
    }

    /// Starts an auto trip if the idle buffer shows clear movement.
    fn after_idle_push(&self, buffer: Vec<Ping>, out: &mut Vec<DetectorOutput>) -> Phase {
        let cfg = self.config;
        let Some(first) = buffer.first().filter(|_| moving(&buffer, cfg)) else {
            return Phase::Idle { buffer };
        };
        out.push(DetectorOutput::TripStarted {
            at: first.at,
            source: TripSource::Auto,
            car_hint: None,
        });
        let mut trip = OpenTrip::new(TripSource::Auto, None, first.at, true, cfg.filter);
        for p in buffer {
            trip.feed(p, out);
        }
        Phase::Active { trip }
    }

    fn validate(&self, p: &Ping, now: DateTime<Utc>) -> Option<PingRejection> {
        let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
        if !p.lat.is_finite() || !p.lon.is_finite() {
            Some(PingRejection::NotFinite)
        } else if !(-90.0..=90.0).contains(&p.lat) {
            Some(PingRejection::LatitudeOutOfRange)
        } else if !(-180.0..=180.0).contains(&p.lon) {
            Some(PingRejection::LongitudeOutOfRange)
        } else if !finite(p.accuracy_m) {
            Some(PingRejection::AccuracyNotFinite)
        } else if p.accuracy_m.is_some_and(|a| a < 0.0) {
            Some(PingRejection::NegativeAccuracy)
        } else if !finite(p.speed_mps) || !finite(p.heading_deg) || !finite(p.altitude_m) {
            Some(PingRejection::MeasurementNotFinite)
        } else if self.future_limit(now).is_some_and(|limit| p.at > limit) {
            Some(PingRejection::InTheFuture)
        } else {
            None
        }
    }
}

fn accurate(p: &Ping, cfg: FilterConfig) -> bool {
    p.accuracy_m.is_none_or(|a| a <= cfg.max_accuracy_m)
}

/// Whether a ping-only trip has stood within [`STILL_RADIUS_M`] of one spot
/// for more than twice the grace, counting the silence before `ping`.
/// Twice, because a short silence plus a warm-up at the same spot (the 4 min
/// stop in the Chemnitz fixtures) is a stop within a trip, not its end.
fn standing_too_long(trip: &OpenTrip, ping: &Ping, cfg: DetectorConfig) -> bool {
    let Some(still) = trip.still else {
        return false;
    };
    let Some(limit) = cfg.grace.checked_mul(2) else {
        return false;
    };
    accurate(ping, cfg.filter)
        && pos(still.lat, still.lon).distance_m(ping.position()) <= STILL_RADIUS_M
        && ping.at - still.since > limit
}

/// Drops buffered fixes older than the window before `t`: movement has to
/// show within `grace`, and a longer wait restarts the count.
fn prune(buffer: &mut Vec<Ping>, t: DateTime<Utc>, window: TimeDelta) {
    let keep_from = buffer
        .iter()
        .position(|p| t - p.at <= window)
        .unwrap_or(buffer.len());
    buffer.drain(..keep_from);
}

/// Adds a fix to a bounded buffer, thinning it where the path changes least.
fn buffer_push(buffer: &mut Vec<Ping>, ping: Ping, cfg: DetectorConfig) {
    prune(buffer, ping.at, cfg.grace);
    buffer.push(ping);
    while buffer.len() > BUFFER_CAP {
        let cost = |i: usize| -> f64 {
            let (Some(a), Some(b), Some(c)) = (buffer.get(i - 1), buffer.get(i), buffer.get(i + 1))
            else {
                return f64::INFINITY;
            };
            if !accurate(b, cfg.filter) {
                return -1.0;
            }
            let detour = a.position().distance_m(b.position())
                + b.position().distance_m(c.position())
                - a.position().distance_m(c.position());
            if detour.is_finite() { detour } else { 0.0 }
        };
        let victim = (1..buffer.len() - 1)
            .min_by(|&i, &j| cost(i).total_cmp(&cost(j)))
            .unwrap_or(1);
        buffer.remove(victim);
    }
}

/// Clear movement: a good fix at least `auto_start_distance_m` from the
/// first good buffered fix, reached at a believable speed, and itself in line
/// with the good fix before it (so a lone outlier cannot start a trip).
fn moving(buffer: &[Ping], cfg: DetectorConfig) -> bool {
    let max_speed = cfg.filter.max_speed_mps;
    let believable = |a: &Ping, b: &Ping| {
        let secs = (b.at - a.at).num_milliseconds() as f64 / 1000.0;
        secs > 0.0 && a.position().distance_m(b.position()) / secs <= max_speed
    };
    let mut good = buffer.iter().filter(|p| accurate(p, cfg.filter));
    let Some(origin) = good.next() else {
        return false;
    };
    let mut prev = origin;
    for p in good {
        if origin.position().distance_m(p.position()) >= cfg.auto_start_distance_m
            && believable(origin, p)
            && believable(prev, p)
        {
            return true;
        }
        prev = p;
    }
    false
}
