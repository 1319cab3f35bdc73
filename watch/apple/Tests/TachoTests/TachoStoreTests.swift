import XCTest
import TachoFFI
@testable import Tacho

/// A backend with canned answers that records what the store asked for.
final class FakeBackend: TachoBackend, @unchecked Sendable {
    // Only touched from the main actor in these tests.
    var status = TimerStatus(running: nil, project: nil, elapsedS: 0, todayS: 0, todayRoundedS: 0)
    var active: ActiveTrip?
    var last: Trip?
    var projectList: [Project] = []
    var signedIn = false
    var calls: [String] = []
    var handler: (@Sendable (CoreEvent) -> Void)?
    var subscriptions: [FakeSubscription] = []
    var openConflicts: [ConnectorConflict] = []

    func timerStatus() async throws -> TimerStatus { calls.append("timerStatus"); return status }
    func activeTrip() async throws -> ActiveTrip? { active }
    func lastEndedTrip() async throws -> Trip? { last }
    func projects() async throws -> [Project] { projectList }
    func tick() async throws -> FeedOutcome {
        calls.append("tick")
        return FeedOutcome(started: [], ended: [], points: 0, rejected: nil, dropped: nil,
                           outliers: 0, resumed: false, rejectedCount: 0, droppedCount: 0)
    }

    func startTimer(project: String?, description: String, tags: [String]) async throws -> TimeEntry {
        calls.append("start:\(project ?? "-")")
        let entry = TimeEntry(id: "e1", projectId: project, description: description, startMs: 1_000,
                              stopMs: nil, tags: tags, billable: false, source: .timer, tripId: nil)
        status = TimerStatus(running: entry, project: nil, elapsedS: 0, todayS: 60, todayRoundedS: 900)
        return entry
    }

    func stopTimer() async throws -> TimeEntry {
        calls.append("stop")
        guard var entry = status.running else {
            throw TachoError.Conflict(reason: "no timer is running")
        }
        entry.stopMs = 2_000
        status = TimerStatus(running: nil, project: nil, elapsedS: 0, todayS: 3_600, todayRoundedS: 3_600)
        return entry
    }

    func classifyTrip(key: String, purpose: Purpose, businessPartner: String?) async throws -> Trip {
        calls.append("classify:\(key):\(purpose.label)")
        guard var trip = last, trip.id == key else {
            throw TachoError.NotFound(kind: "trip", id: key)
        }
        trip.purpose = purpose
        trip.purposeBy = .user
        last = trip
        return trip
    }

    func syncStatus() async throws -> SyncStatus {
        SyncStatus(signedIn: signedIn, relayUrl: signedIn ? "https://relay.example" : nil,
                   accountId: nil, pendingOps: 0, parkedOps: 0, lastSyncAtMs: nil, lastError: nil)
    }

    func editEntry(key: String, edit: EntryEdit) async throws -> EntryDetail {
        calls.append("edit:\(key):\(edit.project ?? "-"):\(edit.stopMs.map { String($0) } ?? "-")")
        guard var entry = status.running, entry.id == key else {
            throw TachoError.NotFound(kind: "time entry", id: key)
        }
        if let project = edit.project { entry.projectId = project }
        entry.stopMs = edit.stopMs
        status = edit.stopMs == nil
            ? TimerStatus(running: entry, project: nil, elapsedS: 0, todayS: 60, todayRoundedS: 900)
            : TimerStatus(running: nil, project: nil, elapsedS: 0, todayS: 1_800, todayRoundedS: 1_800)
        return EntryDetail(entry: entry, deleted: false, project: nil, history: [])
    }

    func syncOnce() async throws -> SyncReport {
        calls.append("sync")
        return SyncReport(pushed: 0, pulled: 0, changed: 0, parked: 0, cursor: 0)
    }

    func adoptDeviceSession(handoff: DeviceHandoff) async throws -> SyncStatus {
        calls.append("adopt:\(handoff.deviceId)")
        signedIn = true
        return try await syncStatus()
    }

    func deviceId() throws -> String { "watch-device" }

    func conflictCount() async throws -> UInt64 {
        calls.append("conflictCount")
        return UInt64(openConflicts.count)
    }

