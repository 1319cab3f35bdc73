import Combine
import SwiftUI
import Tacho
import TachoFFI
import WatchKit
import WidgetKit

/// The watch app: works without the phone. Its own database lives in the
/// app container; it syncs with the relay using a device session the phone
/// hands over through WatchConnectivity (see `PhoneLink`).
@main
struct TachoWatchApp: App {
    @StateObject private var model = AppModel()
    @Environment(\.scenePhase) private var scenePhase

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(model)
                .task { await model.open() }
        }
        .onChange(of: scenePhase) { phase in
            Task { await model.scenePhaseChanged(phase) }
        }
    }
}

/// Owns the core, the store and the phone link for the app's lifetime.
@MainActor
final class AppModel: ObservableObject {
    @Published private(set) var store: TachoStore?
    @Published private(set) var openError: String?
    private var phoneLink: PhoneLink?
    private var storeObservation: AnyCancellable?

    /// Opens the database once (off the main thread) and starts listening.
    func open() async {
        guard store == nil else { return }
        OSLogSink.install(level: .info)
        do {
            let directory = try FileManager.default.url(
                for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
            // The lightweight runtime: one core thread instead of a worker pool.
            // The relay lists the watch under its own name when it signs in itself.
            let core = try await TachoCoreFactory.open(
                at: TachoCoreFactory.databaseURL(in: directory), runtime: .currentThread,
                deviceName: WKInterfaceDevice.current().name)
            let store = TachoStore(backend: core)
            self.store = store
            storeObservation = store.objectWillChange.sink { [weak self] _ in
                // After SwiftUI's update, so the snapshot sees new values.
                DispatchQueue.main.async { self?.publishComplication() }
            }
            await store.start()
            await store.syncNow()
            let link = PhoneLink(store: store)
            link.activate()
            phoneLink = link
        } catch {
            openError = String(describing: error)
        }
    }

    func scenePhaseChanged(_ phase: ScenePhase) async {
        guard let store else { return }
        switch phase {
        case .active:
            await store.start()
            await store.syncNow()
        case .background:
            store.stop()
        default:
            break
        }
    }

    /// Writes what the complication shows and asks WidgetKit to reload it.
    private func publishComplication() {
        guard let store else { return }
        let snapshot = ComplicationSnapshot(
            todaySeconds: store.timer?.todayS ?? 0,
            timerStartedAt: store.timer?.running.map { Date(unixMillis: $0.startMs) },
            projectName: store.runningProjectName,
            activeTripMetres: store.activeTrip?.distanceM,
            savedAt: Date())
        let old = ComplicationSnapshot.load()
        // Reload budgets are small: only when what the face shows changed.
        guard snapshot.todaySeconds != old.todaySeconds
            || snapshot.timerStartedAt != old.timerStartedAt
            || snapshot.projectName != old.projectName
            || snapshot.activeTripMetres != old.activeTripMetres
        else { return }
        snapshot.save()
        WidgetCenter.shared.reloadAllTimelines()
    }
}
