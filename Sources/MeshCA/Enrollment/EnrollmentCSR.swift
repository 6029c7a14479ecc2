import X509

/// The PKCS#10 request an EST client sends: its public key, a common name, and an extensionRequest with
/// the SANs and the extended key usages it wants (which the CA checks against the token's grant).
public enum EnrollmentCSR {
    public static func make(key: Certificate.PrivateKey, subjectAltNames: [SubjectAltName], profile: Profile) throws -> CertificateSigningRequest {
        guard let first = subjectAltNames.first else {
            throw MeshCAError.invalidInput("an enrollment needs at least one SAN: give --san")
        }
        let commonName: String
        switch first {
        case .dns(let value), .email(let value), .uri(let value): commonName = String(value.prefix(64))
        case .ip(let address): commonName = address.description
        }
        let extensions = try Certificate.Extensions([  // not the result builder: see CertificateBuilder
            SubjectAlternativeNames(subjectAltNames.map(\.generalName)).makeCertificateExtension(),
            ExtendedKeyUsage(profile.extendedKeyUsage).makeCertificateExtension(),
        ])
        return try CertificateSigningRequest(
            version: .v1, subject: DistinguishedName(commonName: commonName), privateKey: key,
            attributes: try CertificateSigningRequest.Attributes([.init(ExtensionRequest(extensions: extensions))]),
            signatureAlgorithm: key.preferredSignatureAlgorithm)
    }
}
