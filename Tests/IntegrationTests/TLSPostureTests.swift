import Foundation
import Testing

/// sslyze (PyPI) against every TLS listener: no protocol below TLS 1.2, only AEAD suites, no client-initiated
/// renegotiation, no compression.
@Suite struct TLSPostureTests {
    /// The scan's result for one server, as sslyze's JSON reports it.
    static func scan(_ ws: Workspace, port: Int, identity: String) throws -> [String: Any] {
        let out = "sslyze-\(port).json"
        let result = try Command.run(
            "sslyze", ["--quiet", "--json_out", out, "--cert", "pki/issued/\(identity).crt", "--key", "pki/private/\(identity).key",
                       "--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3", "--reneg", "--compression",
                       "127.0.0.1:\(port)"],
            directory: ws.url)
        let data = try Data(contentsOf: URL(fileURLWithPath: ws.path(out)))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(result.output)")
        let servers = try #require(json["server_scan_results"] as? [[String: Any]])
        let scan = try #require(servers.first?["scan_result"] as? [String: Any], "sslyze could not scan: \(servers)")
        return scan
    }

    static func accepted(_ scan: [String: Any], _ command: String) -> [String] {
        let result = (scan[command] as? [String: Any])?["result"] as? [String: Any]
        let suites = result?["accepted_cipher_suites"] as? [[String: Any]] ?? []
        return suites.compactMap { ($0["cipher_suite"] as? [String: Any])?["name"] as? String }
    }

    static func check(_ scan: [String: Any], _ label: String) {
        for old in ["ssl_2_0_cipher_suites", "ssl_3_0_cipher_suites", "tls_1_0_cipher_suites", "tls_1_1_cipher_suites"] {
            #expect(accepted(scan, old).isEmpty, "\(label): \(old) accepted \(accepted(scan, old))")
        }
        let tls12 = accepted(scan, "tls_1_2_cipher_suites"), tls13 = accepted(scan, "tls_1_3_cipher_suites")
        #expect(!tls13.isEmpty && !tls12.isEmpty, "\(label): TLS 1.3 and 1.2 offered (the scan ran)")
        for suite in tls12 + tls13 {
            #expect(suite.contains("GCM") || suite.contains("CHACHA20"), "\(label): non-AEAD suite \(suite)")
        }
        let reneg = ((scan["session_renegotiation"] as? [String: Any])?["result"] as? [String: Any]) ?? [:]
        #expect(reneg["is_vulnerable_to_client_renegotiation_dos"] as? Bool == false, "\(label): \(reneg)")
        #expect(reneg["client_renegotiations_success_count"] as? Int == 0, "\(label): \(reneg)")
        let compression = ((scan["tls_compression"] as? [String: Any])?["result"] as? [String: Any]) ?? [:]
        #expect(compression["supports_compression"] as? Bool == false, "\(label): \(compression)")
    }

    @Test func everyListenerOffersOnlyModernTLS() throws {
        let fixture = try SidecarFixture()
        try fixture.startSidecar()
        Self.check(try Self.scan(fixture.ws, port: fixture.port, identity: "prom"), "serve")

        let ca = try CAServerFixture(ws: fixture.ws, skipInit: true)
        Self.check(try Self.scan(fixture.ws, port: ca.port, identity: "prom"), "certtool serve")

        let front = try BackgroundProcess(
            Workspace.sidecarPath,
            ["front", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(fixture.upstreamPort)", "--cert", "pki/issued/web.crt",
             "--key", "pki/private/web.key", "--client-ca", "pki/ca.crt"],
            in: fixture.ws, name: "front", ready: { $0.hasPrefix("listening on ") })
        Self.check(try Self.scan(fixture.ws, port: front.number(after: "listening on https://127.0.0.1:")!, identity: "prom"), "front")

        let proxy = try BackgroundProcess(
            Workspace.sidecarPath,
            ["front", "--pushprox", "--listen", "127.0.0.1:0", "--cert", "pki/issued/web.crt", "--key", "pki/private/web.key",
             "--client-ca", "pki/ca.crt"],
            in: fixture.ws, name: "proxy", ready: { $0.hasPrefix("listening on ") })
        Self.check(try Self.scan(fixture.ws, port: proxy.number(after: "listening on https://127.0.0.1:")!, identity: "prom"), "front --pushprox")
    }
}
