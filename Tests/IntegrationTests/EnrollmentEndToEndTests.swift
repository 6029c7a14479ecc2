import Foundation
import Testing

/// The whole pipeline on 127.0.0.1: `certtool serve`, an app's `scrape-sidecar serve` that enrolls its own
/// identity, and a Prometheus whose client identity a `scrape-sidecar certs` agent keeps fresh.
@Suite struct EnrollmentEndToEndTests {
    /// Serving identity from the CA, for `SidecarFixture.startSidecar(tls:)`.
    static func enrollment(_ ca: CAServerFixture, token: String, out: String) -> [String] {
        ["--ca-url", ca.url, "--ca-bundle", "pki/ca.crt", "--token", token, "--san", "DNS:web.example.internal",
         "--san", "IP:127.0.0.1", "--out", out]
    }

    /// The serial of the certificate the sidecar presents now.
    static func servedSerial(_ fixture: SidecarFixture) throws -> String {
        let handshake = try fixture.ws.openssl(
            ["s_client", "-connect", "127.0.0.1:\(fixture.port)", "-CAfile", "pki/ca.crt", "-cert", "pki/issued/prom.crt",
             "-key", "pki/private/prom.key"], input: Data())
        try fixture.ws.write("served.pem", handshake.stdout)
        return try fixture.ws.serial("served.pem")
    }

