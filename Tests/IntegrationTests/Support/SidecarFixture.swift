import Foundation

/// A pki with the usual identities, an upstream app, and `scrape-sidecar serve` in front of it.
final class SidecarFixture {
    let ws: Workspace
    let upstream: BackgroundProcess
    let upstreamPort: Int
    private(set) var sidecar: BackgroundProcess?
    private(set) var port = 0
    private(set) var adminPort = 0

    static let upstreamScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/upstream.py").path

    /// Issues web (server), prom and other (clients), srv (server only); starts the upstream serving `metrics`.
    init(metrics: Data = Data((0..<4000).map { "metric_\($0){job=\"x\"} \($0)\n" }.joined().utf8), slow: Double = 5) throws {
        ws = try Workspace()
        try ws.ok(["issue", "web", "--san", "DNS:web.example.internal", "--san", "IP:127.0.0.1"])
        try ws.ok(["issue", "prom", "--client", "--san", "DNS:prometheus.example.internal"])
        try ws.ok(["issue", "other", "--client", "--san", "DNS:other.example.internal"])
        try ws.ok(["issue", "srv", "--server", "--san", "DNS:srv.example.internal"])
        try metrics.write(to: URL(fileURLWithPath: ws.path("metrics.txt")))
        upstream = try BackgroundProcess(
            "python3", ["-u", Self.upstreamScript, "--metrics", ws.path("metrics.txt"), "--slow", String(slow)],
            in: ws, name: "upstream", ready: { $0.hasPrefix("listening on ") })
        upstreamPort = upstream.number(after: "listening on ")!
    }

    static let tlsFiles = ["--cert", "pki/issued/web.crt", "--key", "pki/private/web.key", "--client-ca", "pki/ca.crt"]

    /// Starts the sidecar with `tls` (the usual files unless given) plus `arguments`, under `wrapper` (a command
    /// such as `setpriv …`) when given.
    func startSidecar(_ arguments: [String] = ["--allow-san", "DNS:prometheus.example.internal"], upstreamPort: Int? = nil,
                      tls: [String] = SidecarFixture.tlsFiles, wrapper: [String] = []) throws {
        let command = wrapper + [Workspace.sidecarPath,
            "serve", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(upstreamPort ?? self.upstreamPort)",
            "--admin-listen", "127.0.0.1:0"] + tls + arguments
        let sidecar = try BackgroundProcess(
            command[0], Array(command.dropFirst()), in: ws, name: "sidecar", ready: { $0.hasPrefix("admin on ") })
        port = sidecar.number(after: "listening on https://127.0.0.1:")!
        adminPort = sidecar.number(after: "admin on http://127.0.0.1:")!
        self.sidecar = sidecar
    }

    /// curl over mTLS as `identity` (a name in the pki, or nil for no client certificate). The last line of
    /// stdout is the HTTP status (000 when the TLS handshake failed).
    func curl(_ path: String = "/metrics", as identity: String? = "prom", headers: [String] = [],
              output: String? = nil, extra: [String] = []) throws -> (status: Int, body: String) {
        var arguments = ["-sS", "--max-time", "20", "--cacert", "pki/ca.crt", "--resolve", "web.example.internal:\(port):127.0.0.1",
                         "-w", Self.statusMarker + "%{http_code}"]
        if let identity { arguments += ["--cert", "pki/issued/\(identity).crt", "--key", "pki/private/\(identity).key"] }
        for header in headers { arguments += ["-H", header] }
        if let output { arguments += ["-o", output] }
        let result = try Command.run("curl", arguments + extra + ["https://web.example.internal:\(port)\(path)"], directory: ws.url)
        guard let marker = result.stdout.range(of: Self.statusMarker, options: .backwards) else { return (-1, result.output) }
        let body = String(result.stdout[..<marker.lowerBound])
        return (Int(result.stdout[marker.upperBound...]) ?? -1, body.hasSuffix("\n") ? String(body.dropLast()) : body)
    }

    private static let statusMarker = "\n@@status="

    func admin(_ path: String) throws -> String {
        try Command.run("curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(adminPort)\(path)"]).stdout
    }
}
