import MeshCA
import NIOSSL

/// Which client certificates a listener asks for and checks — Go's `tls.ClientAuthType`, as exporter-toolkit
/// names them.
public enum ClientAuthType: String, Sendable, CaseIterable {
    case noClientCert = "NoClientCert"
    case requestClientCert = "RequestClientCert"
    case requireAnyClientCert = "RequireAnyClientCert"
    case verifyClientCertIfGiven = "VerifyClientCertIfGiven"
    case requireAndVerifyClientCert = "RequireAndVerifyClientCert"

    /// Whether a presented certificate is checked against the client CA.
    public var verifies: Bool { self == .verifyClientCertIfGiven || self == .requireAndVerifyClientCert }

    var nioVerification: CertificateVerification {
        switch self {
        case .noClientCert: return .none
        case .requestClientCert, .verifyClientCertIfGiven: return .optionalVerification
        case .requireAnyClientCert, .requireAndVerifyClientCert: return .noHostnameVerification
        }
    }
}

/// Everything a TLS listener is configured with. The defaults are MeshCA's policy: TLS 1.2 minimum (1.3
/// preferred), AEAD suites only, a client certificate required and verified.
public struct ServerTLS: Sendable, Equatable {
    public var certificate: String
    public var key: String
    public var clientCA: String?
    public var crl: String?
    public var clientAuth: ClientAuthType = .requireAndVerifyClientCert
    /// Checked during the handshake (exporter-toolkit's `client_allowed_sans`); empty = any verified client.
    public var handshakeAllowedSANs: [String] = []
    /// nginx's `ssl_verify_depth`: at most this many certificates above the client's own (nil: no limit).
    public var verifyDepth: Int?
    public var minimumVersion: TLSVersion = .tlsv12
    public var maximumVersion: TLSVersion?
    public var cipherSuites: [NIOTLSCipher] = ServerTLS.aeadCipherSuites
    public var curves: [NIOTLSCurve]?

    public init(certificate: String, key: String, clientCA: String?, crl: String? = nil) {
        self.certificate = certificate
        self.key = key
        self.clientCA = clientCA
        self.crl = crl
    }

    /// TLS 1.2 suites with forward secrecy and AEAD; TLS 1.3 suites are all AEAD.
    public static let aeadCipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    /// Files whose change means a reload.
    var watchedFiles: [String] { [certificate, key] + [clientCA, crl].compactMap { $0 } }

    /// Refuses settings that cannot work before any file is read.
    public func validate() throws {
        if clientAuth.verifies && clientCA == nil {
            throw MeshCAError.invalidInput("client_auth_type \(clientAuth.rawValue) needs a client CA file")
        }
        if !handshakeAllowedSANs.isEmpty && !clientAuth.verifies {
            throw MeshCAError.invalidInput("client_allowed_sans needs client_auth_type RequireAndVerifyClientCert or VerifyClientCertIfGiven")
        }
    }

    func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try TLSFiles.certificateChain(certificate).map { .certificate($0) },
            privateKey: .privateKey(try TLSFiles.privateKey(key)))
        configuration.minimumTLSVersion = minimumVersion
        configuration.maximumTLSVersion = maximumVersion
        configuration.cipherSuiteValues = cipherSuites
        configuration.curves = curves
        configuration.certificateVerification = clientAuth.nioVerification
        if let clientCA, clientAuth != .noClientCert {
            configuration.trustRoots = .certificates(try TLSFiles.certificateChain(clientCA))
            configuration.sendCANameList = true
        }
        configuration.renegotiationSupport = .none
        return try NIOSSLContext(configuration: configuration)
    }
}