    @Test func sidecarKeepsServingWhileTheCAIsDownAndRenewsWhenItReturns() throws {
        let fixture = try SidecarFixture()
        let ca = try CAServerFixture(["--default-validity", "20s"], ws: fixture.ws, skipInit: true)
        try fixture.ws.write("app.token", try ca.token(["--san", "DNS:web.example.internal", "--san", "IP:127.0.0.1", "--server"]))
        try fixture.startSidecar(tls: Self.enrollment(ca, token: "app.token", out: "appcerts") + ["--log-level", "info"])
        #expect(try fixture.curl().status == 200)
        let first = try Self.servedSerial(fixture)
        #expect(first == (try fixture.ws.serial("appcerts/cert-chain.pem")))
        let notAfter = try #require(CertAgentTests.readPair(fixture.ws.path("appcerts"))).certificate.notValidAfter

        ca.stop()
        let sidecar = try #require(fixture.sidecar)
        let deadline = Date() + 25
        while !sidecar.output.contains("renewal failed") && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        #expect(sidecar.output.contains("renewal failed: keeping the current certificate and retrying"), "\(sidecar.output)")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try fixture.curl().status == 200, "still serving with the old certificate")
        #expect(try Self.servedSerial(fixture) == first)

        try ca.start()
        let back = Date() + 10
        while sidecar.output.components(separatedBy: "wrote appcerts").count < 3 && Date() < back { Thread.sleep(forTimeInterval: 0.2) }
        let renewed = try #require(CertAgentTests.readPair(fixture.ws.path("appcerts"))).certificate
        #expect(renewed.serialNumber.description != first, "renewal resumed: \(sidecar.output)")
        #expect(Date() < notAfter, "before the old certificate expired")
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try Self.servedSerial(fixture) != first, "the listener serves the renewed certificate")
        #expect(try fixture.curl().status == 200)
    }

    /// The CA stays away past the serving certificate's notAfter: the sidecar reports not-ready, and once the CA
    /// is back it renews the expired certificate (within `--renew-expired-within`) and is ready again — no new
    /// token needed, also when the sidecar itself was restarted meanwhile. Without that option (the default)
    /// the CA refuses the renewal.
    @Test func anOutageLongerThanTheCertificateLifetimeHeals() throws {
        let fixture = try SidecarFixture()
        let ca = try CAServerFixture(["--default-validity", "8s", "--renew-expired-within", "1h"], ws: fixture.ws, skipInit: true)
        try fixture.ws.write("app.token", try ca.token(["--san", "DNS:web.example.internal", "--san", "IP:127.0.0.1", "--server"]))
        try fixture.startSidecar(tls: Self.enrollment(ca, token: "app.token", out: "appcerts"))
        let first = try #require(CertAgentTests.readPair(fixture.ws.path("appcerts"))).certificate
        #expect(try fixture.admin("/readyz").hasPrefix("ready"))

        ca.stop()
        Thread.sleep(until: first.notValidAfter + 1.5)
        let notReady = try Command.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(fixture.adminPort)/readyz"])
        #expect(notReady.stdout == "503", "not ready with an expired certificate")
        #expect(try fixture.admin("/readyz").contains("expired"))

        try ca.start()
        let sidecar = try #require(fixture.sidecar)
        let back = Date() + 40
        while (CertAgentTests.readPair(fixture.ws.path("appcerts"))?.certificate.serialNumber ?? first.serialNumber) == first.serialNumber,
            Date() < back
        {
            Thread.sleep(forTimeInterval: 0.2)
        }
        let renewed = try #require(CertAgentTests.readPair(fixture.ws.path("appcerts"))).certificate
        #expect(renewed.serialNumber != first.serialNumber, "renewed after expiry: \(sidecar.output)")
        Thread.sleep(forTimeInterval: 2.5)  // the listener picks the new files up (polled every 2 s)
        #expect(try fixture.admin("/readyz").hasPrefix("ready"))
        #expect(try fixture.curl().status == 200)

        // Down together past the notAfter, then restarted: the sidecar renews the expired certificate it left
        // behind instead of enrolling again with its token (spent on the first enrollment).
        sidecar.stop()
        ca.stop()
        Thread.sleep(until: renewed.notValidAfter + 1.5)
        try ca.start()
        try fixture.startSidecar(tls: Self.enrollment(ca, token: "app.token", out: "appcerts") + ["--log-level", "info"])
        let restarted = try #require(fixture.sidecar)
        let afterRestart = try #require(CertAgentTests.readPair(fixture.ws.path("appcerts"))).certificate
        #expect(afterRestart.serialNumber != renewed.serialNumber && afterRestart.notValidAfter > Date(), "\(restarted.output)")
        #expect(restarted.output.contains("renewed the expired certificate left in the output directory"), "\(restarted.output)")
        #expect(try fixture.curl().status == 200)

        // Without the grace, an expired certificate is refused at re-enrollment.
        restarted.stop()
        ca.stop()
        let last = try #require(CertAgentTests.readPair(fixture.ws.path("appcerts"))).certificate
        let strict = try CAServerFixture(ws: fixture.ws, skipInit: true)
        try strict.makeCSR("late", subject: "/CN=web", sans: "DNS:web.example.internal")
        Thread.sleep(until: last.notValidAfter + 1.5)
        let refused = try strict.curl("/.well-known/est/simplereenroll", [
            "-H", "Content-Type: application/pkcs10", "--data-binary", "@late.b64", "--cert", "appcerts/cert-chain.pem", "--key", "appcerts/key.pem"])
        #expect(refused.status == 403 && refused.body.contains("expired"), "\(refused)")
    }

    @Test func prometheusScrapesThroughRotationsOnBothSidesWithoutAFailedScrape() throws {
        let fixture = try SidecarFixture()
        let ca = try CAServerFixture(["--default-validity", "30s"], ws: fixture.ws, skipInit: true)
        try fixture.ws.write("app.token", try ca.token(["--san", "DNS:web.example.internal", "--san", "IP:127.0.0.1", "--server"]))
        try fixture.ws.write("prom.token", try ca.token(["--san", "DNS:prometheus.example.internal", "--client"]))
        try fixture.startSidecar(tls: Self.enrollment(ca, token: "app.token", out: "appcerts"))
        let agent = try BackgroundProcess(
            Workspace.sidecarPath,
            ["certs", "--ca-url", ca.url, "--ca-bundle", "pki/ca.crt", "--token", "prom.token", "--san", "DNS:prometheus.example.internal",
             "--out", "promcerts", "--key-mode", "0644"],
            in: fixture.ws, name: "certs", ready: { $0.hasPrefix("wrote promcerts") })
        defer { agent.stop() }
        let prometheus = try PrometheusServer(fixture.ws, config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: app
                scheme: https
                tls_config:
                  ca_file: promcerts/root-cert.pem
                  cert_file: promcerts/cert-chain.pem
                  key_file: promcerts/key.pem
                  server_name: web.example.internal
                  insecure_skip_verify: false
                static_configs:
                  - targets: ["127.0.0.1:\(fixture.port)"]

            """, logLevel: "debug")
        defer { prometheus.stop() }
        let start = Date()
        _ = try prometheus.waitFor("up{job=\"app\"} == 1") { !$0.isEmpty }

        // Three rotations on each side: four sets written by each agent.
        let sidecar = try #require(fixture.sidecar)
        func writes(_ process: BackgroundProcess, _ out: String) -> Int { process.output.components(separatedBy: "wrote \(out)").count - 1 }
        let deadline = Date() + 100
        while (writes(sidecar, "appcerts") < 4 || writes(agent, "promcerts") < 4) && Date() < deadline {
            Thread.sleep(forTimeInterval: 1)
        }
        #expect(writes(sidecar, "appcerts") >= 4, "\(sidecar.output)")
        #expect(writes(agent, "promcerts") >= 4, "\(agent.output)")
        Thread.sleep(forTimeInterval: 2)

        // Over the whole run (longer than one certificate lifetime on each side): every scrape succeeded.
        let window = Int(Date().timeIntervalSince(start)) - 3
        let scrapes = try prometheus.query("count_over_time(up{job=\"app\"}[\(window)s])").values.first ?? 0
        let minimum = try prometheus.query("min_over_time(up{job=\"app\"}[\(window)s])").values.first
        let samples = try prometheus.query("min_over_time(scrape_samples_scraped{job=\"app\"}[\(window)s])").values.first ?? 0
        #expect(window > 30, "the run outlasts a certificate lifetime")
        #expect(scrapes >= Double(window - 5), "Prometheus scraped every second")
        let diagnosis = "\(prometheus.failedScrapes)\nsidecar:\n\(sidecar.output)\nagent:\n\(agent.output)"
        #expect(minimum == 1, "no failed scrape across the rotations: \(diagnosis)")
        #expect(samples >= 4000, "every scrape carried the app's metrics")
    }
}
