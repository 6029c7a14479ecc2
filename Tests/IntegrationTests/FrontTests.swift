import Foundation
import Testing

/// `scrape-sidecar front` in front of a PushProx-protocol upstream, as nginx with `ssl_verify_client` is.
final class FrontFixture {
    let ws: Workspace
    let upstream: BackgroundProcess
    private(set) var front: BackgroundProcess?
    private(set) var port = 0

    static let upstreamScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/pushprox_upstream.py").path

    init(pollWait: Double = 0.2) throws {
        ws = try Workspace()
        try ws.ok(["issue", "front", "--san", "DNS:proxy.example.internal", "--san", "IP:127.0.0.1"])
        try ws.ok(["issue", "node1", "--client", "--san", "DNS:node1.example.internal"])
        try ws.ok(["issue", "node2", "--client", "--san", "DNS:node2.example.internal"])
        upstream = try BackgroundProcess(
            "python3", ["-u", Self.upstreamScript, "--poll-wait", String(pollWait)], in: ws, name: "pushprox",
            ready: { $0.hasPrefix("listening on ") })
    }

    func start(_ arguments: [String] = []) throws {
        let upstreamPort = upstream.number(after: "listening on ")!
        let front = try BackgroundProcess(
            Workspace.sidecarPath,
            ["front", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(upstreamPort)", "--cert", "pki/issued/front.crt",
             "--key", "pki/private/front.key", "--client-ca", "pki/ca.crt"] + arguments,
            in: ws, name: "front", ready: { $0.hasPrefix("listening on ") })
        port = front.number(after: "listening on https://127.0.0.1:")!
        self.front = front
    }

    /// curl through the front as `identity` (nil: no client certificate); status 0 when TLS failed.
    func curl(_ path: String, as identity: String? = "node1", extra: [String] = []) throws -> (status: Int, body: String) {
        var arguments = ["-sS", "--max-time", "300", "--cacert", "pki/ca.crt", "-w", "\n%{http_code}"]
        if let identity { arguments += ["--cert", "pki/issued/\(identity).crt", "--key", "pki/private/\(identity).key"] }
        let result = try Command.run("curl", arguments + extra + ["https://127.0.0.1:\(port)\(path)"], directory: ws.url)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
    }

    /// Requests the upstream received, as "METHOD PATH BODY".
    var upstreamRequests: [String] {
        upstream.output.split(separator: "\n").filter { $0.hasPrefix("REQUEST ") }.map { String($0.dropFirst(8)) }
    }
}

@Suite struct FrontTests {
    @Test func aPollWaitingThreeMinutesIsStillAnswered() throws {
        let fixture = try FrontFixture(pollWait: 180)
        try fixture.start(["--read-timeout", "5s"])
        let started = Date()
        let poll = try fixture.curl("/poll", extra: ["--data-binary", "node1.example.internal"])
        #expect(poll.status == 200, "\(poll)")
        #expect(poll.body.hasPrefix("GET http://node1.example.internal:9100/metrics HTTP/1.1"))
        #expect(Date().timeIntervalSince(started) >= 179)
    }

    @Test func identityHeadersArriveAndClientCopiesAreStripped() throws {
        let fixture = try FrontFixture()
        try fixture.start()
        let echo = try fixture.curl("/echo", extra: [
            "-H", "X-SSL-Client-Verify: SUCCESS", "-H", "X-SSL-Client-S-DN: CN=admin", "-H", "X-Forwarded-Client-Cert: Hash=0;DNS=admin",
        ])
        #expect(echo.status == 200)
        let headers = echo.body.split(separator: "\n").map(String.init)
        #expect(headers.filter { $0.hasPrefix("x-ssl-client-verify:") } == ["x-ssl-client-verify: SUCCESS"])
        #expect(headers.filter { $0.hasPrefix("x-ssl-client-s-dn:") } == ["x-ssl-client-s-dn: CN=node1"])
        let xfcc = headers.filter { $0.hasPrefix("x-forwarded-client-cert:") }
        #expect(xfcc.count == 1 && xfcc[0].contains("DNS=node1.example.internal") && !xfcc[0].contains("admin"), "\(xfcc)")
        // Any path goes through (unlike serve's /metrics default), and no certificate fails the handshake.
        #expect(try fixture.curl("/push", extra: ["--data-binary", "HTTP/1.1 200 OK\r\n\r\nup 1\n"]).body.hasPrefix("pushed"))
        #expect(try fixture.curl("/echo", as: nil).status == 0)
    }

    @Test func optionalVerificationForwardsNoneWithoutACertificate() throws {
        let fixture = try FrontFixture()
        try fixture.start(["--verify-client", "optional"])
        let anonymous = try fixture.curl("/echo", as: nil)
        #expect(anonymous.status == 200 && anonymous.body.contains("x-ssl-client-verify: NONE"), "\(anonymous)")
        #expect(try fixture.curl("/echo").body.contains("x-ssl-client-verify: SUCCESS"))
    }

    @Test func pollsAreBoundToTheCertificatesFQDN() throws {
        let fixture = try FrontFixture()
        try fixture.start(["--pushprox-bind-fqdn"])
        let own = try fixture.curl("/poll", extra: ["--data-binary", "node1.example.internal"])
        #expect(own.status == 200, "\(own)")
        let other = try fixture.curl("/poll", extra: ["--data-binary", "node2.example.internal"])
        #expect(other.status == 403 && other.body.contains("does not carry DNS:node2.example.internal"), "\(other)")
        let upstream = fixture.upstreamRequests
        #expect(upstream.contains("POST /poll node1.example.internal"))
        #expect(!upstream.contains { $0.contains("node2") }, "the refused poll never reached the upstream: \(upstream)")
        let bad = try Command.run(Workspace.sidecarPath, ["front", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1",
                                                          "--cert", "a", "--key", "b", "--client-ca", "c", "--verify-client", "optional",
                                                          "--pushprox-bind-fqdn"])
        #expect(bad.status == 2 && bad.stderr.contains("--pushprox-bind-fqdn needs --verify-client on"))
    }

    @Test func oversizeBodiesGet413AndConnectionsAreCapped() throws {
        let fixture = try FrontFixture()
        try fixture.start(["--max-body", "1000", "--max-connections", "2"])
        try fixture.ws.write("big.txt", String(repeating: "x", count: 5000))
        let big = try fixture.curl("/push", extra: ["--data-binary", "@big.txt"])
        #expect(big.status == 413, "\(big)")
        #expect(!fixture.upstreamRequests.contains { $0.hasPrefix("POST /push") }, "nothing reached the upstream")
        // Chunked, so the size is only known while streaming.
        let chunked = try fixture.curl("/push", extra: ["-H", "Transfer-Encoding: chunked", "--data-binary", "@big.txt"])
        #expect(chunked.status == 413 || chunked.status == 0, "\(chunked)")

        let holders = try (0..<2).map { _ in
            try BackgroundProcess(
                "python3", [ReadTimeoutTests.slowClient, "127.0.0.1", String(fixture.port), "pki/ca.crt", "pki/issued/node1.crt",
                            "pki/private/node1.key", "0.5", "8", "GET /echo HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"],
                in: fixture.ws, name: "holder", ready: nil)
        }
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try fixture.curl("/echo").status == 0, "a third connection is closed at the cap")
        for holder in holders { holder.stop() }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try fixture.curl("/echo").status == 200)
    }
}
