import X509

/// What a leaf certificate may be used for, expressed as its extended key usage.
///
/// `TextOutputStreamable` because `String(describing:)` (the command line's help and default value) asks for
/// that first: without it the runtime scans every conformance in the binary for it, then for
/// `CustomStringConvertible`, `CustomDebugStringConvertible` and `CustomReflectable` before reflecting the case name.
public enum Profile: String, CaseIterable, Sendable, Codable, TextOutputStreamable {
    case server
    case client
    case both

    public func write<Target: TextOutputStream>(to target: inout Target) { target.write(rawValue) }

    var extendedKeyUsage: [ExtendedKeyUsage.Usage] {
        switch self {
        case .server: return [.serverAuth]
        case .client: return [.clientAuth]
        case .both: return [.serverAuth, .clientAuth]
        }
    }
}
