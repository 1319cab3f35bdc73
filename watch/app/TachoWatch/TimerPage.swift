import SwiftUI
import Tacho
import TachoFFI

/// Today's hours and the running timer: one tap starts or stops it, one tap
/// on a project switches to it, and "Correct" fixes the running entry's
/// project or stop time (forgot to stop it, or started on the wrong project).
struct TimerPage: View {
    @ObservedObject var store: TachoStore
    @State private var correcting = false

    var body: some View {
        ScrollView {
            VStack(spacing: 8) {
                Text("Today")
                    .font(.caption)
                    .foregroundStyle(.secondary)
                // Counts up live while a timer runs, without core calls.
                TimelineView(.periodic(from: .now, by: 1)) { context in
                    Text(TachoFormat.hoursMinutes(seconds: todaySeconds(at: context.date)))
                        .font(.system(.title, design: .rounded).monospacedDigit())
                }
                if let name = store.runningProjectName {
                    Text(name)
                        .font(.headline)
                        .lineLimit(1)
                }
                Button(store.timer?.running == nil ? "Start" : "Stop") {
                    Task { await store.toggleTimer() }
                }
                .tint(store.timer?.running == nil ? .green : .red)
                if store.timer?.running != nil {
                    Button("Correct") { correcting = true }
                }
                ForEach(store.projects, id: \.id) { project in
                    Button(project.name) {
                        Task { await store.switchProject(to: project) }
                    }
                    .disabled(store.timer?.running?.projectId == project.id)
                }
            }
        }
        .sheet(isPresented: $correcting) {
            CorrectTimerSheet(store: store) { correcting = false }
        }
    }

    /// The loaded total plus the time since it was loaded, while running.
    private func todaySeconds(at date: Date) -> Int64 {
        guard let status = store.timer else { return 0 }
        guard let running = status.running else { return status.todayS }
        let elapsedNow = Int64(date.timeIntervalSince(Date(unixMillis: running.startMs)))
        return status.todayS - status.elapsedS + max(elapsedNow, 0)
    }
}

/// Corrects the running entry through the core's `editEntry`: book it on
/// another project (from its start, unlike a switch), or stop it some
/// minutes ago.
struct CorrectTimerSheet: View {
    @ObservedObject var store: TachoStore
    let done: () -> Void

    var body: some View {
        List {
            Section("Stopped") {
                ForEach([5, 15, 30, 60], id: \.self) { minutes in
                    Button("\(minutes) min ago") {
                        Task {
                            await store.correctRunningEntry(
                                project: nil, stopAt: Date().addingTimeInterval(-Double(minutes) * 60))
                            done()
                        }
                    }
                }
            }
            Section("Whole entry on") {
                ForEach(store.projects, id: \.id) { project in
                    Button(project.name) {
                        Task {
                            await store.correctRunningEntry(project: project, stopAt: nil)
                            done()
                        }
                    }
                    .disabled(store.timer?.running?.projectId == project.id)
                }
            }
        }
    }
}
