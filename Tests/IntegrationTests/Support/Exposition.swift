import Foundation
import Testing

/// A Prometheus text exposition (a server's `/metrics`), as the tests read it.
enum Exposition {
    /// The value of the unlabelled sample `name`.
    static func value(_ name: String, in exposition: String) throws -> Double {
        let line = try #require(exposition.split(separator: "\n").first { $0.hasPrefix(name + " ") }, "no \(name) in:\n\(exposition)")
        return try #require(Double(line.split(separator: " ")[1]), "\(line)")
    }

    /// promtool's check of `exposition` (the Prometheus package's own parser and linter).
    static func lint(_ exposition: String) throws -> CommandResult {
        try Command.run("promtool", ["check", "metrics"], input: Data((exposition.hasSuffix("\n") ? exposition : exposition + "\n").utf8))
    }
}
