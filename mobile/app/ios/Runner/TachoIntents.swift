// App Intents that Shortcuts personal automations run on CarPlay or
// Bluetooth connect/disconnect without opening the app (see
// docs/shortcuts.md). Each intent forwards to Dart's TachoCore through
// TachoChannel; the intents hold no logic of their own.

import AppIntents

/// What connected, recorded as the trip's source.
enum TripTrigger: String, AppEnum {
    case carplay
    case bluetooth
    case manual

    static var typeDisplayRepresentation: TypeDisplayRepresentation = "Trigger"
    static var caseDisplayRepresentations: [TripTrigger: DisplayRepresentation] = [
        .carplay: "CarPlay",
        .bluetooth: "Bluetooth",
        .manual: "Manual",
    ]
}

/// "Start trip": a connect event. Within the grace period after a
/// disconnect it continues the same trip (a fuel stop).
struct StartTripIntent: AppIntent {
    static var title: LocalizedStringResource = "Start trip"
    static var description = IntentDescription("Starts recording a trip in Tacho.")
    static var openAppWhenRun = false

    @Parameter(title: "Trigger", default: .carplay)
    var trigger: TripTrigger

    @Parameter(title: "Car", description: "The car's Bluetooth or CarPlay name, to pick the car.")
    var car: String?

    @MainActor
    func perform() async throws -> some IntentResult & ProvidesDialog {
        _ = try await TachoChannel.shared.call(
            "connect", ["source": trigger.rawValue, "carHint": car])
        return .result(dialog: "Tacho is recording your trip.")
    }
}

/// "End trip". With `immediately` off it is a disconnect: the trip ends
/// after the grace period unless the car reconnects.
struct EndTripIntent: AppIntent {
    static var title: LocalizedStringResource = "End trip"
    static var description = IntentDescription("Ends the trip Tacho is recording.")
    static var openAppWhenRun = false

    @Parameter(title: "End immediately", default: false)
    var immediately: Bool

    @MainActor
    func perform() async throws -> some IntentResult & ProvidesDialog {
        _ = try await TachoChannel.shared.call(immediately ? "endTrip" : "disconnect")
        let dialog: IntentDialog =
            immediately ? "Trip ended." : "The trip ends unless the car reconnects."
        return .result(dialog: dialog)
    }
}

/// "Start timer" on a project (name), stopping a running one first.
struct StartTimerIntent: AppIntent {
    static var title: LocalizedStringResource = "Start timer"
    static var description = IntentDescription("Starts the Tacho work timer.")
    static var openAppWhenRun = false

    @Parameter(title: "Project")
    var project: String?

    @MainActor
    func perform() async throws -> some IntentResult & ProvidesDialog {
        _ = try await TachoChannel.shared.call("startTimer", ["project": project])
        return .result(dialog: "Timer started.")
    }
}

/// "Stop timer".
struct StopTimerIntent: AppIntent {
    static var title: LocalizedStringResource = "Stop timer"
    static var description = IntentDescription("Stops the Tacho work timer.")
    static var openAppWhenRun = false

    @MainActor
    func perform() async throws -> some IntentResult & ProvidesDialog {
        _ = try await TachoChannel.shared.call("stopTimer")
        return .result(dialog: "Timer stopped.")
    }
}

/// Makes the intents show up in Shortcuts and Siri without setup.
struct TachoShortcuts: AppShortcutsProvider {
    static var appShortcuts: [AppShortcut] {
        AppShortcut(
            intent: StartTripIntent(),
            phrases: ["Start a trip in \(.applicationName)"],
            shortTitle: "Start trip",
            systemImageName: "car.fill")
        AppShortcut(
            intent: EndTripIntent(),
            phrases: ["End the trip in \(.applicationName)"],
            shortTitle: "End trip",
            systemImageName: "flag.checkered")
        AppShortcut(
            intent: StartTimerIntent(),
            phrases: ["Start the \(.applicationName) timer"],
            shortTitle: "Start timer",
            systemImageName: "timer")
        AppShortcut(
            intent: StopTimerIntent(),
            phrases: ["Stop the \(.applicationName) timer"],
            shortTitle: "Stop timer",
            systemImageName: "stop.circle")
    }
}
