import MeshPlatform
import SwiftASN1
import X509

/// One subjectAltName entry, validated: a DNS name, an IP address, a URI or an email address.
public enum SubjectAltName: Hashable, Sendable, CustomStringConvertible {
    case dns(String)
    case ip(IPAddress)
    case uri(String)
    case email(String)

    /// Parses a `--san` value: `DNS:`, `IP:`, `URI:` or `email:` prefix, or a bare value typed by its shape
    /// (IP literal → IP, `scheme://` → URI, contains `@` → email, else DNS).
    public init(parsing spec: String) throws {
        let trimmed = String(spec.trimming(while: \.isWhitespace))
        if let colon = trimmed.firstIndex(of: ":"), let prefix = Self.prefix(String(trimmed[..<colon])) {
            let value = String(trimmed[trimmed.index(after: colon)...])
            guard !value.isEmpty else {
                throw MeshCAError.invalidInput("empty SAN '\(spec)': give a value after '\(trimmed[..<colon]):'")
            }
            self = try Self.make(prefix, value, spec: spec)
            return
        }
        guard !trimmed.isEmpty else { throw MeshCAError.invalidInput("empty SAN: give e.g. DNS:web.example.internal") }
        if IPAddress(trimmed) != nil {
            self = try Self.make("ip", trimmed, spec: spec)
        } else if trimmed.contains("://") {
            self = try Self.make("uri", trimmed, spec: spec)
        } else if trimmed.contains("@") {
            self = try Self.make("email", trimmed, spec: spec)
        } else if let colon = trimmed.firstIndex(of: ":"), !trimmed.contains("::") {
            throw MeshCAError.invalidInput(
                "unknown SAN type '\(trimmed[..<colon])' in '\(spec)': use DNS:, IP:, URI: or email:")
        } else {
            self = try Self.make("dns", trimmed, spec: spec)
        }
    }

    private static func prefix(_ text: String) -> String? {
        switch text.lowercased() {
        case "dns": return "dns"
        case "ip", "ip address": return "ip"
        case "uri": return "uri"
        case "email": return "email"
        default: return nil
        }
    }

    private static func make(_ kind: String, _ value: String, spec: String) throws -> SubjectAltName {
        switch kind {
        case "ip":
            guard let address = IPAddress(value) else {
                throw MeshCAError.invalidInput("invalid IP address '\(value)' in SAN '\(spec)'")
            }
            return .ip(address)
        case "uri":
            try validateURI(value, spec: spec)
            return .uri(value)
        case "email":
            try validateEmail(value, spec: spec)
            return .email(value)
        default:
            if IPAddress(value) != nil {
                throw MeshCAError.invalidInput("'\(value)' is an IP address: write it as IP:\(value), not DNS:")
            }
            try validateDNSName(value, spec: spec, allowWildcard: true)
            return .dns(value.lowercased())
        }
    }