    func conflicts(includeResolved: Bool) async throws -> [ConnectorConflict] {
        calls.append("conflicts:\(includeResolved)")
        return openConflicts
    }

    func observe(_ handler: @escaping @Sendable (CoreEvent) -> Void) -> any EventSubscription {
        self.handler = handler
        let subscription = FakeSubscription()
        subscriptions.append(subscription)
        return subscription
    }
}

final class FakeSubscription: EventSubscription, @unchecked Sendable {
    var cancelled = false
    func cancel() { cancelled = true }
}

func makeTrip(id: String = "0190d5e2-0000-7000-8000-000000000001") -> Trip {
    Trip(id: id, carId: nil, state: .ended, source: .carplay, carHint: nil,
         startedAtMs: 1_700_000_000_000, endedAtMs: 1_700_000_900_000, timeZone: "Europe/Berlin",
         start: nil, end: nil, startAddress: nil, endAddress: nil, startPlaceId: nil,
         endPlaceId: nil, distanceM: 12_400, pointCount: 300, purpose: nil, purposeBy: nil,
         businessPartner: nil, note: nil, recovered: false)
}

func makeConflict(id: String, message: String = "edited on both sides") -> ConnectorConflict {
    ConnectorConflict(
        id: id, connectionId: "0190d5e2-0000-7000-8000-0000000000c1", connectionName: "work kimai",
        service: "kimai", entryId: "0190d5e2-0000-7000-8000-0000000000e1", remoteId: "17",
        message: message,
        local: EntrySnapshot(description: "review", startMs: nil, stopMs: nil, seconds: 5_400,
                             tags: nil, billable: nil, project: nil),
        remote: nil, raisedAtMs: 1_796_637_600_000, state: .open, resolution: nil,
        resolvedAtMs: nil)
}

@MainActor
final class TachoStoreTests: XCTestCase {
    func testTheConflictCountLoadsWithEverythingAndTheListOnDemand() async {
        let backend = FakeBackend()
        backend.openConflicts = [makeConflict(id: "c1"), makeConflict(id: "c2")]
        let store = TachoStore(backend: backend)
        await store.start()
        XCTAssertEqual(store.conflictCount, 2)
        XCTAssertTrue(store.conflicts.isEmpty, "the list loads only when shown")
        XCTAssertFalse(backend.calls.contains("conflicts:false"))

        backend.openConflicts = [makeConflict(id: "c2", message: "deleted on Kimai")]
        await store.loadConflicts()
        XCTAssertEqual(store.conflicts.map(\.id), ["c2"])
        XCTAssertEqual(store.conflicts.first?.message, "deleted on Kimai")
        XCTAssertEqual(store.conflictCount, 1)
        XCTAssertTrue(backend.calls.contains("conflicts:false"), "only open conflicts are listed")
    }

    func testSyncingReadsTheConflictCountAgain() async {
        let backend = FakeBackend()
        backend.signedIn = true
        let store = TachoStore(backend: backend)
        await store.start()
        XCTAssertEqual(store.conflictCount, 0)
        backend.openConflicts = [makeConflict(id: "c1")]
        await store.syncNow()
        XCTAssertEqual(store.conflictCount, 1)
    }

    func testStartLoadsEverythingAndListens() async {
        let backend = FakeBackend()
        backend.last = makeTrip()
        let store = TachoStore(backend: backend)
        await store.start()
        XCTAssertTrue(store.isListening)
        XCTAssertEqual(store.lastTrip?.id, backend.last?.id)
        XCTAssertEqual(backend.calls.first, "tick", "a trip whose grace ran out is closed first")
        XCTAssertNil(store.lastError)
    }

    func testToggleTimerStartsThenStops() async {
        let backend = FakeBackend()
        let store = TachoStore(backend: backend)
        await store.start()
        await store.toggleTimer(project: "ACME")
        XCTAssertNotNil(store.timer?.running)
        XCTAssertEqual(store.runningProjectName, "No project")
        await store.toggleTimer()
        XCTAssertNil(store.timer?.running)
        XCTAssertEqual(store.todayText, "1:00")
        XCTAssertEqual(backend.calls.filter { $0.hasPrefix("start") || $0 == "stop" }, ["start:ACME", "stop"])
    }

