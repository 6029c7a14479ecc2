import MeshCA

/// Which verified identities may pass: exact DNS (case-insensitive), IP, email or URI SANs; in a URI, `*`
/// matches one path segment and `**` the rest. An empty list allows every verified identity.
public struct SANAllowList: Sendable, CustomStringConvertible {
    enum Entry: Sendable {
        case exact(SubjectAltName)
        case uriPattern([Substring])
    }

    let entries: [Entry]
    public let description: String

    public init(_ specs: [String]) throws {
        entries = try specs.map { spec in
            let value = spec.hasPrefix("URI:") ? String(spec.dropFirst(4)) : spec
            if value.contains("*"), value.contains("://") {
                return .uriPattern(value.split(separator: "/", omittingEmptySubsequences: false))
            }
            return .exact(try SubjectAltName(parsing: spec))
        }
        description = specs.joined(separator: ", ")
    }

    public var allowsEveryone: Bool { entries.isEmpty }

    /// The empty list: any verified identity.
    public static let anyone = try! SANAllowList([])

    /// The first of the peer's SANs that the list allows, or nil.
    public func match(_ identity: PeerIdentity) -> SubjectAltName? {
        if entries.isEmpty { return identity.subjectAltNames.first }
        for san in identity.subjectAltNames {
            for entry in entries where Self.matches(entry, san) { return san }
        }
        return nil
    }

    private static func matches(_ entry: Entry, _ san: SubjectAltName) -> Bool {
        switch (entry, san) {
        case (.exact(.dns(let allowed)), .dns(let name)): return allowed.lowercased() == name.lowercased()
        case (.exact(let allowed), _): return allowed == san
        case (.uriPattern(let pattern), .uri(let uri)):
            let segments = uri.split(separator: "/", omittingEmptySubsequences: false)
            for (index, part) in pattern.enumerated() {
                if part == "**" { return index < segments.count }
                guard index < segments.count else { return false }
                if part != "*" && part != segments[index] { return false }
                if part == "*" && segments[index].isEmpty { return false }
            }
            return pattern.count == segments.count
        default: return false
        }
    }
}
