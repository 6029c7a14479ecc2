import Foundation
import Testing

/// certtool's output handed to the OpenSSL command line, the oracle for what other TLS stacks accept.
@Suite struct OpenSSLInteropTests {
    static let keyTypes = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"]

    @Test(arguments: keyTypes, [false, true])
    func strictVerificationForEveryKeyType(keyType: String, intermediate: Bool) throws {
        let ws = try Workspace()
        try ws.ok(["init", "--key-type", keyType] + (intermediate ? ["--intermediate"] : []))
        try ws.ok(["issue", "leaf", "--both", "--key-type", keyType, "--san", "leaf.example.internal"])
        var arguments = ["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", "pki/ca.crt"]
        if intermediate { arguments += ["-untrusted", "pki/intermediate.crt"] }
        let result = try ws.openssl(arguments + ["pki/issued/leaf.crt"])
        #expect(result.status == 0, "\(keyType): \(result.output)")
        #expect(result.stdout.contains("pki/issued/leaf.crt: OK"))
        // The private key is PKCS#8 that openssl reads and that belongs to the certificate.
        let keyPub = try ws.openssl(["pkey", "-in", "pki/private/leaf.key", "-pubout"]).stdout
        let certPub = try ws.openssl(["x509", "-in", "pki/issued/leaf.crt", "-noout", "-pubkey"]).stdout
        #expect(!keyPub.isEmpty && keyPub == certPub)
        let expected = ["ecdsa-p256": "ecdsa-with-SHA256", "ecdsa-p384": "ecdsa-with-SHA384", "ed25519": "ED25519"][keyType]
            ?? "sha256WithRSAEncryption"
        let text = try ws.openssl(["x509", "-in", "pki/issued/leaf.crt", "-noout", "-text"]).stdout
        #expect(text.contains("Signature Algorithm: \(expected)"))
        #expect(text.contains("Basic Constraints: critical\n                CA:FALSE"))
        #expect(text.contains("Key Usage: critical"))
        #expect(text.contains(keyType.hasPrefix("rsa") ? "Digital Signature, Key Encipherment" : "Digital Signature\n"))
    }

    @Test func intermediateCarriesPathLengthZeroAndAKI() throws {
        let ws = try Workspace()
        try ws.ok(["init", "--intermediate"])
        let text = try ws.openssl(["x509", "-in", "pki/intermediate.crt", "-noout", "-text"]).stdout
        #expect(text.contains("CA:TRUE, pathlen:0"))
        #expect(text.contains("Certificate Sign, CRL Sign"))
        let rootSKI = try ws.openssl(["x509", "-in", "pki/ca.crt", "-noout", "-ext", "subjectKeyIdentifier"]).lines.last!
        let aki = try ws.openssl(["x509", "-in", "pki/intermediate.crt", "-noout", "-ext", "authorityKeyIdentifier"]).lines.last!
        #expect(aki.trimmingCharacters(in: .whitespaces) == rootSKI.trimmingCharacters(in: .whitespaces))
    }

    @Test func mutualTLSHandshakeWithOpenSSLServerAndClient() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "web", "--server", "--san", "web.example.internal", "--san", "IP:127.0.0.1"])
        try ws.ok(["issue", "prom", "--client", "--san", "prometheus.example.internal"])
        let server = try OpenSSLServer(ws, arguments: [
            "-cert", "pki/issued/web.crt", "-key", "pki/private/web.key", "-CAfile", "pki/ca.crt",
            "-Verify", "2", "-verify_return_error", "-x509_strict",
        ])
        defer { server.stop() }
        let handshake = try ws.openssl(
            ["s_client", "-ign_eof", "-connect", "127.0.0.1:\(server.port)", "-servername", "web.example.internal",
             "-verify_hostname", "web.example.internal", "-verify_return_error", "-x509_strict",
             "-CAfile", "pki/ca.crt", "-cert", "pki/issued/prom.crt", "-key", "pki/private/prom.key"],
            input: Data("GET / HTTP/1.0\r\n\r\n".utf8))
        #expect(handshake.status == 0, "\(handshake.output)")
        #expect(handshake.stdout.contains("Verify return code: 0 (ok)"))
        #expect(handshake.stdout.contains("HTTP/1.0 200 ok"))
        // The server saw and verified the client certificate.
        #expect(handshake.stdout.contains("Client certificate"))

        // Without a client certificate the server refuses the handshake.
        let anonymous = try ws.openssl(
            ["s_client", "-ign_eof", "-connect", "127.0.0.1:\(server.port)", "-CAfile", "pki/ca.crt", "-verify_return_error"],
            input: Data("GET / HTTP/1.0\r\n\r\n".utf8))
        #expect(!anonymous.stdout.contains("HTTP/1.0 200 ok"))
    }
}

/// `openssl s_server -www` on 127.0.0.1 with a kernel-chosen port.
final class OpenSSLServer {
    private let server: BackgroundProcess
    let port: Int

    init(_ ws: Workspace, arguments: [String]) throws {
        server = try BackgroundProcess(
            "openssl", ["s_server", "-accept", "127.0.0.1:0", "-www"] + arguments, in: ws, name: "s_server",
            ready: { $0.hasPrefix("ACCEPT 127.0.0.1:") })
        port = server.number(after: "ACCEPT 127.0.0.1:")!
    }

    func stop() { server.stop() }
}
