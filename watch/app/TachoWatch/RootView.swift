import SwiftUI
import Tacho
import TachoFFI

/// Three pages, one tap each: the timer, the active trip, the last trip; the count of open
/// timesheet conflicts in the corner when there are any.
struct RootView: View {
    @EnvironmentObject private var model: AppModel

    var body: some View {
        if let store = model.store {
            StoreView(store: store)
        } else if let error = model.openError {
            Text("Can't open Tacho: \(error)")
                .font(.footnote)
        } else {
            ProgressView()
        }
    }
}

private struct StoreView: View {
    @ObservedObject var store: TachoStore

    var body: some View {
        TabView {
            TimerPage(store: store)
            TripPage(store: store)
            LastTripPage(store: store)
        }
        .tabViewStyle(.page)
        .overlay(alignment: .topTrailing) {
            ConflictCountButton(store: store)
        }
        .overlay(alignment: .bottom) {
            if let error = store.lastError {
                Text(error)
                    .font(.caption2)
                    .foregroundStyle(.red)
                    .lineLimit(2)
            }
        }
    }
}
