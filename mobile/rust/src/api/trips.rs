//! Trips: recording (connect, pings, disconnect), the list and the detail
//! screen with its edits.

use crate::api::error::ApiError;
use crate::api::session::TachoCore;
use crate::api::types::{
    ActiveTrip, FeedResult, PingInput, Purpose, RestoredTripInfo, SplitMode, SplitTripInfo,
    TripDetail, TripEnd, TripField, TripInfo, TripPointInfo, TripQuery, TripSource, TripStatusInfo,
};
use crate::mapping;

impl TachoCore {
    /// A connect event: CarPlay or the car's Bluetooth connected (from an
    /// App Intent or the Android receiver), or the person pressed start.
    /// `car_hint` is the Bluetooth/CarPlay name that picks the car. Within
    /// the grace period after a disconnect it continues the same trip.
    pub async fn connect(
        &self,
        source: TripSource,
        car_hint: Option<String>,
    ) -> Result<FeedResult, ApiError> {
        Ok(self.core.connect(source.into(), car_hint).await?.into())
    }

    /// A disconnect event: the trip ends once the grace period passes
    /// without a reconnect (a fuel stop keeps one trip).
    pub async fn disconnect(&self) -> Result<FeedResult, ApiError> {
        Ok(self.core.disconnect().await?.into())
    }

    /// Ends the open trip now, without a grace period ("End trip").
    pub async fn end_trip(&self) -> Result<FeedResult, ApiError> {
        Ok(self.core.end_trip().await?.into())
    }

    /// Lets time pass: ends a trip whose grace period ran out. Call it when
    /// the app wakes up.
    pub async fn tick(&self) -> Result<FeedResult, ApiError> {
        Ok(self.core.tick().await?.into())
    }

    /// One GPS fix. A refused fix is an error naming why.
    pub async fn ping(&self, ping: PingInput) -> Result<FeedResult, ApiError> {
        Ok(self.core.ping(mapping::ping(ping)?).await?.into())
    }

    /// Fixes delivered together by the background location service, in one
    /// transaction. Refused fixes are counted, not fatal; a fix with an
    /// impossible time refuses the whole batch before anything is stored.
    pub async fn ping_batch(&self, pings: Vec<PingInput>) -> Result<FeedResult, ApiError> {
        let pings = pings
            .into_iter()
            .map(mapping::ping)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.core.ping_batch(pings).await?.into())
    }

    /// The trip being recorded with its live distance and duration, for the
    /// Today screen and the Live Activity.
    pub async fn active_trip(&self) -> Result<Option<ActiveTrip>, ApiError> {
        let now = self.core.now();
        Ok(self
            .core
            .active_trip()
            .await?
            .map(|(trip, distance)| mapping::active_trip(trip, distance, now)))
    }

    /// Trips matching `query`, for the trip list.
    pub async fn trips(&self, query: TripQuery) -> Result<Vec<TripInfo>, ApiError> {
        let car = match query.car.as_deref() {
            Some(key) => Some(self.core.find_car(key).await?.id),
            None => None,
        };
        let filter = tacho_core::TripFilter {
            from: mapping::instant_opt(query.from_ms, "from")?,
            until: mapping::instant_opt(query.until_ms, "until")?,
            car,
            include_discarded: query.include_discarded,
            limit: query.limit.map(|l| l as usize),
        };
        Ok(self
            .core
            .trips(filter)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// One trip (id or unique prefix) with odometer readings and its edit
    /// history, for the detail screen.
    pub async fn trip(&self, key: String) -> Result<TripDetail, ApiError> {
        Ok(self.core.trip(&key).await?.into())
    }

    /// A trip's stored GPS points, to draw its route on the map.
    pub async fn trip_points(&self, key: String) -> Result<Vec<TripPointInfo>, ApiError> {
        Ok(self
            .core
            .trip_points(&key)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Sets a trip's purpose (and business partner); the person's choice
    /// always wins over the place rules.
    pub async fn classify_trip(
        &self,
        key: String,
        purpose: Purpose,
        business_partner: Option<String>,
    ) -> Result<TripInfo, ApiError> {
        Ok(self
            .core
            .classify_trip(&key, purpose.into(), business_partner)
            .await?
            .into())
    }

    /// Changes one field; on an ended trip the change joins its history.
    /// `None` clears the field. For odometer fields prefer
    /// [`TachoCore::set_trip_odometer`], which takes kilometres.
    pub async fn edit_trip(
        &self,
        key: String,
        field: TripField,
        value: Option<String>,
    ) -> Result<TripInfo, ApiError> {
        Ok(self.core.edit_trip(&key, field.into(), value).await?.into())
    }

    /// Records the odometer (km, as read off the dashboard) at one end of a
    /// trip; this is what closes the mileage log's chain.
    pub async fn set_trip_odometer(
        &self,
        key: String,
        end: TripEnd,
        km: f64,
    ) -> Result<TripDetail, ApiError> {
        Ok(self
            .core
            .set_trip_odometer(&key, end.into(), km)
            .await?
            .into())
    }

    /// Throws a trip away (kept as a tombstone so other devices learn of it).
    pub async fn discard_trip(&self, key: String) -> Result<(), ApiError> {
        Ok(self.core.discard_trip(&key).await?)
    }

    /// Brings a discarded trip back into totals (kept in its history).
    pub async fn restore_trip(&self, key: String) -> Result<RestoredTripInfo, ApiError> {
        let (trip, changed) = self.core.restore_trip(&key).await?;
        Ok(RestoredTripInfo {
            trip: trip.into(),
            changed,
        })
    }

    /// Merges two consecutive ended trips of the same car into one; the
    /// originals stay as replaced, out of totals.
    pub async fn merge_trips(&self, first: String, second: String) -> Result<TripDetail, ApiError> {
        Ok(self.core.merge_trips(&first, &second).await?.into())
    }

    /// Splits an ended trip at its longest stop, or at `at_ms` with
    /// [`SplitMode::Time`]; returns the two parts in time order.
    pub async fn split_trip(
        &self,
        key: String,
        mode: SplitMode,
        at_ms: Option<i64>,
    ) -> Result<SplitTripInfo, ApiError> {
        let at = mapping::split_at(mode, at_ms)?;
        let (first, second) = self.core.split_trip(&key, at).await?;
        Ok(SplitTripInfo {
            first: first.into(),
            second: second.into(),
        })
    }

    /// Whether each trip counts in totals.
    pub async fn trip_statuses(&self) -> Result<Vec<TripStatusInfo>, ApiError> {
        Ok(self
            .core
            .trip_statuses()
            .await?
            .into_iter()
            .map(|(id, status)| TripStatusInfo {
                trip_id: id.to_string(),
                status: status.into(),
            })
            .collect())
    }
}
