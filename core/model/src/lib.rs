//! Tacho's sans-I/O domain model, shared by every client and the relay:
//! typed ids, the hybrid logical clock, the op format, the entities, the
//! trip detector state machine, GPS maths, track importers and report maths.
//!
//! Nothing here touches a file, a socket or the system clock: callers pass
//! `now` in, which keeps every rule deterministic and testable.

pub mod api;
pub mod car;
pub mod clock;
pub mod connector;
pub mod detector;
pub mod finish;
pub mod gps;
pub mod hlc;
pub mod id;
pub mod import;
pub mod lineage;
pub mod lock;
pub mod merge;
pub mod op;
pub mod place;
pub mod report;
pub mod schema;
pub mod trip;
pub mod wire;
pub mod work;
