import Yams

/// YAML loading for files users hand us. Yams traps on two shapes scripts/fuzz found, which are refused here
/// before Yams builds values: a mapping key that is not a scalar (`? [a]: b`, a force unwrap in
/// `Constructor`), and a YAML 1.1 base-60 integer (`1:2:1:21:2:1:21:2:1:21:2:1:2`), which Yams multiplies out
/// with overflow-trapping arithmetic.
public enum SafeYAML {
    /// Callers name the file in their own message.
    public struct Refusal: Error, CustomStringConvertible {
        public let description: String
    }

    public static func load(_ text: String) throws -> Any? {
        guard let node = try Yams.compose(yaml: text) else { return nil }
        try check(node)
        return Constructor.default.any(from: node)
    }

    private static func check(_ node: Node, depth: Int = 0) throws {
        guard depth < 64 else { throw Refusal(description: "nested deeper than 64 levels") }
        switch node {
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard case .scalar = key else { throw Refusal(description: "mapping keys must be plain strings") }
                try check(key, depth: depth + 1)
                try check(value, depth: depth + 1)
            }
        case .sequence(let sequence):
            for element in sequence { try check(element, depth: depth + 1) }
        case .scalar(let scalar):
            if node.tag.rawValue == Tag.Name.int.rawValue && scalar.string.contains(":") {
                throw Refusal(description: "'\(scalar.string.prefix(40))' is a YAML 1.1 base-60 number: quote it if it is a string")
            }
        case .alias:
            break
        }
    }
}
