import MeshPlatform
import SwiftASN1
import X509

/// What a verified certificate must be good for.
public enum Purpose: String, CaseIterable, Sendable {
    case server
    case client

    var usage: ExtendedKeyUsage.Usage { self == .server ? .serverAuth : .clientAuth }
}

/// Chain building and policy checks for `certtool verify` and the TLS listeners: RFC 5280 path validation
/// (signatures, validity, basicConstraints), not revoked, purpose (EKU), and optionally the server name.
public struct ChainVerification: Sendable {
    public var roots: [Certificate]
    public var intermediates: [Certificate]
    /// Serials (upper-case hex) of revoked certificates, from the database or a CRL.
    public var revokedSerials: Set<String>
    public var purpose: Purpose?
    public var serverName: String?
    public var time: Date

    public init(roots: [Certificate], intermediates: [Certificate] = [], revokedSerials: Set<String> = [],
                purpose: Purpose? = nil, serverName: String? = nil, time: Date = Date()) {
        self.roots = roots
        self.intermediates = intermediates
        self.revokedSerials = revokedSerials
        self.purpose = purpose
        self.serverName = serverName
        self.time = time
    }

    /// Returns the validated chain (leaf first, root last) or throws `.verificationFailed` with the reason.
    public func verify(_ leaf: Certificate) async throws -> [Certificate] {
        let serverName = self.serverName
        let isIP = serverName.map { IPAddress($0) != nil } ?? false
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
            RFC5280Policy(validationTime: time)
            NotRevokedPolicy(revokedSerials: revokedSerials)
            if let purpose { PurposePolicy(purpose: purpose) }
            if let serverName {
                ServerIdentityPolicy(serverHostname: isIP ? nil : serverName, serverIP: isIP ? serverName : nil)
            }
        }
        switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates)) {
        case .validCertificate(let chain):
            return Array(chain)
        case .couldNotValidate(let failures):
            guard let failure = failures.first else {
                throw MeshCAError.verificationFailed(
                    "certificate does not chain to the trusted CA (its issuer is \(leaf.issuer))")
            }
            let reason = failure.policyFailureReason.description
            if let serverName, reason.contains("SAN") || reason.contains("name") {
                let sans = CertificateSummary(leaf).subjectAltNames.joined(separator: ", ")
                throw MeshCAError.verificationFailed("certificate is not valid for '\(serverName)' (its SANs: \(sans))")
            }
            throw MeshCAError.verificationFailed(Self.explain(reason))
        }
    }

    /// swift-certificates' reasons embed a dump of the whole certificate (`…Certificate(…) has expired`);
    /// keep the policy's verdict only.
    static func explain(_ reason: String) -> String {
        var text = reason.replacing("RFC5280Policy: ", with: "")
        if text.contains("Certificate("), let cut = text.ranges(of: ") ").last {
            text = "certificate " + text[cut.upperBound...]
        }
        return String(text.trimming(while: \.isWhitespace))
    }
}

private struct NotRevokedPolicy: VerifierPolicy {
    let revokedSerials: Set<String>
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = []

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) -> PolicyEvaluationResult {
        for certificate in chain where revokedSerials.contains(certificate.serialNumber.hexString) {
            let serial = certificate.serialNumber.hexString
            return .failsToMeetPolicy(reason: "certificate revoked (serial \(serial))")
        }
        return .meetsPolicy
    }
}

private struct PurposePolicy: VerifierPolicy {
    let purpose: Purpose
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.extendedKeyUsage]

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) -> PolicyEvaluationResult {
        let leaf = chain.leaf
        let name = purpose == .server ? "serverAuth" : "clientAuth"
        guard let eku = try? leaf.extensions.extendedKeyUsage, eku.contains(purpose.usage) || eku.contains(.any) else {
            return .failsToMeetPolicy(reason: "certificate lacks the \(name) extended key usage needed for a TLS \(purpose.rawValue)")
        }
        if let keyUsage = try? leaf.extensions.keyUsage, !keyUsage.digitalSignature {
            return .failsToMeetPolicy(reason: "certificate key usage lacks digitalSignature")
        }
        return .meetsPolicy
    }
}
