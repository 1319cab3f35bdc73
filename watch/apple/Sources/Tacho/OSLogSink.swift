import Foundation
import os
import TachoFFI

/// Forwards the Rust core's `tracing` records to the unified log, so core
/// messages show in Console.app next to the app's own.
public final class OSLogSink: LogSink, @unchecked Sendable {
    // `Logger` is thread-safe; the sink is called on core threads.
    private let logger: Logger

    public init(subsystem: String = "app.tacho", category: String = "core") {
        logger = Logger(subsystem: subsystem, category: category)
    }

    public func log(record: LogRecord) {
        let text = record.fields.isEmpty ? record.message : "\(record.message) \(record.fields)"
        switch record.level {
        case .error:
            logger.error("\(record.target, privacy: .public): \(text, privacy: .private)")
        case .warn:
            logger.warning("\(record.target, privacy: .public): \(text, privacy: .private)")
        case .info:
            logger.info("\(record.target, privacy: .public): \(text, privacy: .private)")
        case .debug, .trace:
            logger.debug("\(record.target, privacy: .public): \(text, privacy: .private)")
        }
    }

    /// Installs the sink once per process. Returns false when the host
    /// already installed another `tracing` subscriber (then nothing is forwarded).
    @discardableResult
    public static func install(level: LogLevel = .info) -> Bool {
        do {
            try setLogSink(sink: OSLogSink(), level: level)
            return true
        } catch {
            return false
        }
    }
}
