import Foundation
import MeshCA
import Testing

/// `scrape-sidecar front --pushprox` and `scrape-sidecar poll`, with a real Prometheus scraping through
/// `proxy_url` a target that only the poll client can reach.
final class PushProxFixture {
    let ws: Workspace
    let target: BackgroundProcess
    let targetPort: Int
    private(set) var proxy: BackgroundProcess?
    private(set) var proxyPort = 0
    private(set) var scrapePort = 0
    private(set) var poller: BackgroundProcess?
    let metrics = (0..<500).map { "node_metric_\($0){shard=\"a\"} \($0)\n" }.joined()

    init() throws {
        ws = try Workspace()
        try ws.ok(["issue", "proxy", "--san", "DNS:proxy.example.internal", "--san", "IP:127.0.0.1"])
        try ws.ok(["issue", "node1", "--client", "--san", "DNS:node1.example.internal"])
        try ws.ok(["issue", "node2", "--client", "--san", "DNS:node2.example.internal"])
        try ws.ok(["issue", "prom", "--client", "--san", "DNS:prometheus.example.internal"])
        try FileManager.default.createDirectory(atPath: ws.path("www"), withIntermediateDirectories: true)
        try ws.write("www/metrics", metrics)
        target = try BackgroundProcess(
            "python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", ws.path("www")],
            in: ws, name: "target", ready: { $0.contains("port ") })
        targetPort = target.number(after: "port ")!
    }

    func startProxy(_ arguments: [String] = []) throws {
        let proxy = try BackgroundProcess(
            Workspace.sidecarPath,
            ["front", "--pushprox", "--listen", "127.0.0.1:0", "--scrape-listen", "127.0.0.1:0", "--cert", "pki/issued/proxy.crt",
             "--key", "pki/private/proxy.key", "--client-ca", "pki/ca.crt"] + arguments,
            in: ws, name: "proxy", ready: { $0.hasPrefix("scrapes on ") })
        proxyPort = proxy.number(after: "listening on https://127.0.0.1:")!
        scrapePort = proxy.number(after: "scrapes on http://127.0.0.1:")!
        self.proxy = proxy
    }

    /// `identity` names the pki files to poll with; nil: `extra` brings the enrollment options instead.
    func startPoller(as identity: String? = "node1", fqdn: String = "node1.example.internal", targetPort: Int? = nil,
                     extra: [String] = []) throws {
        let files = identity.map { ["--cert", "pki/issued/\($0).crt", "--key", "pki/private/\($0).key", "--ca", "pki/ca.crt"] } ?? []
        poller = try BackgroundProcess(
            Workspace.sidecarPath,
            ["poll", "--proxy-url", "https://127.0.0.1:\(proxyPort)", "--fqdn", fqdn, "--target", "9100=http://127.0.0.1:\(targetPort ?? self.targetPort)"]
                + files + extra,
            in: ws, name: "poll", ready: { $0.hasPrefix(extra.contains("--admin-listen") ? "admin on " : "polling ") })
        // The first poll is registered within moments.
        let deadline = Date() + 15
        while !(try clients().contains(fqdn)) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    }

    /// curl; `mtls` as an identity on the TLS listener, else through the plain scrape listener.
    func curl(_ arguments: [String], mtls identity: String? = nil) throws -> (status: Int, body: String) {
        var base = ["-sS", "--max-time", "20", "-w", "\n%{http_code}"]
        if let identity {
            base += ["--cacert", "pki/ca.crt", "--cert", "pki/issued/\(identity).crt", "--key", "pki/private/\(identity).key"]
        }
        let result = try Command.run("curl", base + arguments, directory: ws.url)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
    }

    func clients() throws -> String { try curl(["http://127.0.0.1:\(scrapePort)/clients"]).body }

    /// A scrape as Prometheus sends it with `proxy_url`: an absolute URI to the proxy.
    func scrape(_ url: String = "http://node1.example.internal:9100/metrics") throws -> (status: Int, body: String) {
        try curl(["-x", "http://127.0.0.1:\(scrapePort)", url])
    }
}

