import Foundation
import TachoFFI

/// Small, locale-aware formatting shared by the watch views and the
/// complication, so both show the same numbers.
public enum TachoFormat {
    /// `7:05` for 25 500 seconds: hours are what people book.
    public static func hoursMinutes(seconds: Int64) -> String {
        let clamped = max(seconds, 0)
        let hours = clamped / 3600
        let minutes = (clamped % 3600) / 60
        return String(format: "%d:%02d", hours, minutes)
    }

    /// `12.4 km` (or miles where the locale uses them).
    public static func distance(metres: Double) -> String {
        let measurement = Measurement(value: max(metres, 0), unit: UnitLength.meters)
        let formatter = MeasurementFormatter()
        formatter.unitOptions = .naturalScale
        formatter.numberFormatter.maximumFractionDigits = 1
        return formatter.string(from: measurement)
    }

    /// `0:42:07` for a running trip or timer.
    public static func duration(seconds: Int64) -> String {
        let clamped = max(seconds, 0)
        return String(format: "%d:%02d:%02d", clamped / 3600, (clamped % 3600) / 60, clamped % 60)
    }
}

extension Date {
    /// The Rust side's instants are Unix milliseconds.
    public init(unixMillis: Int64) {
        self.init(timeIntervalSince1970: TimeInterval(unixMillis) / 1000)
    }

    /// This date as Unix milliseconds for calls into the core.
    public var unixMillis: Int64 {
        Int64((timeIntervalSince1970 * 1000).rounded())
    }
}

extension Trip {
    /// Start of the trip as a `Date`.
    public var startedAt: Date { Date(unixMillis: startedAtMs) }

    /// End of the trip, once ended.
    public var endedAt: Date? { endedAtMs.map { Date(unixMillis: $0) } }
}

extension Purpose {
    /// Short label for the one-tap buttons.
    public var label: String {
        switch self {
        case .business: return "Business"
        case .private: return "Private"
        case .commute: return "Commute"
        }
    }
}
