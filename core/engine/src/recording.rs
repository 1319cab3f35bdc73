//! Live trip recording: feeds connect/ping/disconnect/tick events through the
//! pure detector and turns its verdicts into stored trips and points, all in
//! the caller's transaction together with the detector's new state.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tacho_model::car::{Car, car_for_trip};
use tacho_model::detector::{
    Detector, DetectorConfig, DetectorInput, DetectorOutput, DropReason, PingRejection, TripSummary,
};
use tacho_model::finish::finish_trip;
use tacho_model::gps::Ping;
use tacho_model::gps::filter::PointKind;
use tacho_model::id::TripId;
use tacho_model::place::Place;
use tacho_model::trip::{Trip, TripSource, TripState};
use tacho_store::{RecorderState, Store, TripPoint, Writer};

use crate::Result;

/// How many points travel in one sync chunk.
pub(crate) const POINT_CHUNK: u32 = 100;

/// At most this many plain pings between two saves of the detector; the
/// points stored since are replayed on load (bounds the work at start-up).
pub(crate) const SNAPSHOT_EVERY: u32 = 32;

/// What one event did, for callers and the events stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FeedOutcome {
    /// Trips that started.
    pub started: Vec<TripId>,
    /// Trips that ended.
    pub ended: Vec<TripId>,
    /// Points stored.
    pub points: u32,
    /// Why a ping was refused, if it was.
    pub rejected: Option<PingRejection>,
    /// Why a ping was ignored, if it was.
    pub dropped: Option<DropReason>,
    /// Wild fixes dropped as outliers.
    pub outliers: u32,
    /// A reconnect continued the open trip.
    pub resumed: bool,
    /// Fixes refused in a batch (see `rejected` for the last reason).
    pub rejected_count: u32,
    /// Fixes ignored in a batch as duplicates or out of order.
    pub dropped_count: u32,
}

impl FeedOutcome {
    /// Folds the outcome of a later event into this one.
    pub fn merge(&mut self, later: FeedOutcome) {
        self.started.extend(later.started);
        self.ended.extend(later.ended);
        self.points += later.points;
        self.rejected = later.rejected.or(self.rejected);
        self.dropped = later.dropped.or(self.dropped);
        self.outliers += later.outliers;
        self.resumed |= later.resumed;
        self.rejected_count += later.rejected_count;
        self.dropped_count += later.dropped_count;
    }
}

/// Reference data the recorder needs to name and classify trips.
pub(crate) struct Context<'a> {
    pub cars: &'a [Car],
    pub places: &'a [Place],
    pub time_zone: &'a str,
}

/// The detector plus where its output goes.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    detector: Detector,
    trip: Option<TripId>,
    next_seq: u32,
    chunked_seq: u32,
    /// False for imports, which must not overwrite the live recorder's row.
    persist: bool,
    /// Plain pings handled since the detector was last saved.
    unsaved: u32,
}

impl Recorder {
    pub(crate) fn new(config: DetectorConfig) -> Self {
        Self {
            detector: Detector::new(config),
            trip: None,
            next_seq: 0,
            chunked_seq: 0,
            persist: true,
            unsaved: 0,
        }
    }

    /// A recorder for a one-off run (an import) that keeps no state.
    pub(crate) fn transient(config: DetectorConfig) -> Self {
        Self {
            persist: false,
            ..Self::new(config)
        }
    }

