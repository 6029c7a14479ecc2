import Foundation
import Testing

/// Every input scripts/fuzz ever found crashing (kept under Tests/FuzzRegressions/TARGET/) replays through
/// its parser without crashing; every target also takes a few hostile samples.
@Suite struct FuzzRegressionTests {
    static let regressions = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzRegressions").path
    static let targets = ["san", "csr", "pem", "pkcs7", "index", "token", "http-request", "http-response", "web-config", "sidecar-config"]

    @Test(arguments: targets)
    func replaysWithoutCrashing(target: String) throws {
        let ws = try Workspace()
        let samples: [String: Data] = [
            "empty": Data(), "nul": Data([0, 0, 0]), "long": Data(repeating: 0x41, count: 70_000),
            "deep-asn1": Data(Array(repeating: [UInt8(0x30), 0x80], count: 5000).joined()),
            "utf8": Data("DNS:bücher.example\u{0}\n*.*.example".utf8),
        ]
        var files: [String] = []
        for (name, data) in samples {
            try data.write(to: URL(fileURLWithPath: ws.path(name)))
            files.append(ws.path(name))
        }
        let kept = (try? FileManager.default.contentsOfDirectory(atPath: "\(Self.regressions)/\(target)")) ?? []
        files += kept.filter { !$0.hasPrefix(".") }.map { "\(Self.regressions)/\(target)/\($0)" }
        let result = try Command.run(Workspace.builtProduct("MeshCAFuzz"), [target] + files)
        #expect(result.status == 0, "\(target): \(result.output)")
        #expect(result.stdout.contains("replayed \(files.count) inputs through \(target)"))
    }

    /// The two traps scripts/fuzz found in Yams — a mapping key that is not a scalar (a force unwrap) and a
    /// YAML 1.1 base-60 integer long enough to overflow `Int` — are one-line refusals in both loaders.
    @Test(arguments: [
        ("tls_server_config:\n  ? [a]\n  : b\n", "? [a]\n: b\n", "mapping keys must be plain strings"),
        ("tls_server_config:\n  cert_file: 1:2:1:21:2:1:21:2:1:21:2:1:2\n", "read_timeout: 2:02:2:02:2:02:02:2:02:2:02:0:00\n",
         "is a YAML 1.1 base-60 number: quote it if it is a string"),
    ])
    func yamlThatTrapsYamsIsRefused(webConfig: String, sidecarConfig: String, reason: String) throws {
        let ws = try Workspace()
        try ws.write("web.yml", webConfig)
        try ws.write("sidecar.yml", sidecarConfig)
        let web = try Command.run(Workspace.sidecarPath, ["serve", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1",
                                                          "--web.config.file", "web.yml"], directory: ws.url)
        #expect(web.status == 2 && web.stderr.hasPrefix("scrape-sidecar: error: web.yml: not valid YAML (")
                && web.stderr.hasSuffix("\(reason))\n") && web.stderr.filter { $0 == "\n" }.count == 1, "\(web.output)")
        let config = try Command.run(Workspace.sidecarPath, ["serve", "--config", "sidecar.yml"], directory: ws.url)
        #expect(config.status == 2 && config.stderr.hasPrefix("scrape-sidecar: error: sidecar.yml is not a valid sidecar config: ")
                && config.stderr.hasSuffix("\(reason)\n"), "\(config.output)")
    }
}
