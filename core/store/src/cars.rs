//! Cars and odometer readings.

use rusqlite::{OptionalExtension, Row, params};
use tacho_model::car::{Car, OdometerReading, ReadingSource, TripEnd, find_by_key};
use tacho_model::id::{CarId, TripId};
use tacho_model::op::EntityKind;

use crate::row::{enum_from, enum_str, from_ms, parse, parse_date};
use crate::tables::{Put, put_car, put_reading};
use crate::{Result, Store, StoreError, Writer};

pub(crate) const CAR_COLUMNS: &str =
    "id, name, make, model, plate, available_from, available_to, connect_hint, retired";

pub(crate) fn car_from_row(r: &Row<'_>) -> rusqlite::Result<Car> {
    Ok(Car {
        id: parse(&r.get::<_, String>(0)?)?,
        name: r.get(1)?,
        make: r.get(2)?,
        model: r.get(3)?,
        plate: r.get(4)?,
        available_from: parse_date(r.get(5)?)?,
        available_to: parse_date(r.get(6)?)?,
        connect_hint: r.get(7)?,
        retired: r.get(8)?,
    })
}

fn reading_from_row(r: &Row<'_>) -> rusqlite::Result<OdometerReading> {
    let trip_id: Option<String> = r.get(5)?;
    let trip_end: Option<String> = r.get(6)?;
    let trip = match (trip_id, trip_end) {
        (Some(t), Some(e)) => Some((parse::<TripId>(&t)?, enum_from::<TripEnd>(&e)?)),
        _ => None,
    };
    Ok(OdometerReading {
        id: parse(&r.get::<_, String>(0)?)?,
        car_id: parse(&r.get::<_, String>(1)?)?,
        at: from_ms(r.get(2)?)?,
        odometer_m: r.get(3)?,
        source: enum_from::<ReadingSource>(&r.get::<_, String>(4)?)?,
        trip,
    })
}

impl Writer<'_> {
    /// Adds a car. Name and plate are required; names and plates are unique
    /// so the CLI can refer to a car by either.
    pub fn add_car(&mut self, car: &Car) -> Result<()> {
        if car.name.trim().is_empty() || car.plate.trim().is_empty() {
            return Err(StoreError::invalid("a car needs a name and a plate"));
        }
        if let (Some(from), Some(to)) = (car.available_from, car.available_to)
            && to < from
        {
            return Err(StoreError::invalid(format!(
                "car availability ends ({to}) before it starts ({from})"
            )));
        }
        let clash: Option<String> = self
            .conn()
            .query_row(
                "SELECT name FROM car WHERE deleted = 0 AND (lower(name) = lower(?1) OR lower(plate) = lower(?2))",
                params![car.name, car.plate],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(existing) = clash {
            return Err(StoreError::Conflict {
                message: format!("a car with that name or plate already exists ({existing})"),
            });
        }
        put_car(self.conn(), car, false, Put::New)?;
        self.record_upsert(EntityKind::Car, car.id.0, car)
    }

    /// Stores an odometer reading (replacing an earlier reading attached to the
    /// same trip end, if any).
    pub fn add_reading(&mut self, reading: &OdometerReading) -> Result<()> {
        if reading.odometer_m < 0 {
            return Err(StoreError::invalid("an odometer reading can't be negative"));
        }
        put_reading(self.conn(), reading, Put::New)?;
        self.record_upsert(EntityKind::OdometerReading, reading.id.0, reading)
    }
}

impl Store {
    /// All cars, by name.
    pub fn cars(&self) -> Result<Vec<Car>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {CAR_COLUMNS} FROM car WHERE deleted = 0 ORDER BY name, id"
        ))?;
        Ok(stmt
            .query_map([], car_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// One car by id.
    pub fn car(&self, id: CarId) -> Result<Car> {
        self.conn()
            .prepare_cached(&format!("SELECT {CAR_COLUMNS} FROM car WHERE id = ?1"))?
            .query_row([id.to_string()], car_from_row)
            .optional()?
            .ok_or_else(|| StoreError::not_found("car", id))
    }

    /// A car as people, apps and hooks name it: by id (also a deleted one), else by
    /// `tacho_model::car::find_by_key` over the cars not deleted.
    pub fn find_car(&self, key: &str) -> Result<Car> {
        if let Ok(id) = key.trim().parse::<CarId>() {
            return self.car(id);
        }
        let cars = self.cars()?;
        find_by_key(&cars, key)
            .cloned()
            .ok_or_else(|| StoreError::not_found("car", key))
    }

    /// A car's odometer readings, oldest first.
    pub fn readings(&self, car: CarId) -> Result<Vec<OdometerReading>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, car_id, at, odometer_m, source, trip_id, trip_end
             FROM odometer_reading WHERE car_id = ?1 ORDER BY at, odometer_m, id",
        )?;
        Ok(stmt
            .query_map([car.to_string()], reading_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The reading attached to one end of a trip.
    pub fn trip_reading(&self, trip: TripId, end: TripEnd) -> Result<Option<OdometerReading>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT id, car_id, at, odometer_m, source, trip_id, trip_end
                 FROM odometer_reading WHERE trip_id = ?1 AND trip_end = ?2",
            )?
            .query_row(params![trip.to_string(), enum_str(&end)?], reading_from_row)
            .optional()?)
    }
}
