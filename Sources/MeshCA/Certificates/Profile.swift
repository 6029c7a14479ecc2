import X509

/// What a leaf certificate may be used for, expressed as its extended key usage.
public enum Profile: String, CaseIterable, Sendable, Codable {
    case server
    case client
    case both

    var extendedKeyUsage: [ExtendedKeyUsage.Usage] {
        switch self {
        case .server: return [.serverAuth]
        case .client: return [.clientAuth]
        case .both: return [.serverAuth, .clientAuth]
        }
    }
}
