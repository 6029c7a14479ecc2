import MeshCA
import MeshPlatform
import NIOCore
import NIOPosix
import SwiftASN1
import X509

/// The client side of `certtool serve`'s EST API (RFC 7030), for agents that enroll and renew.
public struct ESTClient: Sendable {
    /// The CA answered, and said no: retrying the same request will not help.
    public struct Refused: Error, CustomStringConvertible {
        public let status: Int
        public let message: String
        public var description: String { "the CA refused (HTTP \(status)): \(message)" }
    }

    public let baseURL: String
    public let caBundle: String
    /// Asked of the CA as `?validity=`; nil takes the CA's default.
    public var validity: String?

    public init(baseURL: String, caBundle: String, validity: String? = nil) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.caBundle = caBundle
        self.validity = validity
    }

    private var query: String { validity.map { "?validity=\($0)" } ?? "" }

    /// The CA certificates (root, then any intermediate).
    public func caCertificates() async throws -> [Certificate] {
        let client = try HTTPSClient(group: MultiThreadedEventLoopGroup.singleton, caBundle: caBundle)
        return try Self.certificates(try await client.request(.GET, "\(baseURL)/.well-known/est/cacerts"))
    }

    /// `simpleenroll` with a one-time token.
    public func enroll(_ csr: CertificateSigningRequest, token: String) async throws -> [Certificate] {
        let client = try HTTPSClient(group: MultiThreadedEventLoopGroup.singleton, caBundle: caBundle)
        return try Self.certificates(try await client.request(
            .POST, "\(baseURL)/.well-known/est/simpleenroll\(query)",
            headers: [("content-type", "application/pkcs10"), ("authorization", "Bearer \(token)")], body: try Self.body(csr)))
    }

    /// `simplereenroll`, authenticated by the current certificate and key (files) over mutual TLS.
    public func reenroll(_ csr: CertificateSigningRequest, certificate: String, key: String) async throws -> [Certificate] {
        let client = try HTTPSClient(
            group: MultiThreadedEventLoopGroup.singleton, caBundle: caBundle, certificate: certificate, key: key)
        return try Self.certificates(try await client.request(
            .POST, "\(baseURL)/.well-known/est/simplereenroll\(query)",
            headers: [("content-type", "application/pkcs10")], body: try Self.body(csr)))
    }

    private static func body(_ csr: CertificateSigningRequest) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(csr)
        return Array(Data(serializer.serializedBytes).base64EncodedString().utf8)
    }

    private static func certificates(_ response: HTTPSClient.Response) throws -> [Certificate] {
        guard response.status == 200 else {
            throw Refused(status: response.status, message: String(response.text.prefix(500)))
        }
        return try CertsOnlyPKCS7.decodeBase64(response.body)
    }
}
