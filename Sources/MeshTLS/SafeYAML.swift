import Yams

/// YAML loading for files users hand us. Yams traps (a force unwrap in `Constructor`) on a mapping key that
/// is not a scalar (`? [a]: b`); found by scripts/fuzz. Such documents are refused here before Yams builds
/// values from them.
public enum SafeYAML {
    /// Callers name the file in their own message.
    public struct Refusal: Error, CustomStringConvertible {
        public let description: String
    }

    public static func load(_ text: String) throws -> Any? {
        guard let node = try Yams.compose(yaml: text) else { return nil }
        try checkKeys(node)
        return Constructor.default.any(from: node)
    }

    private static func checkKeys(_ node: Node, depth: Int = 0) throws {
        guard depth < 64 else { throw Refusal(description: "nested deeper than 64 levels") }
        switch node {
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard case .scalar = key else { throw Refusal(description: "mapping keys must be plain strings") }
                try checkKeys(value, depth: depth + 1)
            }
        case .sequence(let sequence):
            for element in sequence { try checkKeys(element, depth: depth + 1) }
        case .scalar, .alias:
            break
        }
    }
}
