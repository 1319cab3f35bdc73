import Foundation
import Tacho
import TachoFFI
import WatchConnectivity

/// The watch's end of the handoff. On activation the watch tells the phone
/// its device id (`["tacho.deviceId": id]`); the phone mints a device session
/// for that id on the relay and sends it back as `["tacho.handoff": json]`
/// (the JSON of `handoffToJson`), which the watch adopts. The password never
/// reaches the watch, and the phone can revoke the session on its own.
final class PhoneLink: NSObject, WCSessionDelegate, @unchecked Sendable {
    static let deviceIdKey = "tacho.deviceId"
    static let handoffKey = "tacho.handoff"

    // Only used to hop back to the main actor.
    private weak var store: TachoStore?

    @MainActor
    init(store: TachoStore) {
        self.store = store
        super.init()
    }

    func activate() {
        guard WCSession.isSupported() else { return }
        WCSession.default.delegate = self
        WCSession.default.activate()
    }

    func session(
        _ session: WCSession, activationDidCompleteWith activationState: WCSessionActivationState, error: Error?
    ) {
        guard activationState == .activated else { return }
        Task { @MainActor in
            guard let id = self.store?.deviceId() else { return }
            // Queued and delivered even if the phone app is not running now.
            session.transferUserInfo([Self.deviceIdKey: id])
        }
    }

    func session(_ session: WCSession, didReceiveUserInfo userInfo: [String: Any] = [:]) {
        receive(userInfo)
    }

    func session(_ session: WCSession, didReceiveMessage message: [String: Any]) {
        receive(message)
    }

    private func receive(_ payload: [String: Any]) {
        guard let json = payload[Self.handoffKey] as? String else { return }
        do {
            let handoff = try handoffFromJson(json: json)
            Task { @MainActor in
                await self.store?.adopt(handoff)
            }
        } catch {
            // A malformed handoff is ignored; the phone sends a new one on
            // the next activation.
        }
    }
}
