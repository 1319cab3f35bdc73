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
    /// Retired (sold, returned): kept for its trips and mileage logs, hidden from default
    /// lists, and no new trip is recorded in it. Absent in ops of older builds (= in use).
    #[serde(default)]
    pub retired: bool,
}

impl Car {
    /// Whether the car was available on `day`.
    pub fn available_on(&self, day: NaiveDate) -> bool {
        self.available_from.is_none_or(|from| day >= from)
            && self.available_to.is_none_or(|to| day <= to)
    }
}

/// The car a person, an app or a Shortcut names with `key`: its id, else its connect hint,
/// else its name, else its plate; names and hints ignore case, plates also ignore spaces and
/// dashes ("AB-12-CD" = "ab 12 cd"). One rule for the phone, the watch, the CLI and the relay's
/// hooks, so a key that works in one works in all. Callers pass the cars not deleted.
pub fn find_by_key<'a>(cars: &'a [Car], key: &str) -> Option<&'a Car> {
    let key = key.trim();
    if key.is_empty() {
        return None;
    }
    if let Ok(id) = key.parse::<CarId>() {
        return cars.iter().find(|c| c.id == id);
    }
    let plate = plate_key(key);
    cars.iter()
        .find(|c| {
            c.connect_hint
                .as_deref()
                .is_some_and(|h| h.trim().eq_ignore_ascii_case(key))
        })
        .or_else(|| {
            cars.iter()
                .find(|c| c.name.trim().eq_ignore_ascii_case(key))
        })
        .or_else(|| {
            cars.iter()
                .find(|c| !plate.is_empty() && plate_key(&c.plate) == plate)
        })
}

/// A plate as compared: letters and digits only, lower case.
fn plate_key(plate: &str) -> String {
    plate
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The car a trip was driven in: the one `hint` names ([`find_by_key`]), else the only car
/// available that day, else unknown.
pub fn car_for_trip(cars: &[Car], hint: Option<&str>, at: DateTime<Utc>) -> Option<CarId> {
    if let Some(car) = hint.and_then(|h| find_by_key(cars, h)) {
        return Some(car.id);
    }
    let day = at.date_naive();
    let mut available = cars.iter().filter(|c| c.available_on(day));
    match (available.next(), available.next()) {
        (Some(only), None) => Some(only.id),
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn car(n: u128, name: &str, plate: &str, hint: Option<&str>) -> Car {
        Car {
            id: CarId(Uuid::from_u128(n)),
            name: name.into(),
            make: None,
            model: None,
            plate: plate.into(),
            available_from: None,
            available_to: None,
            connect_hint: hint.map(Into::into),
            retired: false,
        }
    }

    #[test]
    fn a_car_is_found_by_id_hint_name_or_plate() {
        let cars = [
            car(1, "Golf", "AB-12-CD", Some("VW BT")),
            car(2, "Lease car", "XY 99 Z", None),
        ];
        let found = |k: &str| find_by_key(&cars, k).map(|c| c.id.0.as_u128());
        assert_eq!(found(&cars[1].id.to_string()), Some(2));
        assert_eq!(found("vw bt"), Some(1));
        assert_eq!(found(" lease CAR "), Some(2));
        assert_eq!(found("ab12cd"), Some(1));
        assert_eq!(found("xy-99-z"), Some(2));
        assert_eq!(found("Polo"), None);
        assert_eq!(found("  "), None);
        assert_eq!(found("--"), None);
        assert_eq!(found(&Uuid::from_u128(3).to_string()), None);
    }

    #[test]
    fn a_connect_hint_wins_over_another_cars_name() {
        let cars = [
            car(1, "Kia", "K-1", None),
            car(2, "Golf", "G-1", Some("Kia")),
        ];
        assert_eq!(find_by_key(&cars, "kia").map(|c| c.id.0.as_u128()), Some(2));
    }

    #[test]
    fn a_trip_without_a_matching_hint_takes_the_only_available_car() {
        let at = DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut old = car(1, "Old", "O-1", None);
        old.available_to = NaiveDate::from_ymd_opt(2026, 2, 28);
        let new = car(2, "New", "N-1", None);
        let cars = [old, new];
        assert_eq!(car_for_trip(&cars, Some("o1"), at), Some(cars[0].id));
        assert_eq!(car_for_trip(&cars, Some("unknown"), at), Some(cars[1].id));
        assert_eq!(car_for_trip(&cars, None, at), Some(cars[1].id));
        let both = [car(1, "A", "A", None), car(2, "B", "B", None)];
        assert_eq!(car_for_trip(&both, None, at), None);
    }
}