    func testTheRunningTimerIsCorrectedThroughEditEntry() async {
        let backend = FakeBackend()
        let store = TachoStore(backend: backend)
        await store.start()
        await store.correctRunningEntry(project: nil, stopAt: nil)
        XCTAssertFalse(backend.calls.contains { $0.hasPrefix("edit") }, "nothing runs, nothing to edit")
        await store.toggleTimer()
        await store.correctRunningEntry(project: nil, stopAt: Date(unixMillis: 1_801_000))
        XCTAssertNil(store.timer?.running)
        XCTAssertEqual(backend.calls.filter { $0.hasPrefix("edit") }, ["edit:e1:-:1801000"])
    }

    func testOneTapClassifiesTheLastTrip() async {
        let backend = FakeBackend()
        backend.last = makeTrip()
        let store = TachoStore(backend: backend)
        await store.start()
        await store.classifyLastTrip(.business)
        XCTAssertEqual(store.lastTrip?.purpose, .business)
        XCTAssertEqual(store.lastTrip?.purposeBy, .user)
    }

    func testErrorsShowAsText() async {
        let backend = FakeBackend()
        backend.last = makeTrip(id: "a")
        let store = TachoStore(backend: backend)
        await store.start()
        backend.last = makeTrip(id: "b")  // the store still shows "a"
        await store.classifyLastTrip(.private)
        XCTAssertNotNil(store.lastError)
    }

    func testProgressEventsUpdateTheLiveDistanceWithoutReloading() async {
        let backend = FakeBackend()
        let trip = makeTrip()
        backend.active = ActiveTrip(trip: trip, distanceM: 100, durationS: 60)
        let store = TachoStore(backend: backend)
        await store.start()
        backend.active = nil  // a reload would clear it; progress must not reload
        await store.apply(.tripProgress(tripId: trip.id, distanceM: 2_500))
        XCTAssertEqual(store.activeTrip?.distanceM, 2_500)
        await store.apply(.tripEnded(tripId: trip.id))
        XCTAssertNil(store.activeTrip)
    }

    func testEventsFromACoreThreadReachTheMainActor() async {
        let backend = FakeBackend()
        let store = TachoStore(backend: backend)
        await store.start()
        backend.status = TimerStatus(running: nil, project: nil, elapsedS: 0, todayS: 7_200, todayRoundedS: 7_200)
        let handler = backend.handler
        await Task.detached { handler?(.timerChanged) }.value
        for _ in 0..<50 where store.todayText != "2:00" {
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        XCTAssertEqual(store.todayText, "2:00")
    }

    func testStopCancelsTheSubscription() async {
        let backend = FakeBackend()
        let store = TachoStore(backend: backend)
        await store.start()
        await store.start()  // idempotent: one subscription
        XCTAssertEqual(backend.subscriptions.count, 1)
        store.stop()
        XCTAssertTrue(backend.subscriptions[0].cancelled)
        XCTAssertFalse(store.isListening)
    }

    func testAdoptingAHandoffSignsInAndSyncs() async {
        let backend = FakeBackend()
        let store = TachoStore(backend: backend)
        await store.start()
        let handoff = DeviceHandoff(relayUrl: "https://relay.example", accountId: "a", spaceId: "s",
                                    deviceId: "watch-device", accessToken: "t",
                                    accessExpiresAtMs: 1_700_000_000_000, refreshToken: "r")
        await store.adopt(handoff)
        XCTAssertEqual(store.sync?.signedIn, true)
        XCTAssertTrue(backend.calls.contains("adopt:watch-device"))
        XCTAssertTrue(backend.calls.contains("sync"))
    }

    func testFormatting() {
        XCTAssertEqual(TachoFormat.hoursMinutes(seconds: 25_500), "7:05")
        XCTAssertEqual(TachoFormat.hoursMinutes(seconds: -5), "0:00")
        XCTAssertEqual(TachoFormat.duration(seconds: 2_527), "0:42:07")
        XCTAssertEqual(Date(unixMillis: 1_500).unixMillis, 1_500)
    }
}
