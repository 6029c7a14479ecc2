import Foundation
import Testing

/// `scrape-sidecar serve` against curl and a real upstream process, with certtool-made certificates.
@Suite struct SidecarServeTests {
    @Test func allowedClientGetsTheUpstreamBodyByteForByte() throws {
        let fixture = try SidecarFixture()
        try fixture.startSidecar()
        let response = try fixture.curl(output: "got.txt")
        #expect(response.status == 200)
        let got = try Data(contentsOf: URL(fileURLWithPath: fixture.ws.path("got.txt")))
        let sent = try Data(contentsOf: URL(fileURLWithPath: fixture.ws.path("metrics.txt")))
        #expect(got == sent)
        // Many requests over one keep-alive connection, all complete.
        let urls = (0..<20).flatMap { _ in ["-o", "/dev/null", "https://web.example.internal:\(fixture.port)/metrics"] }
        let many = try Command.run("curl", ["-sS", "--cacert", "pki/ca.crt", "--resolve", "web.example.internal:\(fixture.port):127.0.0.1",
                                            "--cert", "pki/issued/prom.crt", "--key", "pki/private/prom.key",
                                            "-w", "%{http_code} %{num_connects}\n"] + urls, directory: fixture.ws.url)
        let statuses = many.stdout.split(separator: "\n")
        #expect(statuses.count == 20)
        #expect(statuses.allSatisfy { $0.hasPrefix("200 ") })
        #expect(statuses.filter { $0 == "200 1" }.count == 1, "all twenty went over one kept-alive connection")
    }

    @Test(arguments: [
        ("no_certificate", nil as String?),
        ("wrong_purpose", "srv"),  // a server-only certificate: no clientAuth
    ])
    func unverifiableClientsFailTheHandshake(reason: String, identity: String?) throws {
        let fixture = try SidecarFixture()
        try fixture.startSidecar([])
        #expect(try fixture.curl(as: identity).status == 0, "\(reason)")
        let metrics = try fixture.admin("/metrics")
        #expect(metrics.contains("scrape_sidecar_tls_handshake_failures_total{reason=\"\(reason)\"} 1"), "\(metrics)")
    }

