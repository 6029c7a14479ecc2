/// A YAML file could not be loaded; the message is one line, with the line and column where that helps.
public struct YAMLError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// YAML loading for files users hand us (libyaml parses; this builds values). Bounded: nesting deeper than 64
/// levels and documents whose aliases expand past 100,000 nodes are refused, so a small hostile file cannot
/// exhaust the stack or the memory.
public enum YAML {
    public static let maximumDepth = 64
    public static let maximumNodes = 100_000

    /// The single document in `text`; nil for an empty stream.
    ///
    /// - Parameter resolvingScalars: false reads every non-null plain scalar as the string written, as Go's
    ///   yaml.v2 fills a string field from any scalar (`read_timeout: 10` is "10").
    public static func load(_ text: String, resolvingScalars: Bool = true) throws -> YAMLValue? {
        var loader = try Loader(text, resolvingScalars: resolvingScalars)
        guard let document = try loader.document() else { return nil }
        if try loader.document() != nil { throw YAMLError("expected one YAML document, found several") }
        return document
    }

    /// Every document in `text` (a Kubernetes manifest file, say).
    public static func loadAll(_ text: String) throws -> [YAMLValue] {
        var loader = try Loader(text, resolvingScalars: true)
        var documents: [YAMLValue] = []
        while let document = try loader.document() { documents.append(document) }
        return documents
    }
}

private let core = "tag:yaml.org,2002:"

/// Builds values from libyaml's events. Anchors are per document, as YAML says.
private struct Loader {
    let events: YAMLEvents
    let resolvingScalars: Bool
    var anchors: [String: (value: YAMLValue, nodes: Int)] = [:]
    var nodes = 0

    init(_ text: String, resolvingScalars: Bool) throws {
        events = try YAMLEvents(text)
        self.resolvingScalars = resolvingScalars
        guard case .streamStart = try events.next() else { throw refusal("expected the start of a YAML stream") }
    }

    mutating func document() throws -> YAMLValue? {
        switch try events.next() {
        case .streamEnd: return nil
        case .documentStart: break
        default: throw refusal("expected a YAML document")
        }
        anchors = [:]
        nodes = 0
        let value = try node(try events.next(), depth: 0).value
        guard case .documentEnd = try events.next() else { throw refusal("expected the end of the document") }
        return value
    }

    private mutating func node(_ event: YAMLEvents.Event, depth: Int) throws -> (value: YAMLValue, nodes: Int) {
        guard depth < YAML.maximumDepth else { throw refusal("nested deeper than \(YAML.maximumDepth) levels") }
        let built: (value: YAMLValue, nodes: Int)
        let anchor: String?
        switch event {
        case .alias(let name):
            guard let target = anchors[name] else { throw refusal("alias *\(name) names no anchor before it") }
            try count(target.nodes)
            return target
        case .scalar(let name, let tag, let text, let plain):
            anchor = name
            try count(1)
            built = (try scalar(text, tag: tag, plain: plain), 1)
        case .sequenceStart(let name, let tag):
            anchor = name
            try expect(tag, core + "seq")
            try count(1)
            var elements: [YAMLValue] = []
            var total = 1
            while true {
                let next = try events.next()
                if case .sequenceEnd = next { break }
                let element = try node(next, depth: depth + 1)
                elements.append(element.value)
                total += element.nodes
            }
            built = (.sequence(elements), total)
        case .mappingStart(let name, let tag):
            anchor = name
            try expect(tag, core + "map")
            try count(1)
            var mapping: [String: YAMLValue] = [:]
            var total = 1
            while true {
                let next = try events.next()
                if case .mappingEnd = next { break }
                guard case .scalar(_, _, let key, _) = next else { throw refusal("mapping keys must be plain strings") }
                let (line, column) = (events.line, events.column)
                let value = try node(try events.next(), depth: depth + 1)
                guard mapping.updateValue(value.value, forKey: key) == nil else {
                    throw YAMLError("line \(line), column \(column): key '\(key.prefix(40))' appears twice in one mapping")
                }
                total += 1 + value.nodes
            }
            built = (.mapping(mapping), total)
        default:
            throw refusal("expected a YAML value")
        }
        if let anchor { anchors[anchor] = built }
        return built
    }

    private func scalar(_ text: String, tag: String?, plain: Bool) throws -> YAMLValue {
        guard let tag else {
            guard plain else { return .string(text) }
            return resolvingScalars || YAMLValue.isNull(plain: text) ? YAMLValue.resolve(plain: text) : .string(text)
        }
        if tag == "!" { return .string(text) }
        guard tag.hasPrefix(core) else { throw refusal("unsupported tag \(tag)") }
        let value = YAMLValue.resolve(plain: text)
        switch (tag.dropFirst(core.count), value) {
        case ("str", _): return .string(text)
        case ("null", .null), ("bool", .bool), ("int", .int), ("float", .double): return value
        case ("float", .int(let integer)): return .double(Double(integer))
        case (let kind, _) where ["null", "bool", "int", "float"].contains(kind):
            throw refusal("'\(text.prefix(40))' is not a valid !!\(kind)")
        default:
            throw refusal("unsupported tag \(tag)")
        }
    }

    private func expect(_ tag: String?, _ allowed: String) throws {
        if let tag, tag != allowed, tag != "!" { throw refusal("unsupported tag \(tag)") }
    }

    /// Aliases copy their anchor's value, so the count includes every node an alias repeats.
    private mutating func count(_ added: Int) throws {
        nodes += added
        guard nodes <= YAML.maximumNodes else {
            throw refusal("the document expands to more than \(YAML.maximumNodes) nodes (aliases repeat their anchors)")
        }
    }

    private func refusal(_ why: String) -> YAMLError {
        YAMLError("line \(events.line), column \(events.column): \(why)")
    }
}
