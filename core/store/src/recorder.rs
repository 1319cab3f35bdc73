//! Persistence of the trip recorder: which trip is open, the next point
//! sequence, how far points were packed into sync chunks, and the detector's
//! serialised state. One row, rewritten in the same transaction as each ping
//! so a crash never splits a point from the state that accounted for it.

use rusqlite::{OptionalExtension, params};
use tacho_model::id::TripId;

use crate::row::parse;
use crate::{Result, Store, Writer};

/// The recorder's durable state.
#[derive(Debug, Clone, PartialEq)]
pub struct RecorderState {
    /// The trip points are currently appended to.
    pub trip: Option<TripId>,
    /// Sequence number of the next point of that trip.
    pub next_seq: u32,
    /// Points below this sequence have been packed into sync chunks.
    pub chunked_seq: u32,
    /// The detector, as JSON (owned by the engine; opaque here).
    pub detector: String,
}

impl Writer<'_> {
    /// Saves the recorder state.
    pub fn save_recorder(&mut self, state: &RecorderState) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO recorder (id, trip_id, next_seq, chunked_seq, detector) VALUES (1, ?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET trip_id = excluded.trip_id, next_seq = excluded.next_seq,
                 chunked_seq = excluded.chunked_seq, detector = excluded.detector",
            )?
            .execute(params![
                state.trip.map(|t| t.to_string()),
                state.next_seq,
                state.chunked_seq,
                state.detector
            ])?;
        Ok(())
    }
}

impl Store {
    /// Loads the recorder state saved last, if any.
    pub fn recorder(&self) -> Result<Option<RecorderState>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT trip_id, next_seq, chunked_seq, detector FROM recorder WHERE id = 1",
                [],
                |r| {
                    Ok(RecorderState {
                        trip: r
                            .get::<_, Option<String>>(0)?
                            .as_deref()
                            .map(parse)
                            .transpose()?,
                        next_seq: r.get(1)?,
                        chunked_seq: r.get(2)?,
                        detector: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }
}
