//! Reference data: cars with their odometer readings, and known places.

use crate::api::error::ApiError;
use crate::api::session::TachoCore;
use crate::api::types::{CarInfo, NewCarInput, NewPlaceInput, OdometerReadingInfo, PlaceInfo};
use crate::mapping;

impl TachoCore {
    /// All cars.
    pub async fn cars(&self) -> Result<Vec<CarInfo>, ApiError> {
        Ok(self
            .core
            .cars()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Adds a car; dates are `YYYY-MM-DD`.
    pub async fn add_car(&self, car: NewCarInput) -> Result<CarInfo, ApiError> {
        Ok(self.core.add_car(mapping::new_car(car)?).await?.into())
    }

    /// A car by id, name or plate.
    pub async fn find_car(&self, key: String) -> Result<CarInfo, ApiError> {
        Ok(self.core.find_car(&key).await?.into())
    }

    /// The odometer readings attached to a car's trips, oldest first, for
    /// the car screen. The core has no call listing a car's readings yet, so
    /// this collects them from the trips' details (one lookup per trip;
    /// `limit` caps how many recent trips are read). Readings not attached
    /// to a trip are not shown.
    pub async fn car_readings(
        &self,
        car: String,
        limit: u32,
    ) -> Result<Vec<OdometerReadingInfo>, ApiError> {
        let car = self.core.find_car(&car).await?;
        let trips = self
            .core
            .trips(tacho_core::TripFilter {
                car: Some(car.id),
                limit: Some(limit as usize),
                ..Default::default()
            })
            .await?;
        let mut readings = Vec::new();
        for trip in trips {
            let detail = self.core.trip(&trip.id.to_string()).await?;
            readings.extend(detail.odometer_start);
            readings.extend(detail.odometer_end);
        }
        readings.sort_by_key(|r| r.at);
        Ok(readings.into_iter().map(Into::into).collect())
    }

    /// All known places, for the places screen and map markers.
    pub async fn places(&self) -> Result<Vec<PlaceInfo>, ApiError> {
        Ok(self
            .core
            .places()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Adds a place; later trips starting or ending in it are classified by it.
    pub async fn add_place(&self, place: NewPlaceInput) -> Result<PlaceInfo, ApiError> {
        Ok(self
            .core
            .add_place(mapping::new_place(place)?)
            .await?
            .into())
    }
}