    /// Checks an LDH host name: labels of 1–63 letters, digits and hyphens, not starting or ending with a hyphen,
    /// 253 characters at most; a wildcard only as the whole leftmost label of a name with two more labels.
    static func validateDNSName(_ name: String, spec: String, allowWildcard: Bool) throws {
        func fail(_ why: String) -> MeshCAError {
            MeshCAError.invalidInput("invalid DNS name '\(name)' in SAN '\(spec)': \(why)")
        }
        // On the UTF-8 bytes: a String per label cost more than the rest of a renewal's checks.
        let bytes = Array(name.utf8)
        guard bytes.allSatisfy({ $0 < 0x80 }) else {
            throw fail("non-ASCII characters; write internationalized names in punycode (xn--…)")
        }
        guard bytes.count <= 253 else { throw fail("longer than 253 characters") }
        var labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)[...]
        if labels.contains(where: \.isEmpty) { throw fail("empty label (leading, trailing or double dot)") }
        if labels.first?.elementsEqual([UInt8(ascii: "*")]) == true {
            guard allowWildcard else { throw fail("wildcards are not allowed here") }
            guard labels.count >= 3 else { throw fail("a wildcard needs at least two labels after '*.'") }
            labels = labels.dropFirst()
        }
        for label in labels {
            let text = { String(decoding: label, as: UTF8.self) }
            guard label.count <= 63 else { throw fail("label '\(text())' is longer than 63 characters") }
            if label.contains(UInt8(ascii: "*")) { throw fail("'*' is only allowed as the whole leftmost label") }
            guard label.allSatisfy({ $0.isLDH }) else {
                throw fail("label '\(text())' may contain only letters, digits and hyphens")
            }
            if label.first == UInt8(ascii: "-") || label.last == UInt8(ascii: "-") {
                throw fail("label '\(text())' starts or ends with a hyphen")
            }
        }
        if labels.last!.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            throw fail("the last label is numeric; use IP: for addresses")
        }
    }

    private static func validateURI(_ value: String, spec: String) throws {
        func fail(_ why: String) -> MeshCAError {
            MeshCAError.invalidInput("invalid URI '\(value)' in SAN '\(spec)': \(why)")
        }
        guard value.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value != 0x7F }) else {
            throw fail("spaces, control or non-ASCII characters must be percent-encoded")
        }
        // The SPIFFE ID bound; no relying party needs longer.
        guard value.utf8.count <= 2048 else { throw fail("longer than 2048 bytes") }
        guard let colon = value.firstIndex(of: ":") else { throw fail("no scheme (e.g. spiffe://…, https://…)") }
        let scheme = value[..<colon]
        guard let first = scheme.utf8.first, first.isLetter,
            scheme.utf8.allSatisfy({ $0.isLetter || $0.isDigit || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
        else { throw fail("the scheme must start with a letter and contain only letters, digits, '+', '-' or '.'") }
        guard let url = URL(string: value), url.scheme != nil else { throw fail("not a valid URI") }
        // RFC 5280 §4.2.1.6: the name must not be a relative reference and must include an authority.
        guard let host = url.host, !host.isEmpty else { throw fail("it must include an authority (scheme://host/…)") }
    }

    private static func validateEmail(_ value: String, spec: String) throws {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64, value.utf8.count <= 254,
            parts[0].unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value != 0x7F && $0 != "\"" })
        else {
            throw MeshCAError.invalidInput("invalid email address '\(value)' in SAN '\(spec)': expected local@domain")
        }
        try validateDNSName(String(parts[1]), spec: spec, allowWildcard: false)
    }

    public var description: String {
        switch self {
        case .dns(let name): return "DNS:\(name)"
        case .ip(let address): return "IP:\(address)"
        case .uri(let uri): return "URI:\(uri)"
        case .email(let email): return "email:\(email)"
        }
    }

    var generalName: GeneralName {
        switch self {
        case .dns(let name): return .dnsName(name)
        case .ip(let address): return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(address.bytes)))
        case .uri(let uri): return .uniformResourceIdentifier(uri)
        case .email(let email): return .rfc822Name(email)
        }
    }

    /// A SAN from untrusted input (a CSR), held to the rules `--san` values are; nil for other name forms.
    static func validated(_ name: GeneralName) throws -> SubjectAltName? {
        guard let san = SubjectAltName(name) else { return nil }
        switch san {
        case .dns(let value): return try make("dns", value, spec: san.description)
        case .ip: return san
        case .uri(let value): return try make("uri", value, spec: san.description)
        case .email(let value): return try make("email", value, spec: san.description)
        }
    }

    /// Reads back a SAN from a certificate; nil for other name forms.
    public init?(_ name: GeneralName) {
        switch name {
        case .dnsName(let value): self = .dns(value)
        case .ipAddress(let bytes):
            guard let address = IPAddress(bytes: Array(bytes.bytes)) else { return nil }
            self = .ip(address)
        case .uniformResourceIdentifier(let value): self = .uri(value)
        case .rfc822Name(let value): self = .email(value)
        default: return nil
        }
    }
}

/// An IPv4 or IPv6 address, kept in network byte order.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Parses a textual IPv4 (dotted quad) or IPv6 address; nil when it is neither.
    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return
        }
        return nil
    }

    init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension UInt8 {
    fileprivate var isLetter: Bool { (self >= 0x41 && self <= 0x5A) || (self >= 0x61 && self <= 0x7A) }
    fileprivate var isDigit: Bool { self >= 0x30 && self <= 0x39 }
    fileprivate var isLDH: Bool { isLetter || isDigit || self == UInt8(ascii: "-") }
}

extension Certificate {
    /// The DNS, IP, URI and email SANs of the certificate (other name forms are skipped).
    public var subjectAltNames: [SubjectAltName] {
        guard let names = (try? extensions.subjectAlternativeNames) ?? nil else { return [] }
        return names.compactMap(SubjectAltName.init)
    }
}
