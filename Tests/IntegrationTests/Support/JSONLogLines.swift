import Foundation

/// Reads a process's `--log-format json` output: every line must be one JSON object, except lines that start
/// with one of the prefixes (what the process prints to stdout, such as its listening address).
enum JSONLogLines {
    static func parse(_ output: String, skipping prefixes: String...) throws -> [[String: Any]] {
        try output.split(separator: "\n").filter { line in !prefixes.contains { line.hasPrefix($0) } }.map { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  object["time"] is String, object["level"] is String, object["msg"] is String
            else { throw TestFailure("not a JSON log line: \(line)") }
            return object
        }
    }
}
