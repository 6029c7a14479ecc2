import MeshCA
import Testing
import X509
@testable import MeshTLS

/// `PeerIdentity(leafDER:)` remembers identities by certificate bytes; these check that it never hands one
/// certificate's identity to another and stays bounded.
@Suite(.serialized) struct PeerIdentityTests {
    static func leaf(_ name: String) throws -> Certificate {
        try SANAllowListTests.certificate(sans: [.dns("\(name).example.internal")])
    }

    @Test func eachCertificateGetsItsOwnIdentityAlsoWhenRemembered() throws {
        let (a, b) = (try Self.leaf("a"), try Self.leaf("b"))
        for certificate in [a, b, a, b] {
            let identity = try #require(PeerIdentity(leafDER: certificate.derBytes))
            #expect(identity == PeerIdentity(certificate: certificate))
        }
        let der = try a.derBytes
        #expect(PeerIdentity(leafDER: der)?.dnsNames == ["a.example.internal"])
        #expect(PeerIdentity.remembered.withLockedValue { $0[der] } == PeerIdentity(certificate: a))
    }

    @Test func garbageHasNoIdentityAndIsNotRemembered() {
        let garbage: [UInt8] = [0x30, 0x03, 0x02, 0x01, 0x00]
        #expect(PeerIdentity(leafDER: garbage) == nil)
        #expect(PeerIdentity.remembered.withLockedValue { $0[garbage] } == nil)
    }

    @Test func theMemoryIsBounded() throws {
        let leaf = try Self.leaf("bounded")
        // Filled to its limit under placeholder keys.
        PeerIdentity.remembered.withLockedValue { remembered in
            for n in 0..<(PeerIdentity.rememberedLimit - remembered.count) {
                remembered[[UInt8(truncatingIfNeeded: n), UInt8(truncatingIfNeeded: n >> 8), 0xFF]] = PeerIdentity(certificate: leaf)
            }
        }
        #expect(PeerIdentity.remembered.withLockedValue { $0.count } == PeerIdentity.rememberedLimit)
        let next = try Self.leaf("next")
        #expect(PeerIdentity(leafDER: try next.derBytes) == PeerIdentity(certificate: next))
        #expect(PeerIdentity.remembered.withLockedValue { $0.count } == 1, "emptied when full, then the new one remembered")
    }
}
