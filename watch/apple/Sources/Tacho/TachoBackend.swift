import Foundation
import TachoFFI

/// The slice of the Rust `Core` the wrappers use. A protocol so the view
/// model can be tested with a fake (the generated `CoreProtocol` has every
/// method, which no fake should have to implement), and so the wrappers only
/// grow when an app actually needs another call.
public protocol TachoBackend: AnyObject, Sendable {
    /// The running timer and today's totals.
    func timerStatus() async throws -> TimerStatus
    /// The trip being recorded, if any.
    func activeTrip() async throws -> ActiveTrip?
    /// The newest ended trip, for one-tap classification.
    func lastEndedTrip() async throws -> Trip?
    /// Projects to switch between.
    func projects() async throws -> [Project]
    /// Starts (or switches) the timer.
    func startTimer(project: String?, description: String, tags: [String]) async throws -> TimeEntry
    /// Stops the timer.
    func stopTimer() async throws -> TimeEntry
    /// Corrects a time entry (the running timer's project or stop time);
    /// every change is kept in the entry's history by the core.
    func editEntry(key: String, edit: EntryEdit) async throws -> EntryDetail
    /// Sets a trip's purpose.
    func classifyTrip(key: String, purpose: Purpose, businessPartner: String?) async throws -> Trip
    /// Ends trips whose grace period ran out.
    func tick() async throws -> FeedOutcome
    /// Sign-in and queue state.
    func syncStatus() async throws -> SyncStatus
    /// One sync run.
    func syncOnce() async throws -> SyncReport
    /// Signs in with a session the phone minted.
    func adoptDeviceSession(handoff: DeviceHandoff) async throws -> SyncStatus
    /// This database's device id.
    func deviceId() throws -> String
    /// Open timesheet-connector conflicts, as last synced (local, no network).
    func conflictCount() async throws -> UInt64
    /// The conflicts themselves, oldest first (resolved ones too with `includeResolved`).
    func conflicts(includeResolved: Bool) async throws -> [ConnectorConflict]
    /// Calls `handler` on a core thread for every change until the returned
    /// subscription is cancelled or released.
    func observe(_ handler: @escaping @Sendable (CoreEvent) -> Void) -> any EventSubscription
}

/// A running listener. Releasing it cancels it (the Rust `TaskHandle` does
/// that in its destructor), so keeping it in a property ties the listener's
/// lifetime to its owner's.
public protocol EventSubscription: AnyObject, Sendable {
    /// Stops delivery now.
    func cancel()
}

extension TaskHandle: EventSubscription {}

/// Adapts a Swift closure to the generated `CoreListener` protocol.
final class ClosureListener: CoreListener, @unchecked Sendable {
    // Immutable after init; the closure itself is @Sendable.
    private let handler: @Sendable (CoreEvent) -> Void

    init(_ handler: @escaping @Sendable (CoreEvent) -> Void) {
        self.handler = handler
    }

    func onEvent(event: CoreEvent) {
        handler(event)
    }
}

extension Core: TachoBackend {
    public func observe(_ handler: @escaping @Sendable (CoreEvent) -> Void) -> any EventSubscription {
        subscribe(listener: ClosureListener(handler))
    }
}

/// Opening a database does file I/O (and may run migrations), so it happens
/// off the main actor.
public enum TachoCoreFactory {
    /// The database file inside `directory` (the app's own container on the
    /// watch, so it works without the phone).
    public static func databaseURL(in directory: URL) -> URL {
        directory.appendingPathComponent("tacho.sqlite")
    }

    /// Opens the core. The watch passes `.currentThread`: one runtime thread
    /// instead of a worker pool, to stay well inside watchOS's memory limit.
    /// `deviceName` is what the relay lists this device as (e.g. the
    /// watch's name); `nil` keeps the core's default. The relay tokens go to
    /// `secrets` (the Keychain by default), never into the database file.
    public static func open(
        at url: URL,
        timeZone: TimeZone = .current,
        runtime: RuntimeKind,
        deviceName: String? = nil,
        secrets: SecretStore = KeychainSecretStore()
    ) async throws -> Core {
        let path = url.path
        let zone = timeZone.identifier
        return try await Task.detached(priority: .userInitiated) {
            try Core(
                dbPath: path, timeZone: zone, runtime: runtime, deviceName: deviceName,
                secretStore: secrets)
        }.value
    }
}
