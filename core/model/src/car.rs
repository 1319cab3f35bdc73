//! Cars and their odometer readings.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{CarId, ReadingId, TripId};

/// A car the person drives; the mileage log is kept per car.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Car {
    /// Identity.
    pub id: CarId,
    /// Short name people use ("Golf", "lease car").
    pub name: String,
    /// Manufacturer, as on the registration.
    pub make: Option<String>,
    /// Model / type, as on the registration.
    pub model: Option<String>,
    /// Licence plate.
    pub plate: String,
    /// First day the car is available to the person.
    pub available_from: Option<NaiveDate>,
    /// Last day the car is available to the person.
    pub available_to: Option<NaiveDate>,
    /// Bluetooth / CarPlay name that identifies this car in connect events.
    pub connect_hint: Option<String>,
}

impl Car {
    /// Whether the car was available on `day`.
    pub fn available_on(&self, day: NaiveDate) -> bool {
        self.available_from.is_none_or(|from| day >= from)
            && self.available_to.is_none_or(|to| day <= to)
    }
}

/// Where an odometer reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadingSource {
    /// Typed in by the person.
    Manual,
    /// Read from the car manufacturer's API.
    CarApi,
}

/// Which end of a trip a reading belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripEnd {
    /// Reading taken when the trip started.
    Start,
    /// Reading taken when the trip ended.
    End,
}

/// An odometer value, in whole metres so sums never drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OdometerReading {
    /// Identity.
    pub id: ReadingId,
    /// The car read.
    pub car_id: CarId,
    /// When it was read.
    pub at: DateTime<Utc>,
    /// Odometer value in metres.
    pub odometer_m: i64,
    /// Where it came from.
    pub source: ReadingSource,
    /// The trip end it is attached to, if any.
    pub trip: Option<(TripId, TripEnd)>,
}
