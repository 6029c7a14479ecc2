import Foundation
import SwiftASN1
import Testing
import X509
@testable import MeshCA

@Suite struct CertificateBuilderTests {
    func authority(_ keyType: KeyType, validity: ValidityPeriod = .init(seconds: 365 * 86_400)) throws -> SigningIdentity {
        let key = try keyType.generate()
        let root = try CertificateBuilder.root(commonName: "Test Root", key: key, validity: validity)
        return try SigningIdentity(certificate: root, privateKey: key, label: "CA")
    }

    /// Our PEM writer (Foundation's base64 with 64-character lines) against swift-asn1's, for DER lengths
    /// that end mid-line and exactly on a line boundary (48 bytes per line). An Ed25519 CA signs with a fixed
    /// length, so 100 common-name lengths give 100 consecutive DER lengths, some of them multiples of 48.
    @Test(arguments: [KeyType.ed25519, .ecdsaP256, .rsa2048])
    func pemMatchesSwiftASN1(keyType: KeyType) throws {
        let ca = try authority(keyType)
        var residues: Set<Int> = []
        for length in 1...100 {
            let leaf = try CertificateBuilder.leaf(
                subject: try DistinguishedName { CommonName(String(repeating: "w", count: length)) },
                publicKey: try KeyType.ecdsaP256.generate().publicKey,
                subjectAltNames: [try SubjectAltName(parsing: "web.example.internal")], profile: .server,
                validity: ValidityPeriod(seconds: 3600), issuer: ca, now: Date())
            #expect(try leaf.pemString() == leaf.serializeAsPEM().pemString + "\n")
            #expect(try PEMFiles.certificates(leaf.pemString(), source: "test") == [leaf])
            residues.insert(try leaf.derBytes.count % 48)
        }
        if keyType == .ed25519 { #expect(residues.contains(0) && residues.count > 1) }
    }

    @Test(arguments: [KeyType.ecdsaP256, .ecdsaP384, .rsa2048, .ed25519])
    func leafFollowsTheProfile(keyType: KeyType) throws {
        let ca = try authority(keyType)
        let key = try keyType.generate()
        let now = Date()
        let leaf = try CertificateBuilder.leaf(
            subject: try DistinguishedName { CommonName("web") }, publicKey: key.publicKey,
            subjectAltNames: [try SubjectAltName(parsing: "web.example.internal")], profile: .both,
            validity: ValidityPeriod(seconds: 86_400), issuer: ca, now: now)

        #expect(leaf.version == .v3)
        #expect(leaf.serialNumber.bytes.count <= 20 && leaf.serialNumber.bytes.count >= 8)
        #expect(leaf.serialNumber.bytes.first! & 0x80 == 0)
        let basic = try #require(leaf.extensions.first { $0.oid == .X509ExtensionID.basicConstraints })
        #expect(basic.critical)
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        let keyUsageExtension = try #require(leaf.extensions.first { $0.oid == .X509ExtensionID.keyUsage })
        #expect(keyUsageExtension.critical)
        let keyUsage = try #require(try leaf.extensions.keyUsage)
        #expect(keyUsage.digitalSignature)
        #expect(keyUsage.keyEncipherment == (keyType == .rsa2048))
        #expect(!keyUsage.keyCertSign)
        #expect(try leaf.extensions.authorityKeyIdentifier?.keyIdentifier == ca.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        #expect(try leaf.extensions.subjectKeyIdentifier != nil)
        #expect(try leaf.extensions.extendedKeyUsage?.contains(.serverAuth) == true)
        #expect(try leaf.extensions.extendedKeyUsage?.contains(.clientAuth) == true)
        #expect(abs(leaf.notValidBefore.timeIntervalSince(now - CertificateBuilder.backdate)) < 2)
        #expect(ca.certificate.publicKey.isValidSignature(leaf.signature, for: leaf))
    }

    @Test func rootHasNoAKIAndIsACriticalCA() throws {
        let ca = try authority(.ecdsaP256)
        #expect(try ca.certificate.extensions.authorityKeyIdentifier == nil)
        #expect(try ca.certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: nil))
        #expect(ca.certificate.extensions.first { $0.oid == .X509ExtensionID.basicConstraints }?.critical == true)
        let keyUsage = try #require(try ca.certificate.extensions.keyUsage)
        #expect(keyUsage.keyCertSign && keyUsage.cRLSign && !keyUsage.digitalSignature)
    }

    @Test func leafNeverOutlivesItsIssuer() throws {
        let ca = try authority(.ecdsaP256, validity: ValidityPeriod(seconds: 3_600))
        let key = try KeyType.ecdsaP256.generate()
        let leaf = try CertificateBuilder.leaf(
            subject: try DistinguishedName { CommonName("web") }, publicKey: key.publicKey,
            subjectAltNames: [.dns("web.example.internal")], profile: .server,
            validity: ValidityPeriod(seconds: 90 * 86_400), issuer: ca)
        #expect(leaf.notValidAfter == ca.certificate.notValidAfter)
    }

    @Test func emptySubjectMakesTheSANCritical() throws {
        let ca = try authority(.ecdsaP256)
        let leaf = try CertificateBuilder.leaf(
            subject: DistinguishedName(), publicKey: try KeyType.ecdsaP256.generate().publicKey,
            subjectAltNames: [.dns("web.example.internal")], profile: .server,
            validity: ValidityPeriod(seconds: 86_400), issuer: ca)
        #expect(leaf.extensions.first { $0.oid == .X509ExtensionID.subjectAlternativeName }?.critical == true)
    }

    /// MeshCA builds and prints names itself (see DistinguishedName+MeshCA.swift): the bytes and the text must
    /// be what swift-certificates' builder and `description` give.
    @Test func distinguishedNamesMatchSwiftCertificates() throws {
        for name in ["web", "ops@example.internal", "a,b+c=\"d\"", "Zoë 😀", ""] {
            #expect(DistinguishedName(commonName: name) == (try DistinguishedName { CommonName(name) }))
        }
        let rich = try DistinguishedName {
            CountryName("DE")
            OrganizationName("Example, Inc.")
            OrganizationalUnitName("SRE")
            CommonName("web+1")
        }
        let multiValued = DistinguishedName([
            RelativeDistinguishedName([
                .init(type: .RDNAttributeType.commonName, utf8String: "a"),
                .init(type: .RDNAttributeType.organizationalUnitName, utf8String: "b"),
            ]),
            RelativeDistinguishedName(try .init(type: .RDNAttributeType.countryName, printableString: "US")),
        ])
        for dn in [rich, multiValued, DistinguishedName(), DistinguishedName(commonName: "web")] {
            #expect(dn.rfc4514 == dn.description)
        }
        #expect(rich.rfc4514.hasPrefix("CN=web"))
    }

    @Test func profilesPrintTheirName() {
        for profile in Profile.allCases { #expect(String(describing: profile) == profile.rawValue) }
        #expect("\(Profile.both)" == "both")
    }

    @Test func keyFromAnotherCertificateIsRefused() throws {
        let ca = try authority(.ecdsaP256)
        #expect(throws: MeshCAError.self) {
            try SigningIdentity(certificate: ca.certificate, privateKey: try KeyType.ecdsaP256.generate(), label: "CA")
        }
    }

    @Test(arguments: KeyType.allCases.filter { $0 != .rsa4096 && $0 != .rsa3072 })
    func privateKeysAreWrittenAsPKCS8(keyType: KeyType) throws {
        let key = try keyType.generate()
        let pem = try key.pkcs8PEM()
        #expect(try PEMDocument(pemString: pem).discriminator == "PRIVATE KEY")
        #expect(try Certificate.PrivateKey(pemEncoded: pem).publicKey == key.publicKey)
    }
}
