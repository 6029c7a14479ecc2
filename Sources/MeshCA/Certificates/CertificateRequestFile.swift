import Crypto
import MeshPlatform
import SwiftASN1
import X509

/// Decoding PKCS#10 requests as users hand them over: PEM (`CERTIFICATE REQUEST` or the older
/// `NEW CERTIFICATE REQUEST`), DER, or base64 DER as EST clients send it.
public enum CertificateRequestFile {
    public static func parse(_ bytes: [UInt8], source: String) throws -> CertificateSigningRequest {
        try parseRequest(bytes, source: source).csr
    }

    /// The request and its key's identifier, read from one parse of the bytes.
    public static func parseRequest(_ bytes: [UInt8], source: String) throws -> CertificateRequest {
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
        guard let root = try? DER.parse(der) else { throw fail }
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(derEncoded: root)
        } catch {
            // swift-certificates refuses keys it cannot use (e.g. RSA below 2048 bits) while parsing; say so
            // rather than calling a well-formed request garbage.
            if looksLikeRequest(root) {
                throw MeshCAError.invalidInput(
                    "\(source) asks to certify an unsupported or too weak key: use ECDSA P-256/P-384, RSA of 2048 bits or more, or Ed25519")
            }
            throw fail
        }
        return CertificateRequest(csr: csr, keyIdentifier: keyIdentifier(root, key: csr.publicKey))
    }

    /// CertificationRequest ::= SEQUENCE { SEQUENCE { INTEGER version, Name, SubjectPublicKeyInfo, [0] … }, … }:
    /// the inner sequence's fields.
    private static func infoFields(_ root: ASN1Node) -> ASN1NodeCollection? {
        guard case .constructed(let outer) = root.content,
            let info = outer.first(where: { _ in true }), case .constructed(let fields) = info.content
        else { return nil }
        return fields
    }

    private static func looksLikeRequest(_ root: ASN1Node) -> Bool {
        guard let fields = infoFields(root) else { return false }
        let identifiers = fields.map(\.identifier)
        return identifiers.count >= 4 && identifiers[0] == .integer && identifiers[1] == .sequence
            && identifiers[2] == .sequence
    }

    /// RFC 5280 §4.2.1.2 method 1 over the subjectPublicKey bits as the request carries them, when those are the
    /// bits the certificate will carry: an uncompressed EC point (0x04 first; the key parsed, so the length is
    /// right), which swift-certificates writes back unchanged. (Hashing the parsed key instead re-encodes it from
    /// BoringSSL, a field inversion each time.)
    private static func keyIdentifier(_ root: ASN1Node, key: Certificate.PublicKey) -> SubjectKeyIdentifier? {
        guard P256.Signing.PublicKey(key) != nil || P384.Signing.PublicKey(key) != nil || P521.Signing.PublicKey(key) != nil,
            var fields = infoFields(root)?.makeIterator()
        else { return nil }
        _ = fields.next()  // version
        _ = fields.next()  // subject
        guard let spki = fields.next(), case .constructed(let parts) = spki.content else { return nil }
        var spkiParts = parts.makeIterator()
        _ = spkiParts.next()  // algorithm
        guard let bits = try? ASN1BitString(derEncoded: &spkiParts), bits.paddingBits == 0, bits.bytes.first == 0x04
        else { return nil }
        return SubjectKeyIdentifier(keyIdentifier: ArraySlice(Insecure.SHA1.hash(data: bits.bytes)))
    }
}

/// A PKCS#10 request and, when it can be read from the request's own bytes, the identifier its key gets in the
/// certificate.
public struct CertificateRequest: Sendable {
    public let csr: CertificateSigningRequest
    /// The subject key identifier of `csr.publicKey`; nil when only re-encoding the key can tell.
    public let keyIdentifier: SubjectKeyIdentifier?

    /// A request made or parsed elsewhere: its key identifier is computed when the certificate is built.
    public init(_ csr: CertificateSigningRequest) {
        self.init(csr: csr, keyIdentifier: nil)
    }

    init(csr: CertificateSigningRequest, keyIdentifier: SubjectKeyIdentifier?) {
        self.csr = csr
        self.keyIdentifier = keyIdentifier
    }
}
