//! Known places.

use rusqlite::Row;
use tacho_model::gps::LatLon;
use tacho_model::op::EntityKind;
use tacho_model::place::Place;

use crate::row::{enum_from, parse};
use crate::tables::{Put, put_place};
use crate::{Result, Store, StoreError, Writer};

pub(crate) fn place_from_row(r: &Row<'_>) -> rusqlite::Result<Place> {
    Ok(Place {
        id: parse(&r.get::<_, String>(0)?)?,
        name: r.get(1)?,
        kind: enum_from(&r.get::<_, String>(2)?)?,
        center: LatLon {
            lat: r.get(3)?,
            lon: r.get(4)?,
        },
        radius_m: r.get(5)?,
        address: r.get(6)?,
    })
}

impl Writer<'_> {
    /// Adds a place after checking its coordinates and radius.
    pub fn add_place(&mut self, place: &Place) -> Result<()> {
        check_place(place)?;
        put_place(self.conn(), place, false, Put::New)?;
        self.record_upsert(EntityKind::Place, place.id.0, place)
    }
}

/// A place's name, coordinates and radius, checked before anything is written.
pub(crate) fn check_place(place: &Place) -> Result<()> {
    let LatLon { lat, lon } = place.center;
    if place.name.trim().is_empty() {
        return Err(StoreError::invalid("a place needs a name"));
    }
    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
        return Err(StoreError::invalid(format!(
            "latitude {lat} is outside -90..90"
        )));
    }
    if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
        return Err(StoreError::invalid(format!(
            "longitude {lon} is outside -180..180"
        )));
    }
    if !(place.radius_m.is_finite() && (10.0..=50_000.0).contains(&place.radius_m)) {
        return Err(StoreError::invalid(format!(
            "radius {} m is outside 10..50000 m",
            place.radius_m
        )));
    }
    Ok(())
}

impl Store {
    /// All places, by name.
    pub fn places(&self) -> Result<Vec<Place>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, name, kind, lat, lon, radius_m, address FROM place WHERE deleted = 0 ORDER BY name, id",
        )?;
        Ok(stmt
            .query_map([], place_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }
}
