import NIOSSL

/// The TLS policy every MeshCA listener uses: TLS 1.2 minimum (1.3 preferred), AEAD ciphers only, a client
/// certificate required and checked by `ClientVerifier`.
public enum ServerTLS {
    /// TLS 1.2 suites with forward secrecy and AEAD; TLS 1.3 suites are all AEAD.
    public static let tls12CipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    /// A server context from a certificate chain file, a key file and the client CA bundle (sent as the
    /// acceptable-CA list).
    public static func context(certificate: String, key: String, clientCA: String) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try TLSFiles.certificateChain(certificate).map { .certificate($0) },
            privateKey: .privateKey(try TLSFiles.privateKey(key)))
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuiteValues = tls12CipherSuites
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(try TLSFiles.certificateChain(clientCA))
        configuration.sendCANameList = true
        configuration.renegotiationSupport = .none
        return try NIOSSLContext(configuration: configuration)
    }
}
