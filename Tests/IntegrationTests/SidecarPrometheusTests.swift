import Foundation
import Testing

/// A real Prometheus scrapes through the sidecar with `scheme: https` and a full `tls_config`, never
/// `insecure_skip_verify`.
@Suite struct SidecarPrometheusTests {
    static func scrapeJob(_ name: String, identity: String, port: Int) -> String {
        """
          - job_name: \(name)
            scheme: https
            tls_config:
              ca_file: pki/ca.crt
              cert_file: pki/issued/\(identity).crt
              key_file: pki/private/\(identity).key
              server_name: web.example.internal
              insecure_skip_verify: false
            static_configs:
              - targets: ["127.0.0.1:\(port)"]

        """
    }

    /// The same access rules given as flags, or as an exporter's unchanged exporter-toolkit web config.
    @Test(arguments: [false, true])
    func allowedIdentityIsUpNotAllowedIsDownAndRotationFailsNoScrape(webConfig: Bool) throws {
        let fixture = try SidecarFixture()
        if webConfig {
            try fixture.ws.write("pki/web-config.yml", """
                tls_server_config:
                  cert_file: issued/web.crt
                  key_file: private/web.key
                  client_auth_type: RequireAndVerifyClientCert
                  client_ca_file: ca.crt
                  client_allowed_sans: ["prometheus.example.internal"]
                  min_version: TLS12

                """)
            try fixture.startSidecar([], tls: ["--web.config.file", "pki/web-config.yml"])
        } else {
            try fixture.startSidecar()
        }
        let prometheus = try PrometheusServer(fixture.ws, config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:

            """ + Self.scrapeJob("allowed", identity: "prom", port: fixture.port)
            + Self.scrapeJob("denied", identity: "other", port: fixture.port))
        defer { prometheus.stop() }

        let up = try prometheus.waitFor("up") { $0.count == 2 }
        #expect(up.first { $0.key["job"] == "allowed" }?.value == 1)
        #expect(up.first { $0.key["job"] == "denied" }?.value == 0)
        // The scraped values are the upstream's.
        let sample = try prometheus.waitFor("metric_1234") { !$0.isEmpty }
        #expect(sample.values.first == 1234)

        // Rotate the serving certificate three times while Prometheus scrapes every second.
        for _ in 0..<3 {
            try fixture.ws.ok(["issue", "web", "--force", "--san", "DNS:web.example.internal", "--san", "IP:127.0.0.1"])
            Thread.sleep(forTimeInterval: 3)
        }
        Thread.sleep(forTimeInterval: 2)
        let scrapes = try prometheus.query("count_over_time(up{job=\"allowed\"}[15s])").values.first ?? 0
        let minimum = try prometheus.query("min_over_time(up{job=\"allowed\"}[15s])").values.first
        #expect(scrapes >= 10, "Prometheus kept scraping")
        #expect(minimum == 1, "no scrape failed during rotation")
        #expect(fixture.sidecar!.output.contains("reloaded certificate"))
    }
}
