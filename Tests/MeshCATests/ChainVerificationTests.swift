import Foundation
import Testing
import X509
@testable import MeshCA

@Suite struct ChainVerificationTests {
    @Test func explainsFailures() async throws {
        let key = try KeyType.ecdsaP256.generate()
        let root = try CertificateBuilder.root(commonName: "Root", key: key, validity: .init(seconds: 365 * 86_400))
        let ca = try SigningIdentity(certificate: root, privateKey: key, label: "CA")
        let leaf = try CertificateBuilder.leaf(
            subject: try DistinguishedName { CommonName("web") }, publicKey: try KeyType.ecdsaP256.generate().publicKey,
            subjectAltNames: [.dns("web.example.internal")], profile: .server,
            validity: .init(seconds: 86_400), issuer: ca)

        let ok = try await ChainVerification(roots: [root], purpose: .server, serverName: "web.example.internal").verify(leaf)
        #expect(ok.count == 2)
        await #expect(throws: MeshCAError.verificationFailed("certificate has expired")) {
            try await ChainVerification(roots: [root], time: Date() + 2 * 86_400).verify(leaf)
        }
        await #expect(throws: MeshCAError.verificationFailed("certificate revoked (serial \(leaf.serialNumber.hexString))")) {
            try await ChainVerification(roots: [root], revokedSerials: [leaf.serialNumber.hexString]).verify(leaf)
        }
        await #expect(throws: MeshCAError.self) {
            try await ChainVerification(roots: [root], purpose: .client).verify(leaf)
        }
    }
}