@Suite struct PushProxTests {
    @Test func prometheusScrapesThroughTheProxyATargetOnlyThePollerReaches() throws {
        let fixture = try PushProxFixture()
        try fixture.startProxy(["--clients-port", "9100", "--clients-label", "env=test"])
        try fixture.startPoller()
        let direct = try fixture.scrape()
        #expect(direct.status == 200)
        #expect(direct.body == fixture.metrics, "the body arrives unchanged")
        #expect(try fixture.clients() == #"[{"labels":{"env":"test"},"targets":["node1.example.internal:9100"]}]"#)

        let prometheus = try PrometheusServer(fixture.ws, config: """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: node
                proxy_url: http://127.0.0.1:\(fixture.scrapePort)
                static_configs:
                  - targets: ["node1.example.internal:9100"]

            """)
        defer { prometheus.stop() }
        let up = try prometheus.waitFor("up{job=\"node\"}") { $0.values.first == 1 }
        #expect(up.values.first == 1)
        let samples = try prometheus.waitFor("scrape_samples_scraped{job=\"node\"}") { !$0.isEmpty }
        #expect(samples.values.first == 500)
        let value = try prometheus.query("node_metric_123")
        #expect(value.values.first == 123)
        // Nothing on the target host but loopback listeners: the poller only makes outbound connections.
        #expect(try fixture.scrape("http://node1.example.internal:22/").status == 500, "unmapped ports are not scraped")
        #expect(try fixture.scrape("http://node9.example.internal:9100/metrics").status == 404)
    }

