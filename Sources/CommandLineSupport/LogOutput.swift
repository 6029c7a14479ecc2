import ArgumentParser
import Foundation
import Logging
import MeshCA
import NIOConcurrencyHelpers

/// How the long-running commands write their logs to stderr: swift-log's text lines, or one JSON object per
/// line for log collectors (Loki, Elasticsearch, Cloud Logging), like Prometheus's `--log.format=json`.
public enum LogFormat: String, CaseIterable, ExpressibleByArgument, Sendable {
    case text
    case json

    /// Parses a config-file value, naming the file's key in the error.
    public init(configValue: String, key: String) throws {
        guard let format = LogFormat(rawValue: configValue) else {
            throw MeshCAError.invalidInput("invalid \(key) '\(configValue)': use text or json")
        }
        self = format
    }
}

/// Sends swift-log to stderr at `level` in `format`; returns a logger labelled `label`. `levelKey` names
/// where the level came from (an option or a config file's key) in the error for an unknown one.
public func bootstrapLogging(level name: String, format: LogFormat, label: String, levelKey: String = "--log-level") throws -> Logger {
    guard let level = Logger.Level(rawValue: name) else {
        throw MeshCAError.invalidInput("invalid \(levelKey) '\(name)': use trace, debug, info, notice, warning, error or critical")
    }
    LoggingSystem.bootstrap { label in
        switch format {
        case .text:
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        case .json:
            var handler = JSONLogHandler(label: label, metadataProvider: LoggingSystem.metadataProvider, write: JSONLogHandler.standardError)
            handler.logLevel = level
            return handler
        }
    }
    return Logger(label: label)
}

/// One JSON object per event: `time` (RFC 3339, UTC, milliseconds), `level`, `logger` (the label), `msg`,
/// `source` (the module), `error` when one is attached, and the metadata as top-level keys — nested values
/// stay objects and arrays. A metadata key that collides with one of those names is written as `meta.KEY`.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable ([UInt8]) -> Void

    /// `write` receives each line, newline included; it must not interleave concurrent lines.
    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil, write: @escaping @Sendable ([UInt8]) -> Void) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: Any] = [:]
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        for (key, value) in merged {
            fields[Self.reserved.contains(key) ? "meta.\(key)" : key] = Self.json(value)
        }
        fields["time"] = Date().formatted(Self.timeFormat)
        fields["level"] = event.level.rawValue
        fields["logger"] = label
        fields["msg"] = event.message.description
        fields["source"] = event.source
        if let error = event.error { fields["error"] = "\(error)" }
        // Only strings, arrays and dictionaries of them go in, so serialization cannot fail.
        guard var line = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        line.append(UInt8(ascii: "\n"))
        write([UInt8](line))
    }

    private static let reserved: Set<String> = ["time", "level", "logger", "msg", "source", "error"]
    private static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    private static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let string): return string
        case .stringConvertible(let convertible): return convertible.description
        case .array(let values): return values.map(json)
        case .dictionary(let dictionary): return dictionary.mapValues(json)
        }
    }

    /// Writes each line to fd 2 with one `write(2)` under a lock, so lines from several threads never mix.
    public static let standardError: @Sendable ([UInt8]) -> Void = { line in
        stderrLock.withLock {
            var offset = 0
            while offset < line.count {
                let written = line[offset...].withUnsafeBytes { Foundation.write(2, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    private static let stderrLock = NIOLock()
}
