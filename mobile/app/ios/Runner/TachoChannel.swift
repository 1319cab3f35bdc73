// The Swift end of lib/native_bridge.dart. Native code never opens the
// database: it asks Dart, which owns the process's one TachoCore, so the
// trip recorder's in-memory state is never split between two cores.

import Flutter
import Foundation

/// An error Dart reported (an ApiError's kind and message) or a channel failure.
struct TachoError: Error, LocalizedError {
    let code: String
    let message: String
    var errorDescription: String? { message }
}

/// Calls into Dart and receives trip events from it.
@MainActor
final class TachoChannel {
    static let shared = TachoChannel()

    private var channel: FlutterMethodChannel?
    private var dartReady = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    private init() {}

    /// Connects to the engine's messenger; called once at launch.
    func attach(to messenger: FlutterBinaryMessenger) {
        let channel = FlutterMethodChannel(name: "tacho/native", binaryMessenger: messenger)
        channel.setMethodCallHandler { [weak self] call, result in
            Task { @MainActor in
                self?.handle(call)
                result(nil)
            }
        }
        self.channel = channel
    }

    /// Calls a Dart handler (see NativeBridge._handle), waiting first until
    /// Dart has opened the core on a cold start.
    func call(_ method: String, _ arguments: [String: Any?] = [:]) async throws -> Any? {
        await waitUntilReady()
        guard let channel else {
            throw TachoError(code: "unavailable", message: "the Flutter engine is not running")
        }
        return try await withCheckedThrowingContinuation { continuation in
            channel.invokeMethod(method, arguments: arguments) { reply in
                if let error = reply as? FlutterError {
                    continuation.resume(throwing: TachoError(
                        code: error.code, message: error.message ?? error.code))
                } else if (reply as AnyObject?) === FlutterMethodNotImplemented {
                    continuation.resume(throwing: TachoError(
                        code: "notImplemented", message: "Dart does not handle \(method)"))
                } else {
                    continuation.resume(returning: reply)
                }
            }
        }
    }

    private func waitUntilReady() async {
        if dartReady { return }
        await withCheckedContinuation { continuation in
            waiting.append(continuation)
        }
    }

    private func handle(_ call: FlutterMethodCall) {
        let args = call.arguments as? [String: Any] ?? [:]
        switch call.method {
        case "dartReady":
            dartReady = true
            waiting.forEach { $0.resume() }
            waiting.removeAll()
            // A trip recording when the app was killed resumes its pings.
            if let tripId = args["activeTripId"] as? String {
                LocationFeeder.shared.start()
                TripActivity.start(tripId: tripId, startedAtMs: args["startedAtMs"] as? Int)
            }
        case "tripStarted":
            LocationFeeder.shared.start()
            TripActivity.start(
                tripId: args["tripId"] as? String ?? "", startedAtMs: args["startedAtMs"] as? Int)
        case "tripProgress":
            TripActivity.update(distanceM: args["distanceM"] as? Double ?? 0)
        case "tripEnded":
            LocationFeeder.shared.stop()
            TripActivity.end()
        default:
            break
        }
    }
}
