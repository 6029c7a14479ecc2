import Crypto
import MeshPlatform
import X509

#if os(Linux)
import CGlibc
#endif

/// Builds certificates that follow the RFC 5280 profile in DESIGN.md §3: v3, random positive serials,
/// SKI everywhere, AKI on everything not self-signed, critical basicConstraints and keyUsage, SAN on every leaf,
/// notBefore back-dated, notAfter clamped to the issuer's.
///
/// Extensions are made one by one on their concrete types, not with swift-certificates' `Extensions { … }`
/// builder or as `any CertificateExtensionConvertible`: both need run-time conformance lookups, each a scan of
/// every conformance in the binary on a process's first certificate (see DistinguishedName+MeshCA.swift).
public enum CertificateBuilder {
    /// How far notBefore is back-dated to absorb clock skew between the CA and relying parties.
    public static let backdate: TimeInterval = 5 * 60

    /// A self-signed root CA certificate.
    public static func root(
        commonName: String, key: Certificate.PrivateKey, validity: ValidityPeriod, now: Date = Date()
    ) throws -> Certificate {
        let subject = DistinguishedName(commonName: commonName)
        let extensions = try Certificate.Extensions([
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil)).makeCertificateExtension(),
            Critical(KeyUsage(keyCertSign: true, cRLSign: true)).makeCertificateExtension(),
            SubjectKeyIdentifier(hash: key.publicKey).makeCertificateExtension(),
        ])
        return try Certificate(
            version: .v3, serialNumber: randomSerial(), publicKey: key.publicKey,
            notValidBefore: now - backdate, notValidAfter: now + validity.seconds,
            issuer: subject, subject: subject, signatureAlgorithm: key.preferredSignatureAlgorithm,
            extensions: extensions, issuerPrivateKey: key)
    }

    /// An intermediate CA certificate (pathlen 0: it signs leaves only).
    public static func intermediate(
        commonName: String, publicKey: Certificate.PublicKey, validity: ValidityPeriod,
        issuer: SigningIdentity, now: Date = Date()
    ) throws -> Certificate {
        let extensions = try Certificate.Extensions([
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0)).makeCertificateExtension(),
            Critical(KeyUsage(keyCertSign: true, cRLSign: true)).makeCertificateExtension(),
            SubjectKeyIdentifier(hash: publicKey).makeCertificateExtension(),
            AuthorityKeyIdentifier(keyIdentifier: issuer.keyIdentifier).makeCertificateExtension(),
        ])
        return try sign(
            subject: DistinguishedName(commonName: commonName), publicKey: publicKey,
            validity: validity, extensions: extensions, issuer: issuer, now: now)
    }

    /// An end-entity certificate for the given SANs and profile. `keyIdentifier`, when given, must be
    /// `publicKey`'s (``CertificateRequest/keyIdentifier``); otherwise it is computed.
    public static func leaf(
        subject: DistinguishedName, publicKey: Certificate.PublicKey, subjectAltNames: [SubjectAltName],
        profile: Profile, validity: ValidityPeriod, issuer: SigningIdentity, now: Date = Date(),
        keyIdentifier: SubjectKeyIdentifier? = nil
    ) throws -> Certificate {
        guard !subjectAltNames.isEmpty else {
            throw MeshCAError.invalidInput("a certificate needs at least one SAN: add --san DNS:name or --san IP:address")
        }
        try publicKey.checkStrength()
        let keyUsage = publicKey.isRSA
            ? KeyUsage(digitalSignature: true, keyEncipherment: true) : KeyUsage(digitalSignature: true)
        let sans = SubjectAlternativeNames(subjectAltNames.map(\.generalName))
        let extensions = try Certificate.Extensions([
            Critical(BasicConstraints.notCertificateAuthority).makeCertificateExtension(),
            Critical(keyUsage).makeCertificateExtension(),
            ExtendedKeyUsage(profile.extendedKeyUsage).makeCertificateExtension(),
            (keyIdentifier ?? SubjectKeyIdentifier(hash: publicKey)).makeCertificateExtension(),
            AuthorityKeyIdentifier(keyIdentifier: issuer.keyIdentifier).makeCertificateExtension(),
            // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
            subject.isEmpty ? Critical(sans).makeCertificateExtension() : sans.makeCertificateExtension(),
        ])
        return try sign(
            subject: subject, publicKey: publicKey, validity: validity, extensions: extensions,
            issuer: issuer, now: now)
    }

    private static func sign(
        subject: DistinguishedName, publicKey: Certificate.PublicKey, validity: ValidityPeriod,
        extensions: Certificate.Extensions, issuer: SigningIdentity, now: Date
    ) throws -> Certificate {
        let notBefore = max(now - backdate, issuer.certificate.notValidBefore)
        let notAfter = min(now + validity.seconds, issuer.certificate.notValidAfter)
        guard notAfter > now else {
            throw MeshCAError.store("the issuing CA certificate has expired: create a new CA with certtool init")
        }
        return try Certificate(
            version: .v3, serialNumber: randomSerial(), publicKey: publicKey,
            notValidBefore: notBefore, notValidAfter: notAfter,
            issuer: issuer.certificate.subject, subject: subject,
            signatureAlgorithm: issuer.privateKey.preferredSignatureAlgorithm,
            extensions: extensions, issuerPrivateKey: issuer.privateKey)
    }

    /// 126 random bits in 16 octets: positive (top bit clear), never zero, well under the 20-octet limit.
    static func randomSerial() -> Certificate.SerialNumber {
        var bytes = [UInt8](repeating: 0, count: 16)
        fillRandom(&bytes)
        bytes[0] = (bytes[0] & 0x3F) | 0x40
        return Certificate.SerialNumber(bytes: bytes)
    }
}

/// Fills `bytes` from the OS's generator in one getrandom(2) call: `UInt8.random` makes one per byte, and
/// `SystemRandomNumberGenerator` (behind swift-crypto's `SymmetricKey`) one per 8 bytes.
private func fillRandom(_ bytes: inout [UInt8]) {
    #if canImport(Darwin)
    bytes.withUnsafeMutableBytes { arc4random_buf($0.baseAddress, $0.count) }
    #else
    #if os(Linux)
    if bytes.withUnsafeMutableBytes({ getrandom($0.baseAddress, $0.count, 0) }) == bytes.count { return }
    #endif
    var generator = SystemRandomNumberGenerator()
    for index in bytes.indices { bytes[index] = generator.next() }
    #endif
}

extension Certificate.SerialNumber {
    /// Upper-case hex with an even number of digits, as OpenSSL writes serials in index.txt.
    public var hexString: String { bytes.hexEncoded() }
}

extension Sequence where Element == UInt8 {
    /// Hex digits, optionally separated (`String(format:)` goes through NSString and is slow).
    public func hexEncoded(uppercase: Bool = true, separator: String = "") -> String {
        let digits: StaticString = uppercase ? "0123456789ABCDEF" : "0123456789abcdef"
        let bytes = Array(self)
        let separatorBytes = Array(separator.utf8)
        let capacity = bytes.count * 2 + Swift.max(0, bytes.count - 1) * separatorBytes.count
        return digits.withUTF8Buffer { digits in
            String(unsafeUninitializedCapacity: capacity) { out in
                var position = 0
                for (index, byte) in bytes.enumerated() {
                    if index > 0 {
                        for separatorByte in separatorBytes { out[position] = separatorByte; position += 1 }
                    }
                    out[position] = digits[Int(byte >> 4)]
                    out[position + 1] = digits[Int(byte & 0x0F)]
                    position += 2
                }
                return position
            }
        }
    }
}
