// Background location while a trip records: CoreLocation delivers fixes
// (also with the app in the background, thanks to the `location`
// background mode and allowsBackgroundLocationUpdates), and each delivery
// goes to Dart's TachoCore as one ping batch. Filtering is the core's job.

import CoreLocation
import Foundation

@MainActor
final class LocationFeeder: NSObject, CLLocationManagerDelegate {
    static let shared = LocationFeeder()

    private let manager = CLLocationManager()
    private var running = false

    private override init() {
        super.init()
        manager.delegate = self
        manager.activityType = .automotiveNavigation
        manager.desiredAccuracy = kCLLocationAccuracyBest
        manager.distanceFilter = 10
        manager.pausesLocationUpdatesAutomatically = false
    }

    /// Starts updates for the open trip (asks for permission the first time).
    func start() {
        guard !running else { return }
        running = true
        if manager.authorizationStatus == .notDetermined {
            manager.requestAlwaysAuthorization()
        }
        manager.allowsBackgroundLocationUpdates = true
        manager.showsBackgroundLocationIndicator = true
        manager.startUpdatingLocation()
    }

    /// Stops updates when the trip ended.
    func stop() {
        guard running else { return }
        running = false
        manager.stopUpdatingLocation()
        manager.allowsBackgroundLocationUpdates = false
    }

    nonisolated func locationManager(_ manager: CLLocationManager, didUpdateLocations locations: [CLLocation]) {
        let fixes: [[String: Any?]] = locations.map { loc in
            [
                "atMs": Int(loc.timestamp.timeIntervalSince1970 * 1000),
                "lat": loc.coordinate.latitude,
                "lon": loc.coordinate.longitude,
                "accuracy": loc.horizontalAccuracy >= 0 ? loc.horizontalAccuracy : nil,
                "speed": loc.speed >= 0 ? loc.speed : nil,
                "heading": loc.course >= 0 ? loc.course : nil,
                "altitude": loc.verticalAccuracy >= 0 ? loc.altitude : nil,
            ]
        }
        Task { @MainActor in
            // A refused batch is logged, never fatal: the next delivery retries.
            do {
                _ = try await TachoChannel.shared.call("pings", ["fixes": fixes])
            } catch {
                NSLog("tacho: pings refused: \(error.localizedDescription)")
            }
        }
    }

    nonisolated func locationManager(_ manager: CLLocationManager, didFailWithError error: Error) {
        NSLog("tacho: location error: \(error.localizedDescription)")
    }
}
