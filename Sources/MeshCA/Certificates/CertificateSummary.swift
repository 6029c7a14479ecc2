import Crypto
import MeshPlatform
import SwiftASN1
import X509

/// The human-facing facts of a certificate, for `certtool show` and `list`.
public struct CertificateSummary: Codable, Sendable, Equatable {
    public var subject: String
    public var issuer: String
    public var serial: String
    public var notBefore: Date
    public var notAfter: Date
    public var subjectAltNames: [String]
    public var keyUsage: [String]
    public var extendedKeyUsage: [String]
    public var isCA: Bool
    public var keyType: String
    public var signatureAlgorithm: String
    public var sha256Fingerprint: String

    public init(_ certificate: Certificate) {
        subject = certificate.subject.rfc4514
        issuer = certificate.issuer.rfc4514
        serial = certificate.serialNumber.hexString
        notBefore = certificate.notValidBefore
        notAfter = certificate.notValidAfter
        // Shown, not hidden: a SAN extension that does not decode (raw UTF-8 in a dNSName, say) is no SAN at all.
        do {
            let names = try certificate.extensions.subjectAlternativeNames
            subjectAltNames = (names.map { $0.compactMap(SubjectAltName.init) } ?? []).map(\.description)
        } catch {
            subjectAltNames = ["(malformed subjectAltName extension)"]
        }
        var usages: [String] = []
        if let ku = (try? certificate.extensions.keyUsage) ?? nil {
            let flags: [(Bool, String)] = [
                (ku.digitalSignature, "digitalSignature"), (ku.nonRepudiation, "nonRepudiation"),
                (ku.keyEncipherment, "keyEncipherment"), (ku.dataEncipherment, "dataEncipherment"),
                (ku.keyAgreement, "keyAgreement"), (ku.keyCertSign, "keyCertSign"), (ku.cRLSign, "cRLSign"),
            ]
            usages = flags.filter(\.0).map(\.1)
        }
        keyUsage = usages
        extendedKeyUsage = ((try? certificate.extensions.extendedKeyUsage) ?? nil).map { eku in
            eku.map { usage -> String in
                switch usage {
                case .serverAuth: return "serverAuth"
                case .clientAuth: return "clientAuth"
                case .codeSigning: return "codeSigning"
                case .emailProtection: return "emailProtection"
                case .ocspSigning: return "OCSPSigning"
                case .any: return "anyExtendedKeyUsage"
                default: return String(describing: usage)
                }
            }
        } ?? []
        if case .isCertificateAuthority = (try? certificate.extensions.basicConstraints) ?? nil { isCA = true } else { isCA = false }
        keyType = certificate.publicKey.algorithmName
        signatureAlgorithm = certificate.signatureAlgorithm.description
        let der = (try? certificate.derBytes) ?? []
        sha256Fingerprint = Array(SHA256.hash(data: der)).hexEncoded(separator: ":")
    }

    /// The profile implied by the EKU: server, client, both, ca, or other.
    public var profile: String {
        if isCA { return "ca" }
        switch (extendedKeyUsage.contains("serverAuth"), extendedKeyUsage.contains("clientAuth")) {
        case (true, true): return "both"
        case (true, false): return "server"
        case (false, true): return "client"
        default: return "other"
        }
    }
}

extension Certificate {
    /// The DER encoding of the whole certificate.
    public var derBytes: [UInt8] {
        get throws {
            var serializer = DER.Serializer()
            try serializer.serialize(self)
            return serializer.serializedBytes
        }
    }
}
