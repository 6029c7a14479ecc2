import Foundation
import Testing

/// Rounds of 2,000 mTLS clients connecting at once and scraping while held, against `serve` and `front`:
/// every client connects and every scrape answers 200, and after each round the server's descriptors and
/// memory come back near the baseline — no growth from round to round. scripts/soak runs the long version
/// (60 s hold, 10 rounds, release build) and prints the figures for docs/security.md.
@Suite(.serialized) struct LoadTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/load_rounds.py").path
    static let clients = 2000

    @Test(arguments: ["serve", "front"])
    func twoThousandClientsInRounds(command: String) throws {
        let fixture = try SidecarFixture(metrics: Data((0..<100).map { "metric_\($0) \($0)\n" }.joined().utf8))
        let server = try BackgroundProcess(
            Workspace.sidecarPath,
            [command, "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:\(fixture.upstreamPort)", "--log-level", "warning"]
                + SidecarFixture.tlsFiles,
            in: fixture.ws, name: command, ready: { $0.hasPrefix("listening on ") })
        let port = try #require(server.number(after: "listening on https://127.0.0.1:"))
        let result = try Command.run(
            "python3", [Self.script, "--port", String(port), "--pid", String(server.process.processIdentifier),
                        "--ca", "pki/ca.crt", "--cert", "pki/issued/prom.crt", "--key", "pki/private/prom.key",
                        "--connections", String(Self.clients), "--rounds", "3", "--hold", "6", "--interval", "2",
                        "--upstream-port", String(fixture.upstreamPort)],
            directory: fixture.ws.url)
        #expect(result.status == 0, "\(result.output)")
        let rounds = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        try #require(rounds.count == 4, "\(result.output)")
        func value(_ round: Int, _ key: String) -> Int { (rounds[round][key] as? NSNumber)?.intValue ?? -1 }
        let baselineRSS = value(0, "rss_after_kib"), baselineFDs = value(0, "fds_after")
        for round in 1...3 {
            let summary = "\(command) round \(round): \(rounds[round])"
            #expect(value(round, "connected") == Self.clients, "\(summary)")
            #expect(value(round, "error_count") == 0, "\(summary)")
            #expect(value(round, "scrapes") >= Self.clients, "\(summary)")
            #expect(value(round, "fds_held") >= Self.clients, "the clients were held at once: \(summary)")
            // Idle upstream connections stay pooled (at most 32 per event loop), as many as a round left;
            // nothing else remains open.
            #expect(value(round, "fds_after") <= baselineFDs + 72, "\(summary)")
            #expect(value(round, "upstream_fds_after") <= 64, "\(summary)")
            func others(_ round: Int) -> Int { value(round, "fds_after") - value(round, "upstream_fds_after") }
            #expect(others(round) <= others(1) + 4, "descriptors grow across rounds: \(summary)")
            // Freed memory goes back to the OS (within 10 s), so RSS returns near the baseline.
            #expect(value(round, "rss_after_kib") <= baselineRSS + 32 * 1024, "\(summary)")
        }
        #expect(value(3, "rss_held_kib") <= value(1, "rss_held_kib") * 115 / 100, "memory under load grows across rounds: \(rounds)")
        #expect(server.process.isRunning)
    }
}
