import MeshPlatform
import NIOConcurrencyHelpers
import X509

/// Certificates whose signature the CA has already checked: a client renewing over a keep-alive connection
/// presents the same certificate on every request, and an ECDSA P-256 verification (≈ 43 µs here) is the
/// largest single cost of a renewal after signing. Bounded, and emptied when the signer changes.
final class VerifiedSignatures: @unchecked Sendable {
    private let lock = NIOLock()
    private var signer: Certificate?
    private var certificates: Set<Key> = []
    private static let capacity = 4096

    /// Whether `certificate` carries a valid signature by `signer`'s key, verified once per certificate.
    /// (Certificates compare by their bytes; public keys would be re-encoded on every comparison.)
    func isSigned(_ certificate: Certificate, by signer: Certificate) -> Bool {
        if lock.withLock({ self.signer == signer && certificates.contains(Key(certificate)) }) { return true }
        guard signer.publicKey.isValidSignature(certificate.signature, for: certificate) else { return false }
        lock.withLock {
            if self.signer != signer || certificates.count >= Self.capacity {
                self.signer = signer
                certificates.removeAll(keepingCapacity: true)
            }
            certificates.insert(Key(certificate))
        }
        return true
    }

    /// Hashes the to-be-signed bytes in one go: `Certificate`'s own `hash(into:)` feeds them to the hasher
    /// byte by byte (≈ 20,000 instructions per lookup).
    private struct Key: Hashable {
        let certificate: Certificate
        init(_ certificate: Certificate) { self.certificate = certificate }
        func hash(into hasher: inout Hasher) { certificate.tbsCertificateBytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    }
}
