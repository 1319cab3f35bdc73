//! Wire formats that clients and the relay must read and write identically: the trip-point
//! array carried by `trip_points` append ops, and the decoder of a pushed op that keeps the
//! text as sent. One home each, so a phone, a Shortcut hook and the relay cannot drift apart.

mod incoming;
mod point;

pub use incoming::IncomingOp;
pub use point::{PointShapeError, TRIP_POINT_ARITY, TripPoint, check_point};
