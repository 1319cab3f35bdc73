//! Importing GPS track files (GPX, NMEA, GeoJSON, CSV) as trips, through the
//! same detector as live recording, in one transaction: a file either
//! imports completely or not at all.

use std::path::Path;

use serde::Serialize;
use tacho_model::detector::DetectorInput;
use tacho_model::id::TripId;
use tacho_model::import::{self, TrackFormat};
use tacho_model::trip::TripSource;
use tacho_store::TripFilter;

use crate::recording::{Context, Recorder};
use crate::{Core, CoreError, CoreEvent, Result};

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Force a format instead of detecting it from the name and content.
    pub format: Option<TrackFormat>,
    /// The car driven (id, name or plate).
    pub car: Option<String>,
    /// Import even when the track overlaps trips already stored.
    pub allow_overlap: bool,
}

/// Progress of a long import, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportProgress {
    /// Points processed.
    pub done: usize,
    /// Points in the file.
    pub total: usize,
}

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportSummary {
    /// The format read.
    pub format: TrackFormat,
    /// Trips created, in time order.
    pub trips: Vec<TripId>,
    /// Points in the file.
    pub points_in_file: usize,
    /// Track segments skipped because the same trips were imported before.
    pub segments_already_imported: usize,
    /// Points stored.
    pub points_stored: usize,
    /// Duplicate or out-of-order points ignored.
    pub points_ignored: usize,
    /// Wild outliers dropped.
    pub outliers: usize,
    /// What the parser skipped rather than refused, naming the line (an NMEA log's last
    /// line cut short), for the user to read.
    pub warnings: Vec<String>,
}

/// How often progress is reported, in points.
const PROGRESS_EVERY: usize = 500;

impl Core {
    /// Imports a track file; see [`Core::import_str`].
    pub async fn import_file(
        &self,
        path: &Path,
        options: ImportOptions,
        progress: impl FnMut(ImportProgress) + Send,
    ) -> Result<ImportSummary> {
        let bytes = crate::db::blocking(|| std::fs::read(path))
            .map_err(|e| CoreError::bad_input(format!("can't read {}: {e}", path.display())))?;
        let extension = path.extension().and_then(|e| e.to_str());
        let content = match import::text::utf8(&bytes) {
            Ok(text) => text,
            Err(e) => {
                // Say where the file stops being text, in the format it looks like.
                let head = import::text::valid_prefix(&bytes);
                return Err(
                    match options
                        .format
                        .or_else(|| TrackFormat::detect(extension, head))
                    {
                        Some(format) => import::not_utf8(format, e).into(),
                        None => CoreError::bad_input(format!(
                            "line {}, byte offset {}: {e}",
                            e.line, e.offset
                        )),
                    },
                );
            }
        };
        self.import_str(extension, content, options, progress).await
    }

