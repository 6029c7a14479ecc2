import MeshPlatform
import SwiftASN1
import X509

/// Decoding PKCS#10 requests as users hand them over: PEM (`CERTIFICATE REQUEST` or the older
/// `NEW CERTIFICATE REQUEST`), DER, or base64 DER as EST clients send it.
public enum CertificateRequestFile {
    public static func parse(_ bytes: [UInt8], source: String) throws -> CertificateSigningRequest {
        let fail = MeshCAError.invalidInput("\(source) is not a PKCS#10 certificate request (expected PEM or DER)")
        var der = bytes
        if bytes.containsPEMBoundary {
            guard let document = try? PEMDocument(pemString: String(decoding: bytes, as: UTF8.self)),
                ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"].contains(document.discriminator)
            else { throw fail }
            der = document.derBytes
        } else if bytes.allSatisfy({ $0 < 0x80 }),
            let decoded = Data(base64Encoded: Data(bytes), options: .ignoreUnknownCharacters), !decoded.isEmpty
        {
            der = Array(decoded)
        }
        do {
            return try CertificateSigningRequest(derEncoded: der)
        } catch {
            // swift-certificates refuses keys it cannot use (e.g. RSA below 2048 bits) while parsing; say so
            // rather than calling a well-formed request garbage.
            if looksLikeRequest(der) {
                throw MeshCAError.invalidInput(
                    "\(source) asks to certify an unsupported or too weak key: use ECDSA P-256/P-384, RSA of 2048 bits or more, or Ed25519")
            }
            throw fail
        }
    }

    /// CertificationRequest ::= SEQUENCE { SEQUENCE { INTEGER version, Name, SubjectPublicKeyInfo, [0] … }, … }
    private static func looksLikeRequest(_ der: [UInt8]) -> Bool {
        guard let root = try? DER.parse(der), case .constructed(let outer) = root.content,
            let info = outer.first(where: { _ in true }), case .constructed(let fields) = info.content
        else { return false }
        let identifiers = fields.map(\.identifier)
        return identifiers.count >= 4 && identifiers[0] == .integer && identifiers[1] == .sequence
            && identifiers[2] == .sequence
    }
}