    /// The listener's policy, checked with the openssl client: TLS 1.3 by default, TLS 1.2 only with AEAD
    /// suites, nothing older.
    @Test func tlsPostureWithTheOpenSSLClient() throws {
        let fixture = try SidecarFixture()
        try fixture.startSidecar()
        func handshake(_ extra: [String]) throws -> CommandResult {
            try fixture.ws.openssl(["s_client", "-connect", "127.0.0.1:\(fixture.port)", "-CAfile", "pki/ca.crt",
                                    "-cert", "pki/issued/prom.crt", "-key", "pki/private/prom.key", "-verify_return_error"] + extra,
                                   input: Data("Q\n".utf8))
        }
        let modern = try handshake([])
        #expect(modern.stdout.contains("New, TLSv1.3"), "\(modern.output)")
        let gcm = try handshake(["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"])
        #expect(gcm.stdout.contains("Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"), "\(gcm.output)")
        let cbc = try handshake(["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"])
        #expect(cbc.stdout.contains("Cipher is (NONE)"), "\(cbc.output)")
        let old = try handshake(["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        #expect(old.stdout.contains("Cipher is (NONE)"), "\(old.output)")
    }

    @Test func certificateFromAnotherCAFailsTheHandshake() throws {
        let fixture = try SidecarFixture()
        try fixture.startSidecar([])
        let stranger = try Workspace()
        try stranger.ok(["issue", "prom", "--client", "--san", "DNS:prometheus.example.internal"])
        try FileManager.default.createDirectory(atPath: fixture.ws.path("stranger"), withIntermediateDirectories: true)
        for file in ["issued/prom.crt", "private/prom.key"] {
            try FileManager.default.copyItem(atPath: stranger.path("pki/\(file)"),
                                             toPath: fixture.ws.path("stranger/\(file.replacingOccurrences(of: "/", with: "-"))"))
        }
        let response = try fixture.curl(as: nil, extra: ["--cert", "stranger/issued-prom.crt", "--key", "stranger/private-prom.key"])
        #expect(response.status == 0)
        #expect(try fixture.admin("/metrics").contains("reason=\"unknown_ca\""))
    }

    @Test func expiredCertificateFailsTheHandshake() throws {
        let fixture = try SidecarFixture()
        try fixture.ws.ok(["issue", "brief", "--client", "--san", "DNS:prometheus.example.internal", "--validity", "1m"])
        try fixture.startSidecar([])
        #expect(try fixture.curl(as: "brief").status == 200)
        // certtool back-dates notBefore, never notAfter: a minute later the certificate has expired.
        Thread.sleep(forTimeInterval: 62)
        #expect(try fixture.curl(as: "brief").status == 0)
        #expect(try fixture.admin("/metrics").contains("reason=\"expired\""))
    }

    @Test func revokedCertificateIsRefusedAndANewCRLIsPickedUp() throws {
        let fixture = try SidecarFixture()
        try fixture.ws.ok(["crl"])
        try fixture.startSidecar(["--crl", "pki/crl.pem"])
        #expect(try fixture.curl(as: "prom").status == 200)
        try fixture.ws.ok(["revoke", "prom", "--reason", "keyCompromise"])
        // The CRL file changed: the sidecar re-reads it within its poll interval.
        var status = 200
        for _ in 0..<50 where status != 0 {
            Thread.sleep(forTimeInterval: 0.2)
            status = try fixture.curl(as: "prom").status
        }
        #expect(status == 0)
        #expect(try fixture.admin("/metrics").contains("reason=\"revoked\""))
        #expect(try fixture.curl(as: "other").status == 200)
    }

    /// A client's validated chain is remembered across its connections; the memory must not outlive the
    /// certificate: once it expires, the next connection is refused in the handshake.
    @Test func aRememberedClientIsRefusedOnceItsCertificateExpires() throws {
        let fixture = try SidecarFixture()
        try fixture.ws.ok(["issue", "brief", "--client", "--san", "DNS:prometheus.example.internal", "--validity", "8s"])
        try fixture.startSidecar()
        #expect(try fixture.curl(as: "brief").status == 200)
        #expect(try fixture.curl(as: "brief").status == 200, "a second connection, from the remembered chain")
        Thread.sleep(until: try fixture.ws.notAfter("pki/issued/brief.crt") + 1.5)
        #expect(try fixture.curl(as: "brief").status == 0)
        #expect(try fixture.admin("/metrics").contains("reason=\"expired\""))
        #expect(try fixture.curl(as: "prom").status == 200)
    }

    @Test func sanAndPathNotAllowedGet403WithAReason() throws {
        let fixture = try SidecarFixture()
        try fixture.startSidecar(["--allow-san", "DNS:prometheus.example.internal", "--allow-path", "/metrics"])
        let other = try fixture.curl(as: "other")
        #expect(other.status == 403)
        #expect(other.body == "client identity [DNS:other.example.internal] is not allowed")
        let path = try fixture.curl("/echo-headers", as: "prom")
        #expect(path.status == 403)
        #expect(path.body == "path /echo-headers is not allowed")
        #expect(try fixture.curl("/metrics?x=1", as: "prom").status == 200)
    }

    @Test func uriPatternsInTheAllowList() throws {
        let fixture = try SidecarFixture()
        try fixture.ws.ok(["issue", "spiffe", "--client", "--san", "URI:spiffe://cluster.local/ns/monitoring/sa/prometheus"])
        try fixture.ws.ok(["issue", "spiffe-other", "--client", "--san", "URI:spiffe://cluster.local/ns/apps/sa/web"])
        try fixture.startSidecar(["--allow-san", "URI:spiffe://cluster.local/ns/*/sa/prometheus"])
        #expect(try fixture.curl(as: "spiffe").status == 200)
        #expect(try fixture.curl(as: "spiffe-other").status == 403)
    }

    @Test func identityIsForwardedAndClientCopiesAreRemoved() throws {
        let fixture = try SidecarFixture()
        try fixture.startSidecar(["--allow-path", "/echo-headers"])
        let response = try fixture.curl("/echo-headers", headers: [
            "X-Forwarded-Client-Cert: Hash=forged;DNS=admin.example.internal", "X-SSL-Client-Verify: SUCCESS",
        ])
        #expect(response.status == 200)
        let xfcc = response.body.split(separator: "\n").filter { $0.hasPrefix("x-forwarded-client-cert:") }
        #expect(xfcc.count == 1)
        let fingerprint = try fixture.ws.openssl(["x509", "-in", "pki/issued/prom.crt", "-noout", "-fingerprint", "-sha256"]).stdout
            .split(separator: "=").last!.replacingOccurrences(of: ":", with: "").lowercased()
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(xfcc.first == "x-forwarded-client-cert: Hash=\(fingerprint);Subject=\"CN=prom\";DNS=prometheus.example.internal")
        #expect(!response.body.contains("forged"))
        #expect(!response.body.contains("x-ssl-client-verify"))
    }

    @Test func upstreamRefusedIs502AndTooSlowIs504() throws {
        let fixture = try SidecarFixture(slow: 5)
        try fixture.startSidecar(["--allow-path", "/slow", "--allow-path", "/metrics"])
        let started = Date()
        let slow = try fixture.curl("/slow", headers: ["X-Prometheus-Scrape-Timeout-Seconds: 1"])
        #expect(slow.status == 504)
        #expect(Date().timeIntervalSince(started) < 4.5, "the scrape timeout header sets the upstream deadline")

        let closedPort = try freeLoopbackPort()
        let refused = try SidecarFixture()
        try refused.startSidecar([], upstreamPort: closedPort)
        let response = try refused.curl()
        #expect(response.status == 502)
        #expect(response.body.hasPrefix("upstream unavailable"))
        #expect(try refused.admin("/readyz").hasPrefix("not ready: upstream"))
        let ready = try fixture.admin("/readyz")
        #expect(ready == "ready\n", "\(ready)")
    }

    @Test func rotatedCertificateIsServedWithoutDroppingConnections() throws {
        let fixture = try SidecarFixture()
        try fixture.startSidecar()
        func servedSerial() throws -> String {
            let result = try fixture.ws.openssl(["s_client", "-connect", "127.0.0.1:\(fixture.port)", "-CAfile", "pki/ca.crt",
                                                 "-cert", "pki/issued/prom.crt", "-key", "pki/private/prom.key"],
                                                input: Data("Q\n".utf8))
            let pem = result.stdout.components(separatedBy: "-----BEGIN CERTIFICATE-----").dropFirst().first ?? ""
            let cert = "-----BEGIN CERTIFICATE-----" + pem.components(separatedBy: "-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
            return try fixture.ws.openssl(["x509", "-noout", "-serial"], input: Data(cert.utf8)).stdout
        }
        let before = try servedSerial()
        func notAfterGauge() throws -> String? {
            try fixture.admin("/metrics").split(separator: "\n")
                .first { $0.hasPrefix("scrape_sidecar_certificate_not_after_seconds{listener=\"127.0.0.1:\(fixture.port)\"}") }
                .map(String.init)
        }
        let gaugeBefore = try #require(try notAfterGauge())
        // A broken key keeps the old identity.
        try fixture.ws.write("pki/private/web.key.bak", try fixture.ws.read("pki/private/web.key"))
        try fixture.ws.write("pki/private/web.key", try fixture.ws.read("pki/private/prom.key"))
        Thread.sleep(forTimeInterval: 2.5)
        #expect(try servedSerial() == before)
        #expect(fixture.sidecar!.output.contains("kept the previous TLS identity"))
        #expect(try fixture.curl().status == 200)
        // A real rotation is picked up.
        try fixture.ws.ok(["issue", "web", "--force", "--san", "DNS:web.example.internal", "--san", "IP:127.0.0.1"])
        var after = before
        for _ in 0..<30 where after == before {
            Thread.sleep(forTimeInterval: 0.2)
            after = try servedSerial()
        }
        #expect(after != before)
        #expect(try fixture.curl().status == 200)
        // certtool issued the new certificate later, so its notAfter (and the gauge) moved forward.
        #expect(try notAfterGauge() != gaugeBefore)
    }

    @Test func badArgumentsExit2WithOneLine() throws {
        let ws = try Workspace()
        for (arguments, message) in [
            (["serve", "--listen", "127.0.0.1:0", "--cert", "x", "--key", "y", "--client-ca", "z"], "--listen and --upstream go together"),
            (["serve", "--route", "nonsense", "--cert", "x", "--key", "y", "--client-ca", "z"], "invalid route 'nonsense'"),
            (["serve", "--listen", "127.0.0.1:0", "--upstream", "https://x:1", "--cert", "x", "--key", "y", "--client-ca", "z"], "expected http://HOST:PORT"),
            (["serve", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--cert", "missing.crt", "--key", "y", "--client-ca", "z"], "cannot read certificate 'missing.crt'"),
        ] {
            let result = try Command.run(Workspace.sidecarPath, arguments, directory: ws.url)
            #expect(result.status == 2, "\(arguments): \(result.output)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }
    }
}

/// A loopback port nobody listens on (bound, then released).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw TestFailure("cannot bind a loopback port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

@Suite struct SidecarShutdownTests {
    @Test func sigtermFinishesInFlightRequestsThenExits() throws {
        let fixture = try SidecarFixture(slow: 2)
        try fixture.startSidecar(["--allow-path", "/slow"])
        let sidecar = try #require(fixture.sidecar)
        // A scrape that takes two seconds is in flight when SIGTERM arrives.
        let slow = Process()
        slow.executableURL = URL(fileURLWithPath: try Command.resolve("curl"))
        slow.arguments = ["-sS", "--max-time", "10", "--cacert", "pki/ca.crt", "--cert", "pki/issued/prom.crt",
                          "--key", "pki/private/prom.key", "-o", "slow.txt", "-w", "%{http_code}",
                          "https://127.0.0.1:\(fixture.port)/slow"]
        slow.currentDirectoryURL = fixture.ws.url
        let out = Pipe()
        slow.standardOutput = out
        try slow.run()
        Thread.sleep(forTimeInterval: 0.7)
        sidecar.signal(SIGTERM)
        Thread.sleep(forTimeInterval: 0.3)
        // New connections are refused while the old request finishes.
        #expect(try fixture.curl(as: "prom").status == 0)
        slow.waitUntilExit()
        #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "200", "\(sidecar.output)")
        #expect(try fixture.ws.read("slow.txt") == "slow\n")
        let deadline = Date() + 10
        while sidecar.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!sidecar.process.isRunning)
        #expect(sidecar.process.terminationStatus == 0)
        #expect(sidecar.output.contains("stopped"))
    }
}

@Suite struct SidecarStreamingTests {
    @Test func contentEncodingPassesThroughUntouched() throws {
        let fixture = try SidecarFixture()
        try fixture.startSidecar()
        let response = try fixture.curl(headers: ["Accept-Encoding: gzip"], output: "raw.gz", extra: ["-D", "headers.txt"])
        #expect(response.status == 200)
        #expect(try fixture.ws.read("headers.txt").lowercased().contains("content-encoding: gzip"))
        let decoded = try Command.run("gzip", ["-dc", "raw.gz"], directory: fixture.ws.url)
        #expect(decoded.stdout == (try fixture.ws.read("metrics.txt")))
    }

    @Test func fiftyMegabytePageIsStreamedNotBuffered() throws {
        let fixture = try SidecarFixture()
        try fixture.startSidecar(["--allow-path", "/big", "--allow-path", "/metrics"])
        let pid = fixture.sidecar!.process.processIdentifier
        func peakRSSKiB() throws -> Int {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
        }
        #expect(try fixture.curl(as: "prom").status == 200)  // warm up: TLS, pools, metrics
        let before = try peakRSSKiB()
        let response = try fixture.curl("/big", as: "prom", output: "big.bin")
        #expect(response.status == 200)
        let size = try FileManager.default.attributesOfItem(atPath: fixture.ws.path("big.bin"))[.size] as? Int
        #expect(size == 50 * 16 * 65536)
        let growth = try peakRSSKiB() - before
        #expect(growth < 20 * 1024, "peak RSS grew by \(growth) KiB while proxying 50 MiB")
    }
}
