// Starts, updates and ends the Live Activity for the active trip, driven by
// the trip events Dart forwards (TachoChannel).

import ActivityKit
import Foundation

@MainActor
enum TripActivity {
    private static var current: Activity<TripActivityAttributes>?

    /// Shows the trip on the Lock Screen and in the Dynamic Island.
    static func start(tripId: String, startedAtMs: Int?) {
        guard ActivityAuthorizationInfo().areActivitiesEnabled else { return }
        if let current, current.attributes.tripId == tripId { return }
        end()
        let startedAt = startedAtMs.map { Date(timeIntervalSince1970: Double($0) / 1000) } ?? Date()
        let attributes = TripActivityAttributes(tripId: tripId, startedAt: startedAt)
        let content = ActivityContent(
            state: TripActivityAttributes.ContentState(distanceM: 0), staleDate: nil)
        current = try? Activity.request(attributes: attributes, content: content)
    }

    /// New live distance.
    static func update(distanceM: Double) {
        guard let current else { return }
        let content = ActivityContent(
            state: TripActivityAttributes.ContentState(distanceM: distanceM), staleDate: nil)
        Task { await current.update(content) }
    }

    /// The trip ended.
    static func end() {
        guard let activity = current else { return }
        current = nil
        Task { await activity.end(nil, dismissalPolicy: .default) }
    }
}
