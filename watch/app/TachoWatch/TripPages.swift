import SwiftUI
import Tacho
import TachoFFI

/// The trip being recorded: live distance (from progress events) and
/// duration (ticking locally).
struct TripPage: View {
    @ObservedObject var store: TachoStore

    var body: some View {
        VStack(spacing: 6) {
            if let active = store.activeTrip {
                Label("Recording", systemImage: "car.fill")
                    .font(.caption)
                    .foregroundStyle(.green)
                Text(TachoFormat.distance(metres: active.distanceM))
                    .font(.system(.title2, design: .rounded).monospacedDigit())
                TimelineView(.periodic(from: .now, by: 1)) { context in
                    Text(TachoFormat.duration(
                        seconds: Int64(context.date.timeIntervalSince(active.trip.startedAt))))
                        .font(.body.monospacedDigit())
                }
            } else {
                Label("No trip", systemImage: "car")
                    .foregroundStyle(.secondary)
            }
        }
    }
}

/// The last ended trip with one-tap business / private / commute.
struct LastTripPage: View {
    @ObservedObject var store: TachoStore

    var body: some View {
        ScrollView {
            VStack(spacing: 6) {
                if let trip = store.lastTrip {
                    Text(trip.startedAt, style: .time)
                        .font(.caption)
                    Text(TachoFormat.distance(metres: trip.distanceM))
                        .font(.title3.monospacedDigit())
                    if let purpose = trip.purpose {
                        Text(trip.purposeBy == .user ? purpose.label : "\(purpose.label)?")
                            .font(.caption)
                            .foregroundStyle(.secondary)
                    }
                    ForEach([Purpose.business, .private, .commute], id: \.self) { purpose in
                        Button(purpose.label) {
                            Task { await store.classifyLastTrip(purpose) }
                        }
                        .tint(trip.purpose == purpose && trip.purposeBy == .user ? .blue : .gray)
                    }
                } else {
                    Text("No trips yet")
                        .foregroundStyle(.secondary)
                }
            }
        }
    }
}
