//! Reference data: cars with their odometer readings, and known places.

use crate::api::error::ApiError;
use crate::api::session::TachoCore;
use crate::api::types::{
    CarChangeInput, CarInfo, NewCarInput, NewPlaceInput, OdometerReadingInfo, PlaceChangeInput,
    PlaceInfo,
};
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

    /// Cars by name; retired ones only with `include_retired`.
    pub async fn car_list(&self, include_retired: bool) -> Result<Vec<CarInfo>, ApiError> {
        Ok(self
            .core
            .car_list(include_retired)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Changes a car (id, name or plate).
    pub async fn edit_car(&self, key: String, change: CarChangeInput) -> Result<CarInfo, ApiError> {
        let change = mapping::car_change(change)?;
        Ok(self.core.edit_car(&key, change).await?.into())
    }

    /// Retires a car (`retired = false` takes it back into use).
    pub async fn retire_car(&self, key: String, retired: bool) -> Result<CarInfo, ApiError> {
        Ok(self.core.retire_car(&key, retired).await?.into())
    }

    /// Deletes a car no trip uses (an `InUse` error otherwise: retire it);
    /// false when it already was.
    pub async fn delete_car(&self, key: String) -> Result<bool, ApiError> {
        Ok(self.core.delete_car(&key).await?)
    }

    /// Brings a deleted car back.
    pub async fn restore_car(&self, key: String) -> Result<CarInfo, ApiError> {
        Ok(self.core.restore_car(&key).await?.into())
    }

    /// Places by name; deleted ones only with `include_deleted`.
    pub async fn place_list(&self, include_deleted: bool) -> Result<Vec<PlaceInfo>, ApiError> {
        Ok(self
            .core
            .place_list(include_deleted)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Changes a place (id or name).
    pub async fn edit_place(
        &self,
        key: String,
        change: PlaceChangeInput,
    ) -> Result<PlaceInfo, ApiError> {
        let change = mapping::place_change(change)?;
        Ok(self.core.edit_place(&key, change).await?.into())
    }

    /// Deletes a place; false when it already was.
    pub async fn delete_place(&self, key: String) -> Result<bool, ApiError> {
        Ok(self.core.delete_place(&key).await?)
    }

    /// Brings a deleted place back.
    pub async fn restore_place(&self, key: String) -> Result<PlaceInfo, ApiError> {
        Ok(self.core.restore_place(&key).await?.into())
    }
}
