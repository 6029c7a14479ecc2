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

    /// The two shapes scripts/fuzz found trapping Yams, which the sidecar used before its own loader: a mapping key
    /// that is not a scalar is a one-line refusal with its place, and a YAML 1.1 base-60 integer too long for
    /// `Int` is a plain string, as in Go's yaml.v2 (the file names it as the certificate).
    @Test func yamlThatTrappedYamsIsHandled() throws {
        let ws = try Workspace()
        let base60 = "1:2:1:21:2:1:21:2:1:21:2:1:2"
        try ws.write("key.yml", "tls_server_config:\n  ? [a]\n  : b\n")
        try ws.write("key-sidecar.yml", "? [a]\n: b\n")
        try ws.write("base60.yml", "tls_server_config:\n  cert_file: \(base60)\n  key_file: k\n")
        try ws.write("base60-sidecar.yml", "listen: 127.0.0.1:0\nupstream: http://127.0.0.1:1\ncert: \(base60)\nkey: k\nclient_ca: c\n")
        func serve(_ arguments: [String]) throws -> CommandResult {
            try Command.run(Workspace.sidecarPath, ["serve"] + arguments, directory: ws.url)
        }
        let web = ["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--web.config.file"]
        let expectations = [
            (web + ["key.yml"], "key.yml: not valid YAML (line 2, column 5: mapping keys must be plain strings)"),
            (["--config", "key-sidecar.yml"], "key-sidecar.yml is not a valid sidecar config: line 1, column 3: mapping keys must be plain strings"),
            (web + ["base60.yml"], "cannot read certificate '\(base60)': no such file or not readable"),
            (["--config", "base60-sidecar.yml"], "cannot read certificate '\(base60)': no such file or not readable"),
        ]
        for (arguments, message) in expectations {
            let result = try serve(arguments)
            #expect(result.status == 2 && result.stderr == "scrape-sidecar: error: \(message)\n", "\(result.output)")
        }
    }
}
