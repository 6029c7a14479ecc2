import MeshPlatform
import SwiftASN1
import X509

/// The "certs-only" PKCS#7 (CMS SignedData without signers) that EST returns (RFC 7030 §4.1.3, §4.2.3):
///
/// ```
/// ContentInfo ::= SEQUENCE { contentType id-signedData, content [0] EXPLICIT SignedData }
/// SignedData  ::= SEQUENCE { version 1, digestAlgorithms SET {}, encapContentInfo SEQUENCE { id-data },
///                            certificates [0] IMPLICIT SET OF Certificate, signerInfos SET {} }
/// ```
public enum CertsOnlyPKCS7 {
    static let signedDataType: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 7, 2]
    static let dataType: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 7, 1]
    private static let contextZero = ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)

    /// DER bytes of a certs-only message carrying `certificates`. DER orders a SET by encoding, so readers
    /// must not rely on the order (``orderedChain(_:leafKey:)`` restores it).
    public static func encode(_ certificates: [Certificate]) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.appendConstructedNode(identifier: .sequence) { contentInfo in
            try contentInfo.serialize(signedDataType)
            try contentInfo.appendConstructedNode(identifier: contextZero) { explicit in
                try explicit.appendConstructedNode(identifier: .sequence) { signedData in
                    try signedData.serialize(1)
                    signedData.appendConstructedNode(identifier: .set) { _ in }
                    try signedData.appendConstructedNode(identifier: .sequence) { try $0.serialize(dataType) }
                    if certificates.count == 1 {
                        // One element needs no ordering; serializeSetOf would encode it twice to sort it.
                        try signedData.appendConstructedNode(identifier: contextZero) { try $0.serialize(certificates[0]) }
                    } else {
                        try signedData.serializeSetOf(certificates, identifier: contextZero)
                    }
                    signedData.appendConstructedNode(identifier: .set) { _ in }
                }
            }
        }
        return serializer.serializedBytes
    }

    /// The certificates in a certs-only message (DER).
    public static func decode(_ der: [UInt8]) throws -> [Certificate] {
        do {
            let root = try DER.parse(der)
            return try DER.sequence(root, identifier: .sequence) { nodes in
                let type = try ASN1ObjectIdentifier(derEncoded: &nodes)
                guard type == signedDataType else {
                    throw MeshCAError.invalidInput("the PKCS#7 message is \(type), not signedData")
                }
                return try DER.explicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) { node in
                    try DER.sequence(node, identifier: .sequence) { nodes in
                        _ = try Int(derEncoded: &nodes)
                        _ = nodes.next()  // digestAlgorithms
                        _ = nodes.next()  // encapContentInfo
                        let certificates = try DER.optionalImplicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) {
                            try DER.set(of: Certificate.self, identifier: contextZero, rootNode: $0)
                        }
                        while nodes.next() != nil {}
                        return certificates ?? []
                    }
                }
            }
        } catch let error as MeshCAError {
            throw error
        } catch {
            throw MeshCAError.invalidInput("not a certs-only PKCS#7 message: \(error)")
        }
    }

    /// Base64 as EST transfers it (RFC 7030 §4: base64 content-transfer-encoding), wrapped at 64 columns.
    public static func base64(_ der: [UInt8]) -> String {
        let encoded = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return encoded + "\n"
    }

    /// Decodes EST's base64 body, tolerating line breaks and surrounding whitespace.
    public static func decodeBase64<Bytes: Collection>(_ body: Bytes) throws -> [Certificate] where Bytes.Element == UInt8 {
        let text = String(decoding: body, as: UTF8.self).filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: text) else {
            throw MeshCAError.invalidInput("the EST response is not base64")
        }
        return try decode([UInt8](data))
    }

    /// Puts a leaf (the certificate for `leafKey`) first, followed by its issuers in order. Self-signed roots
    /// are left out: a chain carries intermediates only.
    public static func orderedChain(_ certificates: [Certificate], leafKey: Certificate.PublicKey) throws -> [Certificate] {
        guard let leaf = certificates.first(where: { $0.publicKey == leafKey }) else {
            throw MeshCAError.invalidInput("the CA returned no certificate for our key")
        }
        var chain = [leaf]
        var remaining = certificates.filter { $0 != leaf && $0.subject != $0.issuer }
        while let next = remaining.firstIndex(where: { $0.subject == chain.last!.issuer }) {
            chain.append(remaining.remove(at: next))
        }
        return chain
    }
}

