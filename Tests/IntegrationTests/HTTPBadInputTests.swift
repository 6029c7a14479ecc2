import Foundation
import Testing

/// Hostile HTTP and TLS input against every listener: each gets a clear refusal or a closed connection, and
/// the server goes on serving.
@Suite struct HTTPBadInputTests {
    static let rawRequest = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/raw_request.py").path

    /// (name, mode, payload, acceptable first lines)
    static let cases: [(String, String, String, [String])] = [
        ("Content-Length with Transfer-Encoding (smuggling)", "tls",
         "POST /metrics HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 4\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\nGET /admin HTTP/1.1\\r\\n\\r\\n",
         ["HTTP/1.1 400 Bad Request"]),
        ("two different Content-Length headers", "tls",
         "POST /metrics HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 1\\r\\nContent-Length: 2\\r\\n\\r\\nab", ["HTTP/1.1 400 Bad Request"]),
        ("invalid request line", "tls", "GARBAGE\\r\\n\\r\\n", ["HTTP/1.1 400 Bad Request"]),
        ("oversized header (100 KB)", "tls", "GET /metrics HTTP/1.1\\r\\nHost: x\\r\\nX-Big: " + String(repeating: "a", count: 100_000) + "\\r\\n\\r\\n",
         ["HTTP/1.1 400 Bad Request", "HTTP/1.1 431 Request Header Fields Too Large", "closed"]),
        ("NUL in a header", "tls", "GET /metrics HTTP/1.1\\r\\nHost: x\\x00y\\r\\n\\r\\n", ["HTTP/1.1 400 Bad Request"]),
        ("plain HTTP on the TLS port", "plain", "GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n", ["closed"]),
        ("garbage instead of a ClientHello", "plain", "hex:16030100ff" + String(repeating: "ab", count: 300), ["closed"]),
    ]

    static func run(_ ws: Workspace, port: Int) throws -> [(String, String)] {
        try cases.map { name, mode, payload, _ in
            let result = try Command.run(
                "python3", [rawRequest, mode, String(port), "pki/ca.crt", "pki/issued/prom.crt", "pki/private/prom.key", "-", payload],
                directory: ws.url)
            return (name, result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    static func check(_ outcomes: [(String, String)], _ label: String) {
        print("\(label): " + outcomes.map { "\($0.0) → \($0.1)" }.joined(separator: "; "))
        for ((name, outcome), (_, _, _, acceptable)) in zip(outcomes, cases) {
            #expect(acceptable.contains(outcome), "\(label), \(name): \(outcome)")
        }
    }

    @Test func everyListenerRefusesHostileInputAndKeepsServing() throws {
        let fixture = try SidecarFixture()
        try fixture.startSidecar()
        Self.check(try Self.run(fixture.ws, port: fixture.port), "serve")
        #expect(try fixture.curl().status == 200, "serve still serves")

        let ca = try CAServerFixture(ws: fixture.ws, skipInit: true)
        Self.check(try Self.run(fixture.ws, port: ca.port), "certtool serve")
        #expect(try ca.curl("/healthz").body == "ok")

        let front = try BackgroundProcess(
            Workspace.sidecarPath,
            ["front", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(fixture.upstreamPort)", "--cert", "pki/issued/web.crt",
             "--key", "pki/private/web.key", "--client-ca", "pki/ca.crt"],
            in: fixture.ws, name: "front", ready: { $0.hasPrefix("listening on ") })
        let frontPort = try #require(front.number(after: "listening on https://127.0.0.1:"))
        Self.check(try Self.run(fixture.ws, port: frontPort), "front")

        let proxy = try BackgroundProcess(
            Workspace.sidecarPath,
            ["front", "--pushprox", "--listen", "127.0.0.1:0", "--cert", "pki/issued/web.crt", "--key", "pki/private/web.key",
             "--client-ca", "pki/ca.crt"],
            in: fixture.ws, name: "proxy", ready: { $0.hasPrefix("listening on ") })
        let proxyPort = try #require(proxy.number(after: "listening on https://127.0.0.1:"))
        Self.check(try Self.run(fixture.ws, port: proxyPort), "front --pushprox")
        for process in [front, proxy] { #expect(process.process.isRunning, "\(process.output)") }
        #expect(fixture.sidecar!.process.isRunning && ca.server!.process.isRunning)
    }
}