    /// Imports a track held in memory. `extension` helps detect the format.
    /// Each track segment becomes a connect/pings/end sequence through the
    /// detector, so imports follow the live recording rules (filtering,
    /// grace periods, classification).
    pub async fn import_str(
        &self,
        extension: Option<&str>,
        content: &str,
        options: ImportOptions,
        mut progress: impl FnMut(ImportProgress) + Send,
    ) -> Result<ImportSummary> {
        let format = match options.format {
            Some(f) => f,
            None => TrackFormat::detect(extension, content).ok_or_else(|| {
                CoreError::bad_input(
                    "can't tell the file's format; pass it explicitly (gpx, nmea, geojson, csv)",
                )
            })?,
        };
        let track = import::parse(format, content)?;
        let warnings: Vec<String> = track.warnings.iter().map(ToString::to_string).collect();
        let total = track.point_count();
        if total == 0 {
            return Err(CoreError::bad_input("the file has no GPS points"));
        }
        let now = self.now();
        let summary = self.with_store_long(|inner| {
            let car = options
                .car
                .as_deref()
                .map(|c| inner.store.find_car(c))
                .transpose()?;
            if let Some(c) = car.as_ref().filter(|c| c.retired) {
                return Err(CoreError::Conflict {
                    reason: format!(
                        "car `{}` is retired; take it back into use (`tacho car retire {} --undo`) to record trips in it",
                        c.name, c.name
                    ),
                });
            }
            let mut track = track;
            let already = if options.allow_overlap {
                0
            } else {
                skip_imported(&inner.store, &mut track)?
            };
            let config = inner.config.detector;
            let time_zone = inner.config.time_zone.clone();
            let cars = match &car {
                Some(c) => vec![c.clone()],
                None => inner.cars.clone(),
            };
            let places = inner.places.clone();
            let ctx = Context {
                cars: &cars,
                places: &places,
                time_zone: &time_zone,
            };
            let car_hint = car.as_ref().map(|c| c.name.clone());
            let summary = inner.store.write(|w| {
                let mut recorder = Recorder::transient(config);
                let mut summary = ImportSummary {
                    format,
                    trips: Vec::new(),
                    points_in_file: total,
                    segments_already_imported: already,
                    points_stored: 0,
                    points_ignored: 0,
                    outliers: 0,
                    warnings: warnings.clone(),
                };
                let mut done = 0;
                progress(ImportProgress { done, total });
                for segment in track.segments.iter().filter(|s| !s.is_empty()) {
                    let (Some(first), Some(last)) = (segment.first(), segment.last()) else {
                        continue;
                    };
                    let mut events = vec![recorder.feed(
                        w,
                        &ctx,
                        DetectorInput::Connect {
                            at: first.at,
                            source: TripSource::Import,
                            car_hint: car_hint.clone(),
                        },
                        now,
                    )?];
                    for ping in segment {
                        let outcome = recorder.feed(w, &ctx, DetectorInput::Ping(*ping), now)?;
                        if let Some(reason) = outcome.rejected {
                            return Err(CoreError::bad_input(format!(
                                "point {} of the file ({}, {:.6}, {:.6}) is invalid: {reason}; nothing was imported",
                                done + 1,
                                ping.at.to_rfc3339(),
                                ping.lat,
                                ping.lon
                            )));
                        }
                        events.push(outcome);
                        done += 1;
                        if done % PROGRESS_EVERY == 0 {
                            progress(ImportProgress { done, total });
                        }
                    }
                    events.push(recorder.force_end(w, &ctx, last.at)?);
                    for e in events {
                        summary.trips.extend(e.ended);
                        summary.points_stored += e.points as usize;
                        summary.points_ignored += usize::from(e.dropped.is_some());
                        summary.outliers += e.outliers as usize;
                    }
                }
                progress(ImportProgress { done: total, total });
                Ok::<_, CoreError>(summary)
            })?;
            Ok(summary)
        })?;
        for trip in &summary.trips {
            self.emit(CoreEvent::TripEnded { trip: *trip });
        }
        Ok(summary)
    }
}

/// Drops segments imported before (an imported trip starting at the
/// segment's first fix) so importing a file twice changes nothing, and
/// refuses a segment that overlaps any other stored trip.
fn skip_imported(store: &tacho_store::Store, track: &mut import::Track) -> Result<usize> {
    let mut skipped = 0;
    let mut kept = Vec::with_capacity(track.segments.len());
    for segment in std::mem::take(&mut track.segments) {
        let times = segment.iter().map(|p| p.at);
        let (Some(first), Some(last)) = (times.clone().min(), times.max()) else {
            continue;
        };
        let nearby = store.trips(&TripFilter {
            from: Some(first - chrono::Duration::days(2)),
            until: Some(last + chrono::Duration::seconds(1)),
            ..Default::default()
        })?;
        let overlapping: Vec<_> = nearby
            .iter()
            .filter(|t| t.started_at <= last && t.ended_at.unwrap_or(t.started_at) >= first)
            .collect();
        if overlapping
            .iter()
            .any(|t| t.source == TripSource::Import && t.started_at == first)
        {
            skipped += 1;
            continue;
        }
        if let Some(clash) = overlapping.first() {
            return Err(CoreError::Conflict {
                reason: format!(
                    "the track ({first} to {last}) overlaps trip {} that is already stored; \
                     pass --allow-overlap to import anyway",
                    clash.id
                ),
            });
        }
        kept.push(segment);
    }
    track.segments = kept;
    Ok(skipped)
}
