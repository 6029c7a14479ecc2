import ArgumentParser
import Logging
import MeshCA
import MeshPlatform
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
        var fields: [String: JSONValue] = [:]
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        for (key, value) in merged {
            fields[Self.reserved.contains(key) ? "meta.\(key)" : key] = Self.json(value)
        }
        fields["time"] = .string(Date().formatted(Self.timeFormat))
        fields["level"] = .string(event.level.rawValue)
        fields["logger"] = .string(label)
        fields["msg"] = .string(event.message.description)
        fields["source"] = .string(event.source)
        if let error = event.error { fields["error"] = .string("\(error)") }
        // Only strings, arrays and dictionaries of them go in, so encoding cannot fail.
        guard var line = try? Self.encoder.encode(fields) else { return }
        line.append(UInt8(ascii: "\n"))
        write([UInt8](line))
    }

    private static let reserved: Set<String> = ["time", "level", "logger", "msg", "source", "error"]
    private static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let string): return .string(string)
        case .stringConvertible(let convertible): return .string(convertible.description)
        case .array(let values): return .array(values.map(json))
        case .dictionary(let dictionary): return .object(dictionary.mapValues(json))
        }
    }

    /// A log field: swift-log metadata is strings, arrays and dictionaries of them.
    private enum JSONValue: Encodable {
        case string(String)
        case array([JSONValue])
        case object([String: JSONValue])

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let string): try container.encode(string)
            case .array(let values): try container.encode(values)
            case .object(let fields): try container.encode(fields)
            }
        }
    }

    /// Writes each line to fd 2 with one `write(2)` under a lock, so lines from several threads never mix.
    public static let standardError: @Sendable ([UInt8]) -> Void = { line in
        stderrLock.withLock {
            var offset = 0
            while offset < line.count {
                let written = line[offset...].withUnsafeBytes { writeStandardError($0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    private static let stderrLock = NIOLock()
}

/// `write(2)` on fd 2, outside `JSONLogHandler` whose `write` property would shadow it.
private func writeStandardError(_ bytes: UnsafeRawPointer?, _ count: Int) -> Int { write(2, bytes, count) }
