import MeshPlatform
import SwiftASN1
import X509

/// An X.509 v2 CRL (RFC 5280 §5) signed by a CA, carrying a CRL number and an authority key identifier.
///
/// swift-certificates parses and verifies CRL-free chains only, so the CertificateList is encoded here with
/// swift-asn1's DER serializer.
public struct CertificateRevocationList: Sendable {
    public struct Entry: Sendable, Equatable {
        public var serial: [UInt8]
        public var revocationDate: Date
        public var reason: RevocationReason?

        public init(serial: [UInt8], revocationDate: Date, reason: RevocationReason?) {
            self.serial = serial
            self.revocationDate = revocationDate
            self.reason = reason
        }
    }

    public let derBytes: [UInt8]
    /// How many certificates it lists as revoked.
    public let revokedCount: Int

    public var pemString: String { PEMDocument(type: "X509 CRL", derBytes: derBytes).pemString + "\n" }

    /// Encodes and signs a CRL.
    public init(
        issuer: SigningIdentity, number: Int, entries: [Entry], thisUpdate: Date, nextUpdate: Date
    ) throws {
        revokedCount = entries.count
        let algorithm = issuer.privateKey.preferredSignatureAlgorithm
        let tbs = TBSCertList(
            algorithm: try SignatureAlgorithmIdentifier(algorithm), issuer: issuer.certificate.subject,
            thisUpdate: thisUpdate, nextUpdate: nextUpdate, entries: entries,
            extensions: [
                try Certificate.Extension(AuthorityKeyIdentifier(keyIdentifier: issuer.keyIdentifier), critical: false),
                Certificate.Extension(oid: [2, 5, 29, 20], critical: false, value: try derOf { try $0.serialize(number) }),
            ])
        let tbsBytes = try derOf { try $0.serialize(tbs) }
        let signature = try issuer.privateKey.sign(bytes: tbsBytes, signatureAlgorithm: algorithm)
        derBytes = try Array(derOf { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                coder.serializeRawBytes(tbsBytes)
                try coder.serialize(tbs.algorithm)
                try coder.serialize(ASN1BitString(bytes: ArraySlice(signature.rawRepresentation)))
            }
        })
    }
}

private func derOf(_ body: (inout DER.Serializer) throws -> Void) throws -> ArraySlice<UInt8> {
    var coder = DER.Serializer()
    try body(&coder)
    return ArraySlice(coder.serializedBytes)
}

private struct TBSCertList: DERSerializable {
    var algorithm: SignatureAlgorithmIdentifier
    var issuer: DistinguishedName
    var thisUpdate: Date
    var nextUpdate: Date
    var entries: [CertificateRevocationList.Entry]
    var extensions: [Certificate.Extension]

    func serialize(into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(1)  // v2
            try coder.serialize(algorithm)
            try coder.serialize(issuer)
            try coder.serializeTime(thisUpdate)
            try coder.serializeTime(nextUpdate)
            if !entries.isEmpty {
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    for entry in entries {
                        try coder.appendConstructedNode(identifier: .sequence) { coder in
                            coder.appendPrimitiveNode(identifier: .integer) { $0.append(contentsOf: entry.serial.asPositiveASN1Integer) }
                            try coder.serializeTime(entry.revocationDate)
                            // RFC 5280 §5.3.1: omit the reason code rather than say "unspecified".
                            if let reason = entry.reason, reason != .unspecified {
                                try coder.appendConstructedNode(identifier: .sequence) { coder in
                                    let value = try derOf { coder in
                                        coder.appendPrimitiveNode(identifier: .enumerated) { $0.append(UInt8(reason.rawValue)) }
                                    }
                                    try coder.serialize(Certificate.Extension(oid: [2, 5, 29, 21], critical: false, value: value))
                                }
                            }
                        }
                    }
                }
            }
            try coder.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { coder in
                try coder.serializeSequenceOf(extensions)
            }
        }
    }
}

/// An AlgorithmIdentifier for a signature: RSA carries explicit NULL parameters, ECDSA and Ed25519 none.
private struct SignatureAlgorithmIdentifier: DERSerializable {
    var oid: ASN1ObjectIdentifier
    var nullParameters: Bool

    init(_ algorithm: Certificate.SignatureAlgorithm) throws {
        switch algorithm {
        case .ecdsaWithSHA256: (oid, nullParameters) = ([1, 2, 840, 10045, 4, 3, 2], false)
        case .ecdsaWithSHA384: (oid, nullParameters) = ([1, 2, 840, 10045, 4, 3, 3], false)
        case .ecdsaWithSHA512: (oid, nullParameters) = ([1, 2, 840, 10045, 4, 3, 4], false)
        case .sha256WithRSAEncryption: (oid, nullParameters) = ([1, 2, 840, 113549, 1, 1, 11], true)
        case .ed25519: (oid, nullParameters) = ([1, 3, 101, 112], false)
        default: throw MeshCAError.invalidInput("unsupported CRL signature algorithm \(algorithm)")
        }
    }

    func serialize(into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(oid)
            if nullParameters { try coder.serialize(ASN1Null()) }
        }
    }
}

extension DER.Serializer {
    /// RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050.
    fileprivate mutating func serializeTime(_ date: Date) throws {
        let t = UTCDateTime(date)
        if t.year < 2050 {
            try serialize(UTCTime(year: t.year, month: t.month, day: t.day, hours: t.hour, minutes: t.minute, seconds: t.second))
        } else {
            try serialize(GeneralizedTime(
                year: t.year, month: t.month, day: t.day, hours: t.hour, minutes: t.minute, seconds: t.second,
                fractionalSeconds: 0))
        }
    }
}

extension Array where Element == UInt8 {
    /// Big-endian magnitude → DER INTEGER content: leading zeros dropped, a 0x00 added if the top bit is set.
    var asPositiveASN1Integer: [UInt8] {
        var bytes = Array(drop { $0 == 0 })
        if bytes.isEmpty { return [0] }
        if bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
        return bytes
    }
}
