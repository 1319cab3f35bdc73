// The Live Activity's data, shared by the Runner target (which starts and
// updates it) and the TripLiveActivity widget extension (which draws it).
// Add this file to both targets.

import ActivityKit
import Foundation

struct TripActivityAttributes: ActivityAttributes {
    /// What changes while the trip records.
    struct ContentState: Codable, Hashable {
        /// Live GPS distance in metres.
        var distanceM: Double
    }

    /// The trip.
    var tripId: String
    /// When it started, for the live timer.
    var startedAt: Date
}
