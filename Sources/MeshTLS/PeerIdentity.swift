import Crypto
import MeshCA
import MeshPlatform
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import X509

/// Who is on the other end of a verified mTLS connection.
public struct PeerIdentity: Sendable, Equatable {
    public var subjectAltNames: [SubjectAltName]
    /// RFC 4514 / 2253 form, most specific attribute first (`CN=prom,O=Example`).
    public var subject: String
    /// Lower-case hex SHA-256 of the DER certificate, as Envoy puts it in XFCC `Hash=`.
    public var sha256: String

    public init(certificate: Certificate) {
        self.init(certificate: certificate, der: (try? certificate.derBytes) ?? [])
    }

    /// `der` is the certificate's encoding, when the caller has it (re-serializing is not free).
    init(certificate: Certificate, der: [UInt8]) {
        subjectAltNames = certificate.subjectAltNames
        subject = certificate.subject.rfc4514
        sha256 = Array(SHA256.hash(data: der)).hexEncoded(uppercase: false)
    }

    public var dnsNames: [String] { subjectAltNames.compactMap { if case .dns(let name) = $0 { name } else { nil } } }
    public var uris: [String] { subjectAltNames.compactMap { if case .uri(let uri) = $0 { uri } else { nil } } }
}

extension PeerIdentity {
    /// The verified peer of a TLS connection: the leaf of the chain the verifier validated; nil when the
    /// connection has none (no certificate, or one taken without verification).
    public init?(validatedPeerOf pipeline: ChannelPipeline.SynchronousOperations) {
        guard let handler = try? pipeline.handler(type: NIOSSLServerHandler.self),
            let leaf = handler.peerValidatedCertificateChain?.first,
            let der = try? leaf.toDERBytes()
        else { return nil }
        self.init(leafDER: der)
    }

    /// The identity in a DER certificate; nil when it does not parse. Clients reconnect with the same
    /// certificate, and parsing it was ≈ 8% of the CPU of a new mTLS connection, so identities of recently
    /// seen certificates are remembered (an identity depends on nothing but the certificate's bytes).
    init?(leafDER der: [UInt8]) {
        if let known = Self.remembered.withLockedValue({ $0[der] }) {
            self = known
            return
        }
        guard let certificate = try? Certificate(derEncoded: der) else { return nil }
        self.init(certificate: certificate, der: der)
        let identity = self
        Self.remembered.withLockedValue { remembered in
            if remembered.count >= Self.rememberedLimit { remembered.removeAll(keepingCapacity: true) }
            remembered[der] = identity
        }
    }

    /// About 1 KB each; a front with more distinct clients parses some certificates again.
    static let rememberedLimit = 1024
    static let remembered = NIOLockedValueBox<[[UInt8]: PeerIdentity]>([:])
}
