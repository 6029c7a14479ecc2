import Foundation
import Testing

/// `--read-timeout`: slow-drip requests (slowloris) and idle keep-alive connections are cut; a slow upstream
/// answer is not.
@Suite struct ReadTimeoutTests {
    static let slowClient = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/slow_client.py").path

    /// Seconds the server kept the connection open (nil: still open at `limit`), and the first line.
    static func slowClient(_ ws: Workspace, port: Int, identity: String = "prom", interval: Double = 0.3, limit: Double = 10,
                           request: String? = nil) throws -> (seconds: Double?, output: String) {
        let result = try Command.run(
            "python3", [slowClient, "127.0.0.1", String(port), "pki/ca.crt", "pki/issued/\(identity).crt",
                        "pki/private/\(identity).key", String(interval), String(limit)] + (request.map { [$0] } ?? []),
            directory: ws.url)
        let closed = result.stdout.components(separatedBy: "closed after ").last.flatMap { Double($0.prefix { $0 != "s" }) }
        return (result.stdout.contains("closed after") ? closed : nil, result.output)
    }

    @Test func sidecarCutsSlowAndIdleClientsButWaitsForASlowUpstream() throws {
        let fixture = try SidecarFixture(slow: 3)
        try fixture.startSidecar(["--allow-san", "DNS:prometheus.example.internal", "--allow-path", "/metrics",
                                  "--allow-path", "/slow", "--read-timeout", "2s"])
        let trickle = try Self.slowClient(fixture.ws, port: fixture.port, request: "GET /metrics HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\r\\n\\r\\n")
        let seconds = try #require(trickle.seconds, "the trickling client was never cut: \(trickle.output)")
        #expect(seconds >= 1.5 && seconds < 4, "\(trickle.output)")

        let idle = try Self.slowClient(fixture.ws, port: fixture.port)
        #expect(idle.output.contains("answered HTTP/1.1 200"), "\(idle.output)")
        let idleSeconds = try #require(idle.seconds, "the idle keep-alive connection was never closed: \(idle.output)")
        #expect(idleSeconds >= 1.5 && idleSeconds < 4, "\(idle.output)")

        // The clock stops while the answer is produced: a 3 s upstream beats a 2 s read timeout.
        #expect(try fixture.curl("/slow").status == 200)
    }

    @Test func caServerCutsATricklingEnrollment() throws {
        let ca = try CAServerFixture(["--read-timeout", "2s"])
        try ca.ws.ok(["issue", "prom", "--client", "--san", "DNS:prometheus.example.internal"])
        let trickle = try Self.slowClient(
            ca.ws, port: ca.port, request: "POST /.well-known/est/simplereenroll HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 900\\r\\n\\r\\n" + String(repeating: "A", count: 100))
        let seconds = try #require(trickle.seconds, "the trickling client was never cut: \(trickle.output)")
        #expect(seconds >= 1.5 && seconds < 4, "\(trickle.output)")
        #expect(try ca.curl("/healthz").body == "ok", "the server still answers others")
    }

    @Test(arguments: [["front", "--upstream"], ["front", "--pushprox", "--scrape-listen"]])
    func frontAndProxyCutATricklingClient(mode: [String]) throws {
        let fixture = try SidecarFixture()
        let target = mode.last == "--upstream" ? "http://127.0.0.1:\(fixture.upstreamPort)" : "127.0.0.1:0"
        let server = try BackgroundProcess(
            Workspace.sidecarPath, mode + [target, "--listen", "127.0.0.1:0", "--read-timeout", "2s"] + SidecarFixture.tlsFiles,
            in: fixture.ws, name: "front", ready: { $0.hasPrefix("listening on https://") })
        let port = try #require(server.number(after: "listening on https://127.0.0.1:"))
        let trickle = try Self.slowClient(fixture.ws, port: port, request: "POST /poll HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\r\\n\\r\\n")
        let seconds = try #require(trickle.seconds, "\(mode): the trickling client was never cut: \(trickle.output)")
        #expect(seconds >= 1.5 && seconds < 4, "\(mode): \(trickle.output)")
        #expect(server.process.isRunning)
    }
}