    @Test func pollsAndPushesAreBoundToCertificatesAndScrapersToTheAllowList() throws {
        let fixture = try PushProxFixture()
        try fixture.startProxy(["--allow-scraper", "DNS:prometheus.example.internal"])
        let proxy = "https://127.0.0.1:\(fixture.proxyPort)"

        // node2 may not poll for node1.
        let foreign = try fixture.curl(["-d", "node1.example.internal", "\(proxy)/poll"], mtls: "node2")
        #expect(foreign.status == 403 && foreign.body.contains("does not carry DNS:node1.example.internal"), "\(foreign)")

        // node1 polls by hand; a scrape arrives; node2 cannot push for its Id, node1 can.
        let poll = try BackgroundProcess(
            "curl", ["-sS", "--max-time", "20", "--cacert", "pki/ca.crt", "--cert", "pki/issued/node1.crt", "--key", "pki/private/node1.key",
                     "-d", "node1.example.internal", "\(proxy)/poll"],
            in: fixture.ws, name: "manual-poll", ready: nil)
        Thread.sleep(forTimeInterval: 0.5)
        let scrape = try BackgroundProcess(
            "curl", ["-sS", "--max-time", "20", "-x", "http://127.0.0.1:\(fixture.scrapePort)", "-w", "\n%{http_code}",
                     "http://node1.example.internal:9100/metrics"],
            in: fixture.ws, name: "scrape", ready: nil)
        poll.process.waitUntilExit()
        let request = poll.output
        #expect(request.hasPrefix("GET http://node1.example.internal:9100/metrics HTTP/1.1\r\n"), "\(request)")
        let id = try #require(request.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("id: ") }?.dropFirst(4))
        try fixture.ws.write("response.http", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nhello 1\n")
        let stolen = try fixture.curl(["-H", "Id: \(id)", "--data-binary", "@response.http", "\(proxy)/push"], mtls: "node2")
        #expect(stolen.status == 403 && stolen.body.contains("another client's poll"), "\(stolen)")
        let pushed = try fixture.curl(["-H", "Id: \(id)", "--data-binary", "@response.http", "\(proxy)/push"], mtls: "node1")
        #expect(pushed.status == 200, "\(pushed)")
        scrape.process.waitUntilExit()
        #expect(scrape.output == "hello 1\n\n200", "\(scrape.output)")
        let unknown = try fixture.curl(["-H", "Id: nope", "--data-binary", "@response.http", "\(proxy)/push"], mtls: "node1")
        #expect(unknown.status == 404)

        // Over mTLS only the allowed scraper may scrape or list clients.
        #expect(try fixture.curl(["\(proxy)/clients"], mtls: "node1").status == 403)
        #expect(try fixture.curl(["\(proxy)/clients"], mtls: "prom").status == 200)
        let asNode = try fixture.curl(["--request-target", "http://node1.example.internal:9100/metrics", "\(proxy)/"], mtls: "node1")
        #expect(asNode.status == 403, "\(asNode)")
    }

    @Test func concurrentScrapesOfOneTargetRunSideBySide() throws {
        let fixture = try PushProxFixture()
        let slow = try BackgroundProcess(
            "python3", ["-u", SidecarFixture.upstreamScript, "--metrics", fixture.ws.path("www/metrics"), "--slow", "2"],
            in: fixture.ws, name: "slow-target", ready: { $0.hasPrefix("listening on ") })
        try fixture.startProxy()
        try fixture.startPoller(targetPort: slow.number(after: "listening on ")!, extra: ["--admin-listen", "127.0.0.1:0"])
        let poller = try #require(fixture.poller)
        let adminPort = try #require(poller.number(after: "admin on http://127.0.0.1:"))
        #expect(try Command.run("curl", ["-sS", "http://127.0.0.1:\(adminPort)/readyz"]).stdout == "ready\n")

        let started = Date()
        let scrapes = try (0..<3).map { index in
            try BackgroundProcess(
                "curl", ["-sS", "--max-time", "20", "-x", "http://127.0.0.1:\(fixture.scrapePort)", "-H", "X-Prometheus-Scrape-Timeout-Seconds: 10",
                         "-w", "\n%{http_code}", "http://node1.example.internal:9100/slow"],
                in: fixture.ws, name: "scrape-\(index)", ready: nil)
        }
        for scrape in scrapes { scrape.process.waitUntilExit() }
        let elapsed = Date().timeIntervalSince(started)
        for scrape in scrapes { #expect(scrape.output == "slow\n\n200", "\(scrape.output)") }
        #expect(elapsed < 5, "three 2-second scrapes took \(elapsed) s: they were serialized")
        let metrics = try Command.run("curl", ["-sS", "http://127.0.0.1:\(adminPort)/metrics"]).stdout
        #expect(metrics.contains("scrape_sidecar_pushprox_scrapes_total{outcome=\"pushed\"} 3"), "\(metrics)")
        #expect(metrics.contains("scrape_sidecar_pushprox_polls_total{status=\"200\"} 3"), "\(metrics)")
    }

    @Test func fiveHundredPollClientsAreEachScrapedWithBoundedMemory() throws {
        let fixture = try PushProxFixture()
        let count = 500
        try fixture.ws.ok(["issue", "fleet", "--client"] + (0..<count).flatMap { ["--san", "DNS:node\($0).example.internal"] })
        try fixture.startProxy()
        let proxy = try #require(fixture.proxy)
        let before = try Self.rssKiB(proxy.process.processIdentifier)
        let fleet = try BackgroundProcess(
            "python3", ["-u", URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/many_pollers.py").path,
                        String(fixture.proxyPort), String(fixture.scrapePort), "pki/ca.crt", "pki/issued/fleet.crt", "pki/private/fleet.key",
                        String(count), "5"],
            in: fixture.ws, name: "fleet", ready: { $0.hasPrefix("scraped ") }, timeout: 120)
        #expect(fleet.output.contains("registered \(count)"), "\(fleet.output)")
        #expect(fleet.output.contains("scraped \(count)/\(count)"), "\(fleet.output)")
        // 500 open mTLS polls stay within a bounded footprint. The bound is loose: this is a debug build, and
        // every connection holds a peer certificate with 500 SANs (one certificate for the whole fleet); the
        // per-connection figure for ordinary certificates belongs in the benchmark.
        let held = try Self.rssKiB(proxy.process.processIdentifier)
        #expect(held - before < 256 * 1024, "RSS grew by \(held - before) KiB for \(count) held polls")
        print("proxy RSS \(before) KiB → \(held) KiB with \(count) polls held")
    }

    static func rssKiB(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }

    @Test func thePollClientCanEnrollItsOwnIdentity() throws {
        let fixture = try PushProxFixture()
        let ca = try CAServerFixture(ws: fixture.ws, skipInit: true)
        try fixture.ws.write("node1.token", try ca.token(["--san", "DNS:node1.example.internal", "--client"]))
        try fixture.startProxy()
        try fixture.startPoller(as: nil, extra: ["--ca-url", ca.url, "--ca-bundle", "pki/ca.crt", "--token", "node1.token", "--out", "node1-certs"])
        #expect(try fixture.scrape().status == 200)
        let enrolled = try #require(CertAgentTests.readPair(fixture.ws.path("node1-certs")))
        #expect(enrolled.keyMatches && enrolled.certificate.subjectAltNames.map(\.description) == ["DNS:node1.example.internal"])
    }
}
