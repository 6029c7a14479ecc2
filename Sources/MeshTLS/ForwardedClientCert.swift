/// Identity headers sent upstream. Client-sent copies are removed before these are added, so the upstream can
/// trust them.
public enum IdentityHeaders {
    /// Headers a client must not be able to forge.
    public static let reserved = ["x-forwarded-client-cert", "x-ssl-client-verify", "x-ssl-client-s-dn"]

    /// Envoy's `x-forwarded-client-cert` element: `Hash=<sha256>;Subject="<dn>";URI=<uri>;DNS=<dns>…`.
    public static func xfcc(_ identity: PeerIdentity) -> String {
        var parts = ["Hash=\(identity.sha256)", "Subject=\(quoted(identity.subject))"]
        parts += identity.uris.map { "URI=\(quotedIfNeeded($0))" }
        parts += identity.dnsNames.map { "DNS=\(quotedIfNeeded($0))" }
        return parts.joined(separator: ";")
    }

    private static func quoted(_ value: String) -> String {
        "\"" + value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }

    private static func quotedIfNeeded(_ value: String) -> String {
        value.contains(where: { ",;=\"".contains($0) }) ? quoted(value) : value
    }
}
