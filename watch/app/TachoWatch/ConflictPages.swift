import SwiftUI
import Tacho
import TachoFFI

/// The open timesheet-connector conflicts as a count on the main screen; a tap shows a short
/// list. Resolving one needs both sides next to each other, which the watch has no room for:
/// that stays on the phone (Connections → Conflicts), and the list says so.
struct ConflictCountButton: View {
    @ObservedObject var store: TachoStore
    @State private var showing = false

    var body: some View {
        if store.conflictCount > 0 {
            Button {
                showing = true
            } label: {
                Label("\(store.conflictCount)", systemImage: "arrow.triangle.branch")
                    .font(.caption2.monospacedDigit())
                    .foregroundStyle(.orange)
            }
            .buttonStyle(.plain)
            .accessibilityLabel("\(store.conflictCount) timesheet conflicts")
            .sheet(isPresented: $showing) {
                ConflictList(store: store)
            }
        }
    }
}

/// A short list of the open conflicts: where, what happened, when.
struct ConflictList: View {
    @ObservedObject var store: TachoStore

    var body: some View {
        List {
            Section {
                ForEach(store.conflicts, id: \.id) { conflict in
                    VStack(alignment: .leading, spacing: 2) {
                        Text(conflict.connectionName)
                            .font(.headline)
                            .lineLimit(1)
                        Text(conflict.message)
                            .font(.caption2)
                            .lineLimit(3)
                        Text(Date(timeIntervalSince1970: Double(conflict.raisedAtMs) / 1000),
                             style: .relative)
                            .font(.caption2)
                            .foregroundStyle(.secondary)
                    }
                }
            } footer: {
                Text("Resolve conflicts on your phone: Connections → Conflicts.")
            }
        }
        .task { await store.loadConflicts() }
    }
}
