import Combine
import Foundation
import TachoFFI

/// The view model the watch app (and an iOS widget or extension) shows:
/// today's hours, the running timer, the active trip and the last ended trip.
///
/// Everything is read from the Rust core; this class only caches what the
/// screen shows and turns taps into core calls. Change events arrive on a
/// core thread and are hopped to the main actor. The event subscription is
/// held in a property, so releasing the store releases the Rust
/// `TaskHandle`, which cancels the listener: no callback outlives the store.
@MainActor
public final class TachoStore: ObservableObject {
    /// The running timer and today's totals.
    @Published public private(set) var timer: TimerStatus?
    /// The trip being recorded.
    @Published public private(set) var activeTrip: ActiveTrip?
    /// The newest ended trip (offered for one-tap classification).
    @Published public private(set) var lastTrip: Trip?
    /// Projects for the one-tap switch.
    @Published public private(set) var projects: [Project] = []
    /// Sign-in and queue state.
    @Published public private(set) var sync: SyncStatus?
    /// The last failure, in words, for a small banner.
    @Published public private(set) var lastError: String?
    /// Open timesheet-connector conflicts, as last synced (a count on the main screen).
    @Published public private(set) var conflictCount: UInt64 = 0
    /// The open conflicts, loaded when the list is shown (`loadConflicts`). The watch only
    /// lists them: resolving one (side by side, keep Tacho / keep the service / dismiss)
    /// happens on the phone.
    @Published public private(set) var conflicts: [ConnectorConflict] = []

    private let backend: any TachoBackend
    private var subscription: (any EventSubscription)?

    /// A store over `backend`; call `start()` to load and listen.
    public init(backend: any TachoBackend) {
        self.backend = backend
    }

    /// Whether change events are being listened to.
    public var isListening: Bool { subscription != nil }

    /// Loads everything and starts listening for changes.
    public func start() async {
        if subscription == nil {
            subscription = backend.observe { [weak self] event in
                Task { @MainActor [weak self] in
                    await self?.apply(event)
                }
            }
        }
        await refresh()
    }

    /// Stops listening (e.g. when the app goes to the background).
    public func stop() {
        subscription?.cancel()
        subscription = nil
    }

    /// Reloads everything shown. Also ends a trip whose grace period ran out
    /// while the app slept.
    public func refresh() async {
        await perform {
            _ = try await self.backend.tick()
            self.timer = try await self.backend.timerStatus()
            self.activeTrip = try await self.backend.activeTrip()
            self.lastTrip = try await self.backend.lastEndedTrip()
            self.projects = try await self.backend.projects()
            self.sync = try await self.backend.syncStatus()
            self.conflictCount = try await self.backend.conflictCount()
        }
    }

    /// Loads the open conflicts for the short list (and the count with them).
    public func loadConflicts() async {
        await perform {
            self.conflicts = try await self.backend.conflicts(includeResolved: false)
            self.conflictCount = UInt64(self.conflicts.count)
        }
    }

    /// Applies one change event: progress updates the live distance in
    /// place (no reload for every GPS batch); everything else reloads what
    /// it touches.
    func apply(_ event: CoreEvent) async {
        switch event {
        case let .tripProgress(tripId, distanceM):
            if var trip = activeTrip, trip.trip.id == tripId {
                trip.distanceM = distanceM
                activeTrip = trip
            } else {
                await reloadTrips()
            }
        case .tripStarted, .tripEnded, .tripChanged:
            await reloadTrips()
        case .timerChanged:
            await perform { self.timer = try await self.backend.timerStatus() }
        case .dataChanged, .lagged:
            await refresh()
        }
    }

    private func reloadTrips() async {
        await perform {
            self.activeTrip = try await self.backend.activeTrip()
            self.lastTrip = try await self.backend.lastEndedTrip()
        }
    }

    // MARK: - one-tap actions

    /// Starts the timer (on `project`, or none) or stops the running one.
    public func toggleTimer(project: String? = nil) async {
        await perform {
            if self.timer?.running != nil {
                _ = try await self.backend.stopTimer()
            } else {
                _ = try await self.backend.startTimer(project: project, description: "", tags: [])
            }
            self.timer = try await self.backend.timerStatus()
        }
    }

    /// Switches the running timer to `project` (starting it if none runs).
    public func switchProject(to project: Project) async {
        await perform {
            _ = try await self.backend.startTimer(project: project.id, description: "", tags: [])
            self.timer = try await self.backend.timerStatus()
        }
    }

    /// Corrects the running timer: books it on `project` (nil keeps it)
    /// and/or stops it at `stopAt` (nil keeps it running). The core keeps
    /// the correction in the entry's history and refuses it in a locked
    /// month; its message shows as `lastError`.
    public func correctRunningEntry(project: Project?, stopAt: Date?) async {
        guard let running = timer?.running else { return }
        await perform {
            _ = try await self.backend.editEntry(
                key: running.id,
                edit: EntryEdit(project: project?.id, stopMs: stopAt.map { $0.unixMillis }))
            self.timer = try await self.backend.timerStatus()
        }
    }

    /// Classifies the last ended trip with one tap.
    public func classifyLastTrip(_ purpose: Purpose) async {
        guard let trip = lastTrip else { return }
        await perform {
            self.lastTrip = try await self.backend.classifyTrip(
                key: trip.id, purpose: purpose, businessPartner: nil)
        }
    }

    /// Signs the watch in with the session the phone handed over, then syncs.
    public func adopt(_ handoff: DeviceHandoff) async {
        await perform {
            self.sync = try await self.backend.adoptDeviceSession(handoff: handoff)
        }
        await syncNow()
    }

    /// One sync run if signed in (the watch calls it on each wake-up). Conflicts arrive by
    /// sync, so the count is read again after it.
    public func syncNow() async {
        guard sync?.signedIn == true else { return }
        await perform {
            _ = try await self.backend.syncOnce()
            self.sync = try await self.backend.syncStatus()
            self.conflictCount = try await self.backend.conflictCount()
        }
    }

    /// This database's device id, which the phone needs to mint a session.
    public func deviceId() -> String? {
        try? backend.deviceId()
    }

    // MARK: - derived values for the views

    /// Today's worked time as `h:mm`.
    public var todayText: String {
        TachoFormat.hoursMinutes(seconds: timer?.todaySeconds ?? 0)
    }

    /// The running entry's project name, if a timer runs.
    public var runningProjectName: String? {
        guard timer?.running != nil else { return nil }
        return timer?.project?.name ?? "No project"
    }

    private func perform(_ work: () async throws -> Void) async {
        do {
            try await work()
            lastError = nil
        } catch let error as TachoError {
            lastError = error.localizedDescription
        } catch {
            lastError = String(describing: error)
        }
    }
}

extension TimerStatus {
    /// Seconds worked today (raw), including the running entry.
    public var todaySeconds: Int64 { todayS }
}
