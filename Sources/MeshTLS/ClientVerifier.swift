import MeshCA
import MeshPlatform
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import X509

/// Verifies client certificate chains for a TLS listener: chains to the client CA, within validity, carries
/// clientAuth, not revoked by the CRL. Runs as swift-nio-ssl's custom verification callback, so an unverifiable
/// client fails the handshake.
public final class ClientVerifier: Sendable {
    public struct Trust: Sendable {
        public var roots: [Certificate]
        public var revocations: RevocationList?

        public init(roots: [Certificate], revocations: RevocationList?) {
            self.roots = roots
            self.revocations = revocations
        }

        /// Loads the client CA bundle and, if given, a CRL signed by one of its certificates.
        public static func load(clientCA: String, crl: String?) throws -> Trust {
            let roots = try TLSFiles.trustAnchors(clientCA)
            let revocations = try crl.map { try RevocationList(bytes: TLSFiles.read($0, what: "CRL"), issuers: roots, source: $0) }
            return Trust(roots: roots, revocations: revocations)
        }
    }

    /// The trust in force, and the chains validated against it: a client that reconnects presents the same
    /// bytes, and is not verified again (an ECDSA verification and a task hop per handshake) while every
    /// certificate in its chain is within validity. A new trust (CA bundle or CRL re-read) empties it;
    /// `generation` keeps a verification that raced with that change from being remembered.
    private struct State {
        var trust: Trust
        var generation = 0
        var validated: [[[UInt8]]: Validated] = [:]
    }

    private struct Validated {
        var chain: [NIOSSLCertificate]
        var notBefore: Date
        var notAfter: Date
    }

    /// A few KiB each; a front with more distinct clients than this just verifies some of them again.
    private static let rememberedChains = 1024
    private let state: NIOLockedValueBox<State>
    /// False for client auth types that take any certificate (RequestClientCert, RequireAnyClientCert).
    private let verifies: Bool
    /// Checked in the handshake, as exporter-toolkit's `client_allowed_sans` is.
    private let allowedSANs: SANAllowList
    /// Certificates allowed above the client's own in the validated chain (nginx's `ssl_verify_depth`).
    private let verifyDepth: Int?
    /// Called with the reason whenever a client is refused (for logs and metrics).
    private let onFailure: @Sendable (String) -> Void

    public init(trust: Trust, verifies: Bool = true, allowedSANs: SANAllowList = .anyone, verifyDepth: Int? = nil,
                onFailure: @escaping @Sendable (String) -> Void = { _ in }) {
        self.state = NIOLockedValueBox(State(trust: trust))
        self.verifies = verifies
        self.allowedSANs = allowedSANs
        self.verifyDepth = verifyDepth
        self.onFailure = onFailure
    }

    /// Replaces the trust anchors and CRL for new handshakes.
    public func update(_ trust: Trust) {
        state.withLockedValue { state in
            state = State(trust: trust, generation: state.generation + 1)
        }
    }

    /// Verifies a presented chain (leaf first).
    public func verify(_ chain: [Certificate], at time: Date = Date()) async throws -> [Certificate] {
        guard let leaf = chain.first else { throw MeshCAError.verificationFailed("no client certificate") }
        let trust = state.withLockedValue { $0.trust }
        let validated = try await ChainVerification(
            roots: trust.roots, intermediates: Array(chain.dropFirst()),
            revokedSerials: trust.revocations?.revokedSerials ?? [], purpose: .client, time: time
        ).verify(leaf)
        if let verifyDepth, validated.count - 1 > verifyDepth {
            throw MeshCAError.verificationFailed("certificate chain too long: \(validated.count - 1) issuers above the client, verify depth \(verifyDepth)")
        }
        return validated
    }

    /// swift-nio-ssl's callback: completes the promise with the validated chain, or fails the handshake.
    public func nioCallback(_ presented: [NIOSSLCertificate], _ promise: EventLoopPromise<NIOSSLVerificationResultWithMetadata>) {
        // Any certificate will do: accept it, but report no validated chain, so no identity is forwarded.
        guard verifies else { return promise.succeed(.certificateVerified(VerificationMetadata(nil))) }
        let onFailure = self.onFailure
        guard let der = try? presented.map({ try $0.toDERBytes() }) else {
            onFailure("the client certificate chain cannot be encoded")
            return promise.succeed(.failed)
        }
        let now = Date()
        let (remembered, generation) = state.withLockedValue { ($0.validated[der], $0.generation) }
        if let remembered, remembered.notBefore <= now, now < remembered.notAfter {
            return promise.succeed(.certificateVerified(VerificationMetadata(ValidatedCertificateChain(remembered.chain))))
        }
        promise.completeWithTask {
            do {
                let chain = try der.map { try Certificate(derEncoded: $0) }
                let validated = try await self.verify(chain, at: now)
                if !self.allowedSANs.allowsEveryone && self.allowedSANs.match(PeerIdentity(certificate: validated[0])) == nil {
                    throw MeshCAError.verificationFailed("client SANs are not in client_allowed_sans")
                }
                let nioChain = try validated.map { try NIOSSLCertificate(bytes: $0.derBytes, format: .der) }
                self.remember(der, Validated(
                    chain: nioChain, notBefore: validated.map(\.notValidBefore).max()!,
                    notAfter: validated.map(\.notValidAfter).min()!), generation: generation)
                return .certificateVerified(VerificationMetadata(ValidatedCertificateChain(nioChain)))
            } catch {
                onFailure("\(error)")
                return .failed
            }
        }
    }

    private func remember(_ key: [[UInt8]], _ validated: Validated, generation: Int) {
        state.withLockedValue { state in
            guard state.generation == generation else { return }
            if state.validated.count >= Self.rememberedChains { state.validated.removeAll(keepingCapacity: true) }
            state.validated[key] = validated
        }
    }
}