    /// Resumes the recorder saved in the store, or a fresh one.
    ///
    /// The detector is saved at most every [`SNAPSHOT_EVERY`] plain pings
    /// (see [`Recorder::needs_snapshot`]); the points stored after the
    /// snapshot are replayed into it here, so the resumed detector has seen
    /// every stored point exactly once. A snapshot that can't be read (an
    /// older format) is rebuilt by replaying the open trip from its start.
    pub(crate) fn load(store: &Store, config: DetectorConfig) -> Result<Self> {
        let Some(saved) = store.recorder()? else {
            return Ok(Self::new(config));
        };
        let (mut detector, replay_from) = match serde_json::from_str::<Detector>(&saved.detector) {
            Ok(mut detector) => {
                detector.set_config(config);
                (detector, saved.next_seq)
            }
            Err(e) => {
                tracing::warn!(error = %e, "saved detector state unreadable; rebuilding it from the stored points");
                let mut detector = Detector::new(config);
                if let Some(id) = saved.trip {
                    let trip = store.trip(id)?;
                    detector.handle(
                        DetectorInput::Connect {
                            at: trip.started_at,
                            source: trip.source,
                            car_hint: trip.car_hint,
                        },
                        trip.started_at,
                    );
                }
                (detector, 0)
            }
        };
        let mut next_seq = saved.next_seq;
        if let Some(trip) = saved.trip {
            for point in store.trip_points_from(trip, replay_from)? {
                // Already stored: only the detector's memory needs them.
                let outputs = detector.handle(DetectorInput::Ping(point.ping), point.ping.at);
                if outputs
                    .iter()
                    .any(|o| !matches!(o, DetectorOutput::Point { .. }))
                {
                    tracing::warn!(
                        ?outputs,
                        "replaying a stored point produced more than a point"
                    );
                }
                next_seq = point.seq + 1;
            }
        }
        Ok(Self {
            detector,
            trip: saved.trip,
            next_seq,
            chunked_seq: saved.chunked_seq,
            persist: true,
            unsaved: 0,
        })
    }

    /// The open trip, if any.
    pub(crate) fn open_trip(&self) -> Option<TripId> {
        self.trip
    }

    /// Live distance of the open trip.
    pub(crate) fn open_distance_m(&self) -> Option<f64> {
        self.detector.open_trip_distance_m()
    }

    /// Feeds one event (see [`Recorder::feed_many`]).
    pub(crate) fn feed(
        &mut self,
        w: &mut Writer<'_>,
        ctx: &Context<'_>,
        input: DetectorInput,
        now: DateTime<Utc>,
    ) -> Result<FeedOutcome> {
        self.feed_many(w, ctx, vec![input], now)
    }

    /// Feeds events in order and saves the detector when
    /// [`Recorder::needs_snapshot`] says the stored points alone could not
    /// bring it back. On error the caller reloads the recorder from the store.
    pub(crate) fn feed_many(
        &mut self,
        w: &mut Writer<'_>,
        ctx: &Context<'_>,
        inputs: Vec<DetectorInput>,
        now: DateTime<Utc>,
    ) -> Result<FeedOutcome> {
        let mut outcome = FeedOutcome::default();
        let mut snapshot = false;
        for input in inputs {
            let ping = match &input {
                DetectorInput::Ping(p) => Some(*p),
                _ => None,
            };
            let chunked_before = self.chunked_seq;
            let outputs = self.detector.handle(input, now);
            snapshot |= self.needs_snapshot(ping, &outputs);
            outcome.merge(self.apply(w, ctx, outputs)?);
            snapshot |= self.chunked_seq != chunked_before;
        }
        if snapshot || self.unsaved >= SNAPSHOT_EVERY {
            self.save(w)?;
        }
        Ok(outcome)
    }

    /// Whether the detector must be saved after this event. Only a ping that
    /// was stored at once as a point of the open trip, with nothing held back
    /// or dropped, can be skipped: replaying the stored points from the last
    /// snapshot then reproduces the detector exactly.
    fn needs_snapshot(&mut self, ping: Option<Ping>, outputs: &[DetectorOutput]) -> bool {
        let replayable = self.trip.is_some()
            && !self.detector.is_in_grace()
            && matches!((ping, outputs), (Some(input), [DetectorOutput::Point { ping, .. }]) if *ping == input);
        if replayable {
            self.unsaved += 1;
            false
        } else {
            true
        }
    }

    /// Ends the open trip at `at` without a grace period.
    pub(crate) fn force_end(
        &mut self,
        w: &mut Writer<'_>,
        ctx: &Context<'_>,
        at: DateTime<Utc>,
    ) -> Result<FeedOutcome> {
        let outputs = self.detector.force_end(at);
        let outcome = self.apply(w, ctx, outputs)?;
        self.save(w)?;
        Ok(outcome)
    }

