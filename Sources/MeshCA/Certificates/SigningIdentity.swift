import X509

/// A CA certificate together with the private key that signs in its name.
public struct SigningIdentity: Sendable {
    public let certificate: Certificate
    public let privateKey: Certificate.PrivateKey

    /// Pairs a certificate with its key, refusing a key that does not belong to the certificate.
    public init(certificate: Certificate, privateKey: Certificate.PrivateKey, label: String) throws {
        guard privateKey.publicKey == certificate.publicKey else {
            throw MeshCAError.store(
                "the \(label) private key does not match the \(label) certificate: restore the matching key or re-run certtool init in an empty pki")
        }
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// The subject key identifier that certificates signed by this identity name as their authority key identifier.
    var keyIdentifier: ArraySlice<UInt8> {
        if let ski = try? certificate.extensions.subjectKeyIdentifier { return ski.keyIdentifier }
        return SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
    }
}
