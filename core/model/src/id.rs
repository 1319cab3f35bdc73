//! Typed identifiers. Every synced entity is keyed by a UUIDv7 so ids made
//! offline on different devices never collide and still sort by creation time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a string could not be read as an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid {kind} id (expected a UUID)")]
pub struct ParseIdError {
    /// Which kind of id was expected, e.g. "trip".
    pub kind: &'static str,
    /// The rejected input, truncated to 64 characters.
    pub input: String,
}

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| ParseIdError {
                    kind: $kind,
                    input: s.chars().take(64).collect(),
                })
            }
        }
    };
}

typed_id!(
    /// Identifies a [`crate::trip::Trip`].
    TripId,
    "trip"
);
typed_id!(
    /// Identifies a [`crate::car::Car`].
    CarId,
    "car"
);
typed_id!(
    /// Identifies a [`crate::place::Place`].
    PlaceId,
    "place"
);
typed_id!(
    /// Identifies a [`crate::work::Project`].
    ProjectId,
    "project"
);
typed_id!(
    /// Identifies a [`crate::work::TimeEntry`].
    EntryId,
    "time entry"
);
typed_id!(
    /// Identifies a [`crate::car::OdometerReading`].
    ReadingId,
    "odometer reading"
);
typed_id!(
    /// Identifies one installation of Tacho (a phone, a watch, a CLI database).
    DeviceId,
    "device"
);
typed_id!(
    /// Identifies one [`crate::op::Op`]; the dedupe key of the sync log.
    OpId,
    "op"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_strings_and_sort_by_creation() {
        let a = TripId::new();
        let b = TripId::new();
        assert!(a < b, "v7 ids are time ordered");
        let parsed: TripId = a.to_string().parse().unwrap();
        assert_eq!(parsed, a);
    }

    #[test]
    fn bad_ids_name_their_kind() {
        let err = "nope".parse::<CarId>().unwrap_err();
        assert_eq!(err.kind, "car");
        assert!(err.to_string().contains("nope"));
    }
}