    fn save(&mut self, w: &mut Writer<'_>) -> Result<()> {
        if !self.persist {
            return Ok(());
        }
        self.unsaved = 0;
        w.save_recorder(&RecorderState {
            trip: self.trip,
            next_seq: self.next_seq,
            chunked_seq: self.chunked_seq,
            detector: serde_json::to_string(&self.detector).map_err(|e| {
                crate::CoreError::Storage {
                    reason: format!("can't save detector state: {e}"),
                }
            })?,
        })?;
        Ok(())
    }

    fn apply(
        &mut self,
        w: &mut Writer<'_>,
        ctx: &Context<'_>,
        outputs: Vec<DetectorOutput>,
    ) -> Result<FeedOutcome> {
        let mut out = FeedOutcome::default();
        for output in outputs {
            match output {
                DetectorOutput::TripStarted {
                    at,
                    source,
                    car_hint,
                } => {
                    let id = self.start_trip(w, ctx, at, source, car_hint)?;
                    out.started.push(id);
                }
                DetectorOutput::TripResumed { .. } => out.resumed = true,
                DetectorOutput::Point { ping, kind } => {
                    let Some(trip) = self.trip else { continue };
                    let point = TripPoint {
                        seq: self.next_seq,
                        ping,
                        counted: kind == PointKind::Counted,
                    };
                    w.insert_point(trip, &point)?;
                    self.next_seq += 1;
                    out.points += 1;
                    if self.next_seq - self.chunked_seq >= POINT_CHUNK {
                        self.flush_chunk(w, trip)?;
                    }
                }
                DetectorOutput::PingRejected { reason, .. } => {
                    out.rejected = Some(reason);
                    out.rejected_count += 1;
                }
                DetectorOutput::PingDropped { reason, .. } => {
                    out.dropped = Some(reason);
                    out.dropped_count += 1;
                }
                DetectorOutput::OutlierDropped { .. } => out.outliers += 1,
                DetectorOutput::TripEnded { summary } => {
                    if let Some(id) = self.finish_trip(w, ctx, &summary)? {
                        out.ended.push(id);
                    }
                }
            }
        }
        Ok(out)
    }

    fn start_trip(
        &mut self,
        w: &mut Writer<'_>,
        ctx: &Context<'_>,
        at: DateTime<Utc>,
        source: TripSource,
        car_hint: Option<String>,
    ) -> Result<TripId> {
        let car_id = car_for_trip(ctx.cars, car_hint.as_deref(), at);
        let trip = Trip {
            id: TripId::new(),
            car_id,
            state: TripState::Active,
            source,
            car_hint,
            started_at: at,
            ended_at: None,
            time_zone: ctx.time_zone.to_owned(),
            start: None,
            end: None,
            start_address: None,
            end_address: None,
            start_place: None,
            end_place: None,
            distance_m: 0.0,
            point_count: 0,
            purpose: None,
            purpose_by: None,
            business_partner: None,
            note: None,
            recovered: false,
        };
        w.insert_trip(&trip)?;
        self.trip = Some(trip.id);
        self.next_seq = 0;
        self.chunked_seq = 0;
        Ok(trip.id)
    }

    fn flush_chunk(&mut self, w: &mut Writer<'_>, trip: TripId) -> Result<()> {
        if self.next_seq > self.chunked_seq {
            w.record_point_chunk(trip, self.chunked_seq, self.next_seq - 1)?;
            self.chunked_seq = self.next_seq;
        }
        Ok(())
    }

    fn finish_trip(
        &mut self,
        w: &mut Writer<'_>,
        ctx: &Context<'_>,
        summary: &TripSummary,
    ) -> Result<Option<TripId>> {
        let Some(id) = self.trip.take() else {
            return Ok(None);
        };
        self.flush_chunk(w, id)?;
        let mut trip = w.trip(id)?;
        finish_trip(&mut trip, summary, ctx.places);
        w.finish_trip(&trip)?;
        self.next_seq = 0;
        self.chunked_seq = 0;
        Ok(Some(id))
    }
}
