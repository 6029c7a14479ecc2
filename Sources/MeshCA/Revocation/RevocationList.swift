import MeshPlatform
import SwiftASN1
import X509

/// A parsed, signature-checked CRL: what a TLS listener needs to refuse revoked clients.
public struct RevocationList: Sendable, Equatable {
    public var issuer: DistinguishedName
    public var thisUpdate: Date
    public var nextUpdate: Date?
    public var number: Int?
    /// Serials (upper-case hex) of the revoked certificates.
    public var revokedSerials: Set<String>

    /// Parses a PEM or DER CRL and checks its signature against whichever of `issuers` has its issuer name.
    public init(bytes: [UInt8], issuers: [Certificate], source: String) throws {
        func fail(_ why: String) -> MeshCAError { .invalidInput("\(source) is not a usable CRL: \(why)") }
        var der = bytes
        if bytes.containsPEMBoundary {
            guard let document = try? PEMDocument(pemString: String(decoding: bytes, as: UTF8.self)),
                document.discriminator == "X509 CRL"
            else {
                throw fail("expected a -----BEGIN X509 CRL----- block")
            }
            der = document.derBytes
        }
        let parsed: (tbs: ASN1Node, algorithm: ASN1ObjectIdentifier, signature: ASN1BitString)
        do {
            parsed = try DER.sequence(try DER.parse(der), identifier: .sequence) { nodes in
                guard let tbs = nodes.next(), let algorithmNode = nodes.next(), let signatureNode = nodes.next() else {
                    throw ASN1Error.invalidASN1Object(reason: "CertificateList needs three fields")
                }
                let algorithm = try DER.sequence(algorithmNode, identifier: .sequence) { fields in
                    let oid = try ASN1ObjectIdentifier(derEncoded: &fields)
                    while fields.next() != nil {}
                    return oid
                }
                return (tbs, algorithm, try ASN1BitString(derEncoded: signatureNode))
            }
        } catch {
            throw fail("malformed DER (\(error))")
        }
        let fields = try Self.parseTBS(parsed.tbs, fail: fail)
        (issuer, thisUpdate, nextUpdate, number, revokedSerials) = fields

        guard let algorithm = Self.signatureAlgorithms[parsed.algorithm] else {
            throw fail("unsupported signature algorithm \(parsed.algorithm)")
        }
        let candidates = issuers.filter { $0.subject == fields.0 }
        guard !candidates.isEmpty else { throw fail("its issuer \(fields.0) is not the trusted CA") }
        guard candidates.contains(where: {
            $0.publicKey.isValidSignature(parsed.signature.bytes, for: parsed.tbs.encodedBytes, signatureAlgorithm: algorithm)
        }) else { throw fail("its signature does not verify against the CA") }
    }

    private static let signatureAlgorithms: [ASN1ObjectIdentifier: Certificate.SignatureAlgorithm] = [
        [1, 2, 840, 10045, 4, 3, 2]: .ecdsaWithSHA256, [1, 2, 840, 10045, 4, 3, 3]: .ecdsaWithSHA384,
        [1, 2, 840, 10045, 4, 3, 4]: .ecdsaWithSHA512, [1, 2, 840, 113549, 1, 1, 11]: .sha256WithRSAEncryption,
        [1, 2, 840, 113549, 1, 1, 12]: .sha384WithRSAEncryption, [1, 2, 840, 113549, 1, 1, 13]: .sha512WithRSAEncryption,
        [1, 3, 101, 112]: .ed25519,
    ]

    private static func parseTBS(
        _ node: ASN1Node, fail: (String) -> MeshCAError
    ) throws -> (DistinguishedName, Date, Date?, Int?, Set<String>) {
        do {
            return try DER.sequence(node, identifier: .sequence) { nodes in
                var next = nodes.next()
                if next?.identifier == .integer { next = nodes.next() }  // version
                guard next?.identifier == .sequence else { throw ASN1Error.invalidASN1Object(reason: "no signature algorithm") }
                guard let issuerNode = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "no issuer") }
                let issuer = try DistinguishedName(derEncoded: issuerNode)
                guard let thisUpdateNode = nodes.next(), let thisUpdate = try time(thisUpdateNode) else {
                    throw ASN1Error.invalidASN1Object(reason: "no thisUpdate")
                }
                var nextUpdate: Date?
                var revoked = Set<String>()
                var number: Int?
                while let field = nodes.next() {
                    if let date = try time(field) {
                        nextUpdate = date
                    } else if field.identifier == .sequence {
                        try DER.sequence(field, identifier: .sequence) { entries in
                            while let entry = entries.next() {
                                try DER.sequence(entry, identifier: .sequence) { parts in
                                    guard let serial = parts.next(), case .primitive(let bytes) = serial.content else {
                                        throw ASN1Error.invalidASN1Object(reason: "revoked entry without serial")
                                    }
                                    revoked.insert(Array(bytes.drop { $0 == 0 }).hexEncoded())
                                    while parts.next() != nil {}
                                }
                            }
                        }
                    } else if field.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific) {
                        number = try crlNumber(field)
                    }
                }
                return (issuer, thisUpdate, nextUpdate, number, revoked)
            }
        } catch let error as MeshCAError {
            throw error
        } catch {
            throw fail("malformed TBSCertList (\(error))")
        }
    }

    private static func time(_ node: ASN1Node) throws -> Date? {
        switch node.identifier {
        case .utcTime:
            let t = try UTCTime(derEncoded: node)
            return UTCDateTime(year: t.year, month: t.month, day: t.day, hour: t.hours, minute: t.minutes, second: t.seconds).date
        case .generalizedTime:
            let t = try GeneralizedTime(derEncoded: node)
            return UTCDateTime(year: t.year, month: t.month, day: t.day, hour: t.hours, minute: t.minutes, second: t.seconds).date
        default:
            return nil
        }
    }

    private static func crlNumber(_ node: ASN1Node) throws -> Int? {
        guard case .constructed(let wrapped) = node.content, let sequence = wrapped.first(where: { _ in true }) else { return nil }
        let extensions = try DER.sequence(of: Certificate.Extension.self, identifier: .sequence, rootNode: sequence)
        guard let value = extensions.first(where: { $0.oid == [2, 5, 29, 20] })?.value else { return nil }
        return try Int(derEncoded: value)
    }
}
