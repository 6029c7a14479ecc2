import Foundation
import Testing

/// The servers as docs/deploy runs them: as an unprivileged user. Every socket option they set must be one
/// such a user may set — TCP_NODELAY once went in at the socket level, where its number means SO_DEBUG,
/// which needs CAP_NET_ADMIN: run as non-root, every server closed every connection at accept. (The other
/// tests run the servers as root, which CI is.)
@Suite struct UnprivilegedServerTests {
    static let uid = 65534
    static let wrapper = ["setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--"]

    /// Gives the workspace (pki included) to the unprivileged user.
    static func handOver(_ ws: Workspace) throws {
        let result = try Command.run("chown", ["-R", "\(uid):\(uid)", ws.url.path])
        guard result.status == 0 else { throw TestFailure("chown failed: \(result.output)") }
    }

    static func runsUnprivileged(_ process: BackgroundProcess) throws -> Bool {
        let status = try String(contentsOfFile: "/proc/\(process.process.processIdentifier)/status", encoding: .utf8)
        return status.split(separator: "\n").contains { $0.hasPrefix("Uid:") && $0.split(separator: "\t").dropFirst().allSatisfy { $0 == "\(uid)" } }
    }

    @Test func sidecarServesScrapes() throws {
        let fixture = try SidecarFixture()
        try Self.handOver(fixture.ws)
        try fixture.startSidecar(wrapper: Self.wrapper)
        #expect(try Self.runsUnprivileged(#require(fixture.sidecar)))
        let scrape = try fixture.curl()
        #expect(scrape.status == 200 && scrape.body.hasPrefix("metric_0"), "\(scrape) \(fixture.sidecar?.output ?? "")")
    }

    /// The CA server enrolls curl + openssl and the cert agent, itself unprivileged too.
    @Test func caServerEnrolls() throws {
        let ws = try Workspace()
        try ws.ok(["init"])
        let token = try ws.ok(["token", "--san", "DNS:app.example.internal"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try ws.write("agent.token", try ws.ok(["token", "--client", "--san", "DNS:prometheus.example.internal"]).stdout)
        try Self.handOver(ws)
        let ca = try CAServerFixture(ws: ws, skipInit: true, wrapper: Self.wrapper)
        defer { ca.stop() }
        #expect(try Self.runsUnprivileged(#require(ca.server)))
        try ca.makeCSR("app")
        let enrolled = try ca.post("simpleenroll", csr: "app", headers: ["Authorization: Bearer \(token)"])
        #expect(enrolled.status == 200, "\(enrolled) \(ca.server?.output ?? "")")

        let agent = try Command.run(Self.wrapper[0], Array(Self.wrapper.dropFirst()) + [Workspace.sidecarPath]
            + CertAgentTests.agentArguments(ca, out: "promcerts", token: "agent.token") + ["--once"], directory: ws.url)
        #expect(agent.status == 0, "\(agent.output)")
        #expect(CertAgentTests.readPair(ws.path("promcerts"))?.keyMatches == true)
    }

    @Test func frontAnswersPollers() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "proxy", "--san", "IP:127.0.0.1"])
        try ws.ok(["issue", "prom", "--client", "--san", "DNS:prometheus.example.internal"])
        try Self.handOver(ws)
        let command = Self.wrapper + [Workspace.sidecarPath, "front", "--pushprox", "--listen", "127.0.0.1:0",
            "--cert", "pki/issued/proxy.crt", "--key", "pki/private/proxy.key", "--client-ca", "pki/ca.crt",
            "--allow-scraper", "DNS:prometheus.example.internal"]
        let front = try BackgroundProcess(command[0], Array(command.dropFirst()), in: ws, name: "front",
                                          ready: { $0.hasPrefix("listening on ") })
        defer { front.stop() }
        #expect(try Self.runsUnprivileged(front))
        let port = try #require(front.number(after: "listening on https://127.0.0.1:"))
        let clients = try Command.run("curl", ["-sS", "--max-time", "20", "--cacert", "pki/ca.crt", "--cert", "pki/issued/prom.crt",
            "--key", "pki/private/prom.key", "-w", "\n%{http_code}", "https://127.0.0.1:\(port)/clients"], directory: ws.url)
        #expect(clients.stdout.hasSuffix("\n200"), "\(clients.output) \(front.output)")
    }
}
