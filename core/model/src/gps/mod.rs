//! GPS fixes and the maths on them: validation, filtering and path length.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod filter;

/// A WGS84 position in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLon {
    /// Latitude, -90..=90.
    pub lat: f64,
    /// Longitude, -180..=180.
    pub lon: f64,
}

impl LatLon {
    /// Great-circle distance in metres (haversine, mean Earth radius 6 371 008.8 m).
    pub fn distance_m(self, other: LatLon) -> f64 {
        use geo::{Distance, Haversine, Point};
        Haversine.distance(
            Point::new(self.lon, self.lat),
            Point::new(other.lon, other.lat),
        )
    }
}

/// One GPS fix as a phone, a hook or an importer reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ping {
    /// When the fix was taken (UTC).
    pub at: DateTime<Utc>,
    /// Latitude in decimal degrees.
    pub lat: f64,
    /// Longitude in decimal degrees.
    pub lon: f64,
    /// Horizontal accuracy radius in metres, if known.
    pub accuracy_m: Option<f64>,
    /// Ground speed in m/s, if known.
    pub speed_mps: Option<f64>,
    /// Course over ground in degrees from north, if known.
    pub heading_deg: Option<f64>,
    /// Altitude in metres, if known.
    pub altitude_m: Option<f64>,
}

impl Ping {
    /// A fix with only a position and a time.
    pub fn at(at: DateTime<Utc>, lat: f64, lon: f64) -> Self {
        Self {
            at,
            lat,
            lon,
            accuracy_m: None,
            speed_mps: None,
            heading_deg: None,
            altitude_m: None,
        }
    }

    /// The position of this fix.
    pub fn position(&self) -> LatLon {
        LatLon {
            lat: self.lat,
            lon: self.lon,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_matches_a_known_distance() {
        // One degree of latitude on the mean sphere is R * pi / 180.
        let d = LatLon { lat: 0.0, lon: 0.0 }.distance_m(LatLon { lat: 1.0, lon: 0.0 });
        assert!((d - 6_371_008.8_f64.to_radians()).abs() < 0.01, "{d}");
    }
}
