// The widget extension drawing the active trip's Live Activity: distance
// and a running timer on the Lock Screen and in the Dynamic Island.

import ActivityKit
import SwiftUI
import WidgetKit

@main
struct TripLiveActivityBundle: WidgetBundle {
    var body: some Widget {
        TripLiveActivityWidget()
    }
}

struct TripLiveActivityWidget: Widget {
    var body: some WidgetConfiguration {
        ActivityConfiguration(for: TripActivityAttributes.self) { context in
            HStack {
                Image(systemName: "car.fill")
                VStack(alignment: .leading) {
                    Text("Recording trip").font(.headline)
                    Text(kilometres(context.state.distanceM)).font(.subheadline)
                }
                Spacer()
                Text(context.attributes.startedAt, style: .timer)
                    .monospacedDigit()
                    .frame(width: 80)
            }
            .padding()
        } dynamicIsland: { context in
            DynamicIsland {
                DynamicIslandExpandedRegion(.leading) {
                    Label(kilometres(context.state.distanceM), systemImage: "car.fill")
                }
                DynamicIslandExpandedRegion(.trailing) {
                    Text(context.attributes.startedAt, style: .timer).monospacedDigit()
                }
            } compactLeading: {
                Image(systemName: "car.fill")
            } compactTrailing: {
                Text(kilometres(context.state.distanceM))
            } minimal: {
                Image(systemName: "car.fill")
            }
        }
    }
}

private func kilometres(_ metres: Double) -> String {
    String(format: "%.1f km", metres / 1000)
}
