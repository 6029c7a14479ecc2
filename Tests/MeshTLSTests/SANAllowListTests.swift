import Foundation
import MeshCA
import Testing
import X509
@testable import MeshTLS

@Suite struct SANAllowListTests {
    func identity(_ sans: [SubjectAltName]) -> PeerIdentity {
        var identity = PeerIdentity(certificate: try! Self.certificate())
        identity.subjectAltNames = sans
        return identity
    }

    static func certificate(sans: [SubjectAltName] = [.dns("prom.example.internal")]) throws -> Certificate {
        let key = try KeyType.ecdsaP256.generate()
        let root = try CertificateBuilder.root(commonName: "Root", key: key, validity: .init(seconds: 86_400))
        let ca = try SigningIdentity(certificate: root, privateKey: key, label: "CA")
        return try CertificateBuilder.leaf(
            subject: try DistinguishedName { CommonName("prom") }, publicKey: try KeyType.ecdsaP256.generate().publicKey,
            subjectAltNames: sans, profile: .client, validity: .init(seconds: 3600), issuer: ca)
    }

    @Test(arguments: [
        ("DNS:prom.example.internal", SubjectAltName.dns("prom.example.internal"), true),
        ("DNS:Prom.Example.Internal", .dns("prom.example.internal"), true),
        ("DNS:prom.example.internal", .dns("other.example.internal"), false),
        ("IP:10.0.0.7", .ip(IPAddress("10.0.0.7")!), true),
        ("IP:10.0.0.7", .ip(IPAddress("10.0.0.8")!), false),
        ("email:ops@example.internal", .email("ops@example.internal"), true),
        ("URI:spiffe://cluster.local/ns/mon/sa/prom", .uri("spiffe://cluster.local/ns/mon/sa/prom"), true),
        ("URI:spiffe://cluster.local/ns/*/sa/prom", .uri("spiffe://cluster.local/ns/mon/sa/prom"), true),
        ("URI:spiffe://cluster.local/ns/*/sa/prom", .uri("spiffe://cluster.local/ns/a/b/sa/prom"), false),
        ("URI:spiffe://cluster.local/ns/*/sa/prom", .uri("spiffe://cluster.local/ns//sa/prom"), false),
        ("URI:spiffe://cluster.local/ns/**", .uri("spiffe://cluster.local/ns/a/b/c"), true),
        ("URI:spiffe://cluster.local/ns/**", .uri("spiffe://cluster.local/other/a"), false),
        ("DNS:prom.example.internal", .uri("spiffe://prom.example.internal"), false),
    ])
    func matching(spec: String, san: SubjectAltName, allowed: Bool) throws {
        let list = try SANAllowList([spec])
        #expect((list.match(identity([san])) != nil) == allowed)
    }

    @Test func emptyListAllowsAnyone() throws {
        #expect(SANAllowList.anyone.allowsEveryone)
        #expect(SANAllowList.anyone.match(identity([.dns("x.example")])) == .dns("x.example"))
    }

    @Test func xfccCarriesHashSubjectURIsAndDNSNames() throws {
        let certificate = try Self.certificate(sans: [.uri("spiffe://cluster.local/ns/a;b"), .dns("prom.example.internal")])
        let identity = PeerIdentity(certificate: certificate)
        #expect(identity.sha256.count == 64)
        #expect(IdentityHeaders.xfcc(identity)
                == "Hash=\(identity.sha256);Subject=\"CN=prom\";URI=\"spiffe://cluster.local/ns/a;b\";DNS=prom.example.internal")
    }
}
