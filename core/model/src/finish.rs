//! Trip finishing: a trip header closed with the detector's summary, its ends placed and
//! classified by the place rules. One home for every recorder (the phone's, the watch's, the
//! importer's; the relay's hook trips are next).

use crate::detector::TripSummary;
use crate::place::{Place, classify, place_at};
use crate::trip::{Decider, Trip, TripState};

/// Closes a trip header with the detector's summary: end time, distance,
/// ends, places, and the place rules' classification unless the person has
/// already decided.
pub fn finish_trip(trip: &mut Trip, summary: &TripSummary, places: &[Place]) {
    trip.state = TripState::Ended;
    trip.ended_at = Some(summary.ended_at.max(trip.started_at));
    trip.distance_m = summary.distance_m;
    trip.start = summary.start;
    trip.end = summary.end;
    trip.point_count = summary.point_count;
    trip.recovered = summary.recovered;
    let start_place = summary.start.and_then(|p| place_at(places, p));
    let end_place = summary.end.and_then(|p| place_at(places, p));
    trip.start_place = start_place.map(|p| p.id);
    trip.end_place = end_place.map(|p| p.id);
    if trip.start_address.is_none() {
        trip.start_address = start_place.and_then(|p| p.address.clone());
    }
    if trip.end_address.is_none() {
        trip.end_address = end_place.and_then(|p| p.address.clone());
    }
    if trip.purpose_by != Some(Decider::User) {
        let rule = classify(start_place, end_place);
        if rule.purpose.is_some() {
            trip.purpose = rule.purpose;
            trip.purpose_by = Some(Decider::Rule);
            trip.business_partner = rule.business_partner.or(trip.business_partner.take());
        }
    }
}
