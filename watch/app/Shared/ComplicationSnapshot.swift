import Foundation

/// What the complication shows, written by the app into the shared App Group
/// after every change. The widget extension reads this small snapshot rather
/// than opening the SQLite database from a second process: widget timelines
/// are built under tight time and memory budgets, and the app owns the file.
/// Compiled into both the app target and the widget extension target.
struct ComplicationSnapshot: Codable, Equatable {
    /// Seconds worked today at `savedAt`, including a running timer.
    var todaySeconds: Int64
    /// Start of the running timer, if one runs (the widget counts up from it).
    var timerStartedAt: Date?
    /// Project of the running timer.
    var projectName: String?
    /// Live distance of the active trip in metres, if a trip is recording.
    var activeTripMetres: Double?
    /// When the snapshot was written.
    var savedAt: Date

    static let appGroup = "group.app.tacho.watch"
    private static let key = "complication.snapshot"

    static let empty = ComplicationSnapshot(
        todaySeconds: 0, timerStartedAt: nil, projectName: nil, activeTripMetres: nil, savedAt: .distantPast)

    /// Reads the last snapshot, or `empty`.
    static func load() -> ComplicationSnapshot {
        guard
            let defaults = UserDefaults(suiteName: appGroup),
            let data = defaults.data(forKey: key),
            let snapshot = try? JSONDecoder().decode(ComplicationSnapshot.self, from: data)
        else {
            return .empty
        }
        return snapshot
    }

    /// Stores this snapshot for the widget.
    func save() {
        guard let defaults = UserDefaults(suiteName: Self.appGroup),
              let data = try? JSONEncoder().encode(self)
        else { return }
        defaults.set(data, forKey: Self.key)
    }

    /// Seconds worked at `date`: the saved total plus the running timer's
    /// time since the snapshot.
    func todaySeconds(at date: Date) -> Int64 {
        guard timerStartedAt != nil else { return todaySeconds }
        return todaySeconds + Int64(max(0, date.timeIntervalSince(savedAt)))
    }
}
