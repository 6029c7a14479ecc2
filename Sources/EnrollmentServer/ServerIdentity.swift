import MeshCA
import MeshPlatform
import X509

/// The CA server's own TLS certificate, issued from the pki it serves under a fixed name and re-issued by
/// the server itself when the wanted SANs change or two thirds of its lifetime have passed.
struct ServerIdentity: Sendable {
    static let name = "ca-server"

    let authority: CertificateAuthority
    let subjectAltNames: [SubjectAltName]
    let validity: ValidityPeriod

    var certificateFile: String { "\(authority.store.location)/issued/\(Self.name).crt" }
    var keyFile: String { "\(authority.store.location)/private/\(Self.name).key" }

    /// Issues a new certificate when needed; true when it did.
    @discardableResult
    func renewIfNeeded(now: Date = Date()) throws -> Bool {
        if let current = try authority.store.issuedChain(named: Self.name)?.first,
            FileManager.default.fileExists(atPath: keyFile),
            Set(current.subjectAltNames) == Set(subjectAltNames),
            !(try authority.revokedSerials().contains(current.serialNumber.hexString))
        {
            let lifetime = current.notValidAfter.timeIntervalSince(current.notValidBefore + CertificateBuilder.backdate)
            let renewAt = current.notValidBefore + CertificateBuilder.backdate + lifetime * 2 / 3
            if now < renewAt { return false }
        }
        _ = try authority.issue(
            CertificateAuthority.LeafRequest(
                name: Self.name, subjectAltNames: subjectAltNames, profile: .server, validity: validity, force: true))
        return true
    }
}
