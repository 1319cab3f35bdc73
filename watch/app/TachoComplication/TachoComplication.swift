import SwiftUI
import WidgetKit

/// The watch-face complication: today's hours, counting up while a timer
/// runs. A separate widget-extension target; it reads the App Group snapshot
/// the app writes (Shared/ComplicationSnapshot.swift) and never opens the
/// database itself.
@main
struct TachoComplications: WidgetBundle {
    var body: some Widget {
        TodayHoursWidget()
    }
}

struct TodayEntry: TimelineEntry {
    let date: Date
    let snapshot: ComplicationSnapshot
}

struct TodayProvider: TimelineProvider {
    func placeholder(in context: Context) -> TodayEntry {
        TodayEntry(date: Date(), snapshot: .empty)
    }

    func getSnapshot(in context: Context, completion: @escaping (TodayEntry) -> Void) {
        completion(TodayEntry(date: Date(), snapshot: ComplicationSnapshot.load()))
    }

    func getTimeline(in context: Context, completion: @escaping (Timeline<TodayEntry>) -> Void) {
        let snapshot = ComplicationSnapshot.load()
        let now = Date()
        // While a timer runs, one entry per minute for the next hour; the app
        // asks for a reload whenever something changes.
        let minutes = snapshot.timerStartedAt == nil ? 0 : 60
        let entries = (0...minutes).map { minute in
            TodayEntry(date: now.addingTimeInterval(TimeInterval(minute * 60)), snapshot: snapshot)
        }
        completion(Timeline(entries: entries, policy: .atEnd))
    }
}

struct TodayHoursWidget: Widget {
    var body: some WidgetConfiguration {
        StaticConfiguration(kind: "app.tacho.today", provider: TodayProvider()) { entry in
            TodayView(entry: entry)
        }
        .configurationDisplayName("Today")
        .description("Hours worked today and the running timer.")
        .supportedFamilies([.accessoryCircular, .accessoryInline, .accessoryRectangular])
    }
}

struct TodayView: View {
    @Environment(\.widgetFamily) private var family
    let entry: TodayEntry

    private var hours: String {
        let seconds = entry.snapshot.todaySeconds(at: entry.date)
        return String(format: "%d:%02d", seconds / 3600, (seconds % 3600) / 60)
    }

    var body: some View {
        switch family {
        case .accessoryInline:
            Text(entry.snapshot.timerStartedAt == nil ? "\(hours) today" : "▶ \(hours)")
        case .accessoryRectangular:
            VStack(alignment: .leading) {
                Text("Today \(hours)")
                    .font(.headline)
                if let project = entry.snapshot.projectName {
                    Text(project)
                        .lineLimit(1)
                }
                if let metres = entry.snapshot.activeTripMetres {
                    Text(String(format: "Trip %.1f km", metres / 1000))
                }
            }
        default:
            ZStack {
                AccessoryWidgetBackground()
                Text(hours)
                    .font(.system(.body, design: .rounded).monospacedDigit())
            }
        }
    }
}
