//! Known places and the classification of trips by where they start and end.

use serde::{Deserialize, Serialize};

use crate::gps::LatLon;
use crate::id::PlaceId;
use crate::trip::Purpose;

/// Role of a place in classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceKind {
    /// The person's home.
    Home,
    /// The regular workplace.
    Office,
    /// A client; trips to or from it are business.
    Client,
    /// Anything else worth naming.
    Other,
}

impl std::str::FromStr for PlaceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "home" => Ok(Self::Home),
            "office" | "work" => Ok(Self::Office),
            "client" => Ok(Self::Client),
            "other" => Ok(Self::Other),
            other => Err(format!(
                "unknown place kind `{other}` (expected home, office, client or other)"
            )),
        }
    }
}

impl PlaceKind {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Home => "home",
            Self::Office => "office",
            Self::Client => "client",
            Self::Other => "other",
        }
    }
}

/// A named circle on the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// Identity.
    pub id: PlaceId,
    /// Display name; for clients, the business partner's name.
    pub name: String,
    /// Role in classification.
    pub kind: PlaceKind,
    /// Centre.
    pub center: LatLon,
    /// Radius in metres within which a trip end counts as at this place.
    pub radius_m: f64,
    /// Street address, if known.
    pub address: Option<String>,
}

impl Place {
    /// Whether `point` lies inside this place's circle.
    pub fn contains(&self, point: LatLon) -> bool {
        self.center.distance_m(point) <= self.radius_m
    }
}

/// The nearest place whose circle contains `point`.
pub fn place_at(places: &[Place], point: LatLon) -> Option<&Place> {
    places
        .iter()
        .map(|p| (p, p.center.distance_m(point)))
        .filter(|(p, d)| *d <= p.radius_m)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, _)| p)
}

/// What the place rules say about a trip.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// `None` when the rules can't tell; the person decides.
    pub purpose: Option<Purpose>,
    /// The client visited, for business trips.
    pub business_partner: Option<String>,
}

/// Classifies a trip by its start and end places: home↔office is commute,
/// a trip from or to a client is business with that client as partner,
/// anything else stays unclassified until the person decides.
pub fn classify(start: Option<&Place>, end: Option<&Place>) -> Classification {
    let client = [end, start]
        .into_iter()
        .flatten()
        .find(|p| p.kind == PlaceKind::Client);
    if let Some(client) = client {
        return Classification {
            purpose: Some(Purpose::Business),
            business_partner: Some(client.name.clone()),
        };
    }
    let kinds = (start.map(|p| p.kind), end.map(|p| p.kind));
    let purpose = match kinds {
        (Some(PlaceKind::Home), Some(PlaceKind::Office))
        | (Some(PlaceKind::Office), Some(PlaceKind::Home)) => Some(Purpose::Commute),
        _ => None,
    };
    Classification {
        purpose,
        business_partner: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(name: &str, kind: PlaceKind, lat: f64, lon: f64) -> Place {
        Place {
            id: PlaceId::new(),
            name: name.into(),
            kind,
            center: LatLon { lat, lon },
            radius_m: 150.0,
            address: None,
        }
    }

    #[test]
    fn home_to_office_and_back_is_commute() {
        let home = place("Home", PlaceKind::Home, 52.0, 5.0);
        let office = place("Office", PlaceKind::Office, 52.1, 5.1);
        assert_eq!(
            classify(Some(&home), Some(&office)).purpose,
            Some(Purpose::Commute)
        );
        assert_eq!(
            classify(Some(&office), Some(&home)).purpose,
            Some(Purpose::Commute)
        );
        assert_eq!(classify(Some(&home), Some(&home)).purpose, None);
    }

    #[test]
    fn a_client_at_either_end_makes_business_with_that_partner() {
        let home = place("Home", PlaceKind::Home, 52.0, 5.0);
        let acme = place("ACME BV", PlaceKind::Client, 52.2, 5.2);
        for c in [
            classify(Some(&home), Some(&acme)),
            classify(Some(&acme), None),
        ] {
            assert_eq!(c.purpose, Some(Purpose::Business));
            assert_eq!(c.business_partner.as_deref(), Some("ACME BV"));
        }
    }

    #[test]
    fn unknown_places_stay_unclassified() {
        let other = place("Gym", PlaceKind::Other, 52.0, 5.0);
        assert_eq!(classify(Some(&other), None).purpose, None);
        assert_eq!(classify(None, None).purpose, None);
    }

    #[test]
    fn place_at_picks_the_nearest_containing_circle() {
        let a = place("A", PlaceKind::Other, 52.0, 5.0);
        let b = place("B", PlaceKind::Other, 52.0005, 5.0);
        let places = vec![a, b];
        let hit = place_at(
            &places,
            LatLon {
                lat: 52.0004,
                lon: 5.0,
            },
        )
        .unwrap();
        assert_eq!(hit.name, "B");
        assert!(
            place_at(
                &places,
                LatLon {
                    lat: 53.0,
                    lon: 5.0
                }
            )
            .is_none()
        );
    }
}
