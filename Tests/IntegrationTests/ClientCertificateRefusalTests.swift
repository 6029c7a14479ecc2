import Foundation
import Testing
import X509

/// The five client certificates every listener must refuse — from another CA, expired, revoked, without the
/// clientAuth EKU, with a SAN that is not allowed — against each listener, beside an allowed one that works.
@Suite struct ClientCertificateRefusalTests {
    /// Adds `foreign` (another CA), `expired` and `revoked` clients to the fixture's pki (which has `prom`,
    /// `other` and the server-only `srv`) and publishes the CRL.
    static func badClients(_ fixture: SidecarFixture) throws {
        let elsewhere = try Workspace()
        try elsewhere.ok(["issue", "foreign", "--client", "--san", "DNS:prometheus.example.internal"])
        for file in ["issued/foreign.crt", "private/foreign.key"] {
            try FileManager.default.copyItem(atPath: "\(elsewhere.pki)/\(file)", toPath: "\(fixture.ws.pki)/\(file)")
        }
        try fixture.ws.ok(["issue", "expired", "--client", "--san", "DNS:prometheus.example.internal", "--validity", "1s"])
        try fixture.ws.ok(["issue", "revoked", "--client", "--san", "DNS:prometheus.example.internal"])
        try fixture.ws.ok(["revoke", "revoked"])
        // notAfter has whole seconds and swift-certificates compares whole seconds: `expired` is valid through
        // the second of its notAfter.
        let notAfter = try Certificate(pemEncoded: fixture.ws.read("pki/issued/expired.crt")).notValidAfter
        Thread.sleep(until: notAfter + 1.2)
    }

    /// GET (or with `arguments`, anything) as `identity`; status 0 when the TLS handshake failed.
    static func request(_ fixture: SidecarFixture, port: Int, _ path: String, as identity: String, _ arguments: [String] = []) throws -> Int {
        let result = try Command.run(
            "curl", ["-s", "--max-time", "20", "--cacert", "pki/ca.crt", "--cert", "pki/issued/\(identity).crt",
                     "--key", "pki/private/\(identity).key", "-o", "/dev/null", "-w", "%{http_code}"] + arguments
                + ["https://127.0.0.1:\(port)\(path)"],
            directory: fixture.ws.url)
        return Int(result.stdout) ?? -1
    }

    static let handshakeRefused = ["foreign", "expired", "revoked", "srv"]

    @Test(arguments: ["serve", "front", "front --pushprox"])
    func everyBadClientIsRefused(listener: String) throws {
        let fixture = try SidecarFixture()
        try Self.badClients(fixture)
        let tls = SidecarFixture.tlsFiles + ["--crl", "pki/crl.pem"]
        let arguments: [String], path: String
        switch listener {
        case "serve":
            arguments = ["serve", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(fixture.upstreamPort)",
                         "--allow-san", "DNS:prometheus.example.internal"]
            path = "/metrics"
        case "front":
            arguments = ["front", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(fixture.upstreamPort)",
                         "--allow-san", "DNS:prometheus.example.internal"]
            path = "/metrics"
        default:
            arguments = ["front", "--pushprox", "--listen", "127.0.0.1:0", "--allow-scraper", "DNS:prometheus.example.internal"]
            path = "/clients"
        }
        let server = try BackgroundProcess(Workspace.sidecarPath, arguments + tls, in: fixture.ws, name: "listener",
                                           ready: { $0.hasPrefix("listening on ") })
        let port = try #require(server.number(after: "listening on https://127.0.0.1:"))

        #expect(try Self.request(fixture, port: port, path, as: "prom") == 200, "\(listener): the allowed client")
        for identity in Self.handshakeRefused {
            let status = try Self.request(fixture, port: port, path, as: identity)
            #expect(status == 0, "\(listener): \(identity) passed the handshake (HTTP \(status))")
        }
        #expect(try Self.request(fixture, port: port, path, as: "other") == 403, "\(listener): a SAN that is not allowed")
        #expect(server.process.isRunning)
    }

    /// `certtool serve` takes any client certificate in the handshake (enrollment needs none) and judges it at
    /// simplereenroll: another CA's, an expired and a revoked one are refused. A server-only certificate renews
    /// itself over mTLS by design, and re-enrollment keeps the certificate's own SANs, so those two cases
    /// have no meaning here.
    @Test func caServerRefusesBadCertificatesAtReenrollment() throws {
        let fixture = try SidecarFixture()
        try Self.badClients(fixture)
        let ca = try CAServerFixture(ws: fixture.ws, skipInit: true)
        try ca.makeCSR("renew", subject: "/CN=prom", sans: "DNS:prometheus.example.internal")
        func reenroll(_ identity: String) throws -> Int {
            try Self.request(fixture, port: ca.port, "/.well-known/est/simplereenroll", as: identity,
                             ["-H", "Content-Type: application/pkcs10", "--data-binary", "@renew.b64"])
        }
        #expect(try reenroll("prom") == 200)
        for identity in ["foreign", "expired", "revoked"] {
            #expect(try reenroll(identity) == 403, "\(identity)")
        }
        // Two re-enrollments on one keep-alive connection, with the certificate the first one above issued
        // (for renew.key): its signature is verified once per connection, and each request is answered.
        let twice = try Command.run(
            "curl", ["-sS", "--max-time", "20", "--cacert", "pki/ca.crt", "--cert", "pki/issued/prom.crt", "--key", "renew.key",
                     "-H", "Content-Type: application/pkcs10", "--data-binary", "@renew.b64",
                     "-w", "%{http_code} %{num_connects}\n"]
                + Array(repeating: ["-o", "/dev/null", "\(ca.url)/.well-known/est/simplereenroll"], count: 2).joined(),
            directory: fixture.ws.url)
        #expect(twice.stdout == "200 1\n200 0\n", "\(twice.output)")
    }
}
