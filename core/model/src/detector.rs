//! The trip detector: a pure state machine from connect/ping/disconnect/tick
//! events to trip boundaries and classified points.
