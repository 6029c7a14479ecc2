import Foundation
import Testing

/// sslyze (PyPI) and testssl.sh (Debian) against every TLS listener: no protocol below TLS 1.2, only AEAD
/// suites, no client-initiated renegotiation, no compression.
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

    /// testssl.sh's protocol, cipher-category, renegotiation and CRIME checks, findings by id. testssl.sh 3.0
    /// has no client-certificate option, and its renegotiation check needs a finished handshake: it runs with
    /// an `openssl` that adds the client certificate to every `s_client`.
    static func testssl(_ ws: Workspace, port: Int, label: String) throws {
        let openssl = ws.path("openssl-with-client-cert")
        if !FileManager.default.fileExists(atPath: openssl) {
            try ws.write("openssl-with-client-cert", """
                #!/bin/sh
                if [ "$1" = s_client ]; then shift; exec openssl s_client -cert '\(ws.path("pki/issued/prom.crt"))' -key '\(ws.path("pki/private/prom.key"))' "$@"; fi
                exec openssl "$@"

                """)
            chmod(openssl, 0o755)
        }
        let out = "testssl-\(port).json"
        let result = try Command.run(
            "testssl", ["--quiet", "--color", "0", "--warnings", "off", "--nodns", "none", "--openssl", openssl,
                        "-p", "-s", "-R", "-C", "--jsonfile", out, "127.0.0.1:\(port)"],
            directory: ws.url)
        let data = try Data(contentsOf: URL(fileURLWithPath: ws.path(out)))
        let findings = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]], "\(result.output)")
            .reduce(into: [String: String]()) { found, item in
                if let id = item["id"] as? String, let finding = item["finding"] as? String { found[id] = finding }
            }
        let notOffered = ["SSLv2", "SSLv3", "TLS1", "TLS1_1", "cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT",
                          "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"]
        for id in notOffered {
            #expect(findings[id] == "not offered", "\(label): testssl \(id): \(findings[id] ?? "missing")")
        }
        for id in ["TLS1_2", "TLS1_3", "cipherlist_STRONG"] {
            #expect(findings[id]?.hasPrefix("offered") == true, "\(label): testssl \(id): \(findings[id] ?? "missing")")
        }
        for id in ["secure_client_renego", "CRIME_TLS"] {
            #expect(findings[id]?.hasPrefix("not vulnerable") == true, "\(label): testssl \(id): \(findings[id] ?? "missing")")
        }
    }

    static func scanBoth(_ ws: Workspace, port: Int, label: String) throws {
        check(try scan(ws, port: port, identity: "prom"), label)
        try testssl(ws, port: port, label: label)
    }

    @Test func everyListenerOffersOnlyModernTLS() throws {
        let fixture = try SidecarFixture()
        try fixture.startSidecar()
        try Self.scanBoth(fixture.ws, port: fixture.port, label: "serve")

        let ca = try CAServerFixture(ws: fixture.ws, skipInit: true)
        try Self.scanBoth(fixture.ws, port: ca.port, label: "certtool serve")

        let front = try BackgroundProcess(
            Workspace.sidecarPath,
            ["front", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(fixture.upstreamPort)", "--cert", "pki/issued/web.crt",
             "--key", "pki/private/web.key", "--client-ca", "pki/ca.crt"],
            in: fixture.ws, name: "front", ready: { $0.hasPrefix("listening on ") })
        try Self.scanBoth(fixture.ws, port: front.number(after: "listening on https://127.0.0.1:")!, label: "front")

        let proxy = try BackgroundProcess(
            Workspace.sidecarPath,
            ["front", "--pushprox", "--listen", "127.0.0.1:0", "--cert", "pki/issued/web.crt", "--key", "pki/private/web.key",
             "--client-ca", "pki/ca.crt"],
            in: fixture.ws, name: "proxy", ready: { $0.hasPrefix("listening on ") })
        try Self.scanBoth(fixture.ws, port: proxy.number(after: "listening on https://127.0.0.1:")!, label: "front --pushprox")
    }
}
