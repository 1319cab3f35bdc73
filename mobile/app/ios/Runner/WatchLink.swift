// Hands the Apple Watch its own relay session so it syncs without the
// password. The watch asks with its device id; the phone's core mints a
// device session (TachoCore.mintWatchSession, through Dart) and sends the
// handoff JSON back, which the watch adopts with adopt_device_session.
//
// Keys (keep in step with the watch app):
//   watch -> phone  message or userInfo ["tacho.requestSession": ["deviceId": String, "name": String]]
//   phone -> watch  transferUserInfo + updateApplicationContext ["tacho.handoff": String (JSON)]
//                   or, on error, ["tacho.handoffError": String]

import Foundation
import WatchConnectivity

final class WatchLink: NSObject, WCSessionDelegate {
    static let shared = WatchLink()

    /// Starts WatchConnectivity when the device supports it.
    func activate() {
        guard WCSession.isSupported() else { return }
        WCSession.default.delegate = self
        WCSession.default.activate()
    }

    func session(
        _ session: WCSession, activationDidCompleteWith state: WCSessionActivationState, error: Error?
    ) {}

    func sessionDidBecomeInactive(_ session: WCSession) {}

    func sessionDidDeactivate(_ session: WCSession) {
        // A new watch was paired: start over with it.
        WCSession.default.activate()
    }

    func session(_ session: WCSession, didReceiveMessage message: [String: Any]) {
        handle(message)
    }

    func session(_ session: WCSession, didReceiveUserInfo userInfo: [String: Any] = [:]) {
        handle(userInfo)
    }

    private func handle(_ payload: [String: Any]) {
        guard let request = payload["tacho.requestSession"] as? [String: Any],
            let deviceId = request["deviceId"] as? String
        else { return }
        let name = request["name"] as? String ?? "Apple Watch"
        Task { @MainActor in
            do {
                let json = try await TachoChannel.shared.call(
                    "mintWatchSession", ["deviceId": deviceId, "name": name])
                guard let json = json as? String else { return }
                let reply = ["tacho.handoff": json]
                // Queued and delivered even if the watch app is not running.
                WCSession.default.transferUserInfo(reply)
                // The latest session, for a watch app that reads its context at launch.
                try? WCSession.default.updateApplicationContext(reply)
            } catch {
                WCSession.default.transferUserInfo(["tacho.handoffError": error.localizedDescription])
            }
        }
    }
}
