import Foundation
import X509

/// Certificates whose signature the CA has already checked: a client renewing over a keep-alive connection
/// presents the same certificate on every request, and an ECDSA P-256 verification (≈ 43 µs here) is the
/// largest single cost of a renewal after signing. Bounded, and emptied when the signing key changes.
final class VerifiedSignatures: @unchecked Sendable {
    private let lock = NSLock()
    private var signer: Certificate.PublicKey?
    private var certificates: Set<Certificate> = []
    private static let capacity = 4096

    /// Whether `certificate` carries a valid signature by `key`, verified once per certificate.
    func isSigned(_ certificate: Certificate, by key: Certificate.PublicKey) -> Bool {
        if lock.withLock({ signer == key && certificates.contains(certificate) }) { return true }
        guard key.isValidSignature(certificate.signature, for: certificate) else { return false }
        lock.withLock {
            if signer != key || certificates.count >= Self.capacity {
                signer = key
                certificates.removeAll(keepingCapacity: true)
            }
            certificates.insert(certificate)
        }
        return true
    }
}
