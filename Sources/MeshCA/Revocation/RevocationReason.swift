/// CRL reason codes (RFC 5280 §5.3.1) that a permanent revocation may carry.
public enum RevocationReason: Int, CaseIterable, Sendable, Codable {
    case unspecified = 0
    case keyCompromise = 1
    case caCompromise = 2
    case affiliationChanged = 3
    case superseded = 4
    case cessationOfOperation = 5
    case privilegeWithdrawn = 9

    /// The name used on the command line and in OpenSSL's index.txt.
    public var opensslName: String {
        switch self {
        case .unspecified: return "unspecified"
        case .keyCompromise: return "keyCompromise"
        case .caCompromise: return "CACompromise"
        case .affiliationChanged: return "affiliationChanged"
        case .superseded: return "superseded"
        case .cessationOfOperation: return "cessationOfOperation"
        case .privilegeWithdrawn: return "privilegeWithdrawn"
        }
    }

    public init?(opensslName: String) {
        guard let match = Self.allCases.first(where: { $0.opensslName.lowercased() == opensslName.lowercased() })
        else { return nil }
        self = match
    }

    /// Parses a `--reason` value.
    public init(parsing text: String) throws {
        guard let reason = RevocationReason(opensslName: text) else {
            let names = Self.allCases.map(\.opensslName).joined(separator: ", ")
            throw MeshCAError.invalidInput("unknown revocation reason '\(text)': use one of \(names)")
        }
        self = reason
    }
}
