import Foundation

/// A real Prometheus (Debian's `prometheus`) on 127.0.0.1, with a config the test writes.
final class PrometheusServer {
    private let server: BackgroundProcess
    let port: Int

    /// With `logLevel` debug, Prometheus logs every failed scrape with its error (see `failedScrapes`).
    init(_ ws: Workspace, config: String, logLevel: String = "warn") throws {
        try ws.write("prometheus.yml", config)
        port = try freeLoopbackPort()
        server = try BackgroundProcess(
            "prometheus",
            ["--config.file=prometheus.yml", "--storage.tsdb.path=prometheus-data", "--web.listen-address=127.0.0.1:\(port)",
             "--log.level=\(logLevel)"],
            in: ws, name: "prometheus", ready: nil)
        let deadline = Date() + 30
        while (try? Command.run("curl", ["-sf", "http://127.0.0.1:\(port)/-/ready"]).status) != 0 {
            guard Date() < deadline, server.process.isRunning else { throw TestFailure("prometheus did not become ready: \(server.output)") }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// An instant query's result: label set → value.
    func query(_ expression: String) throws -> [[String: String]: Double] {
        let result = try Command.run("curl", ["-sS", "--get", "--data-urlencode", "query=\(expression)",
                                              "http://127.0.0.1:\(port)/api/v1/query"])
        guard let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
            let data = object["data"] as? [String: Any], let series = data["result"] as? [[String: Any]]
        else { throw TestFailure("bad answer from prometheus: \(result.output)") }
        var values: [[String: String]: Double] = [:]
        for entry in series {
            let labels = entry["metric"] as? [String: String] ?? [:]
            if let pair = entry["value"] as? [Any], let text = pair.last as? String { values[labels] = Double(text) }
        }
        return values
    }

    /// Polls `expression` until `done` holds for its result.
    func waitFor(_ expression: String, timeout: TimeInterval = 30,
                 _ done: ([[String: String]: Double]) -> Bool) throws -> [[String: String]: Double] {
        let deadline = Date() + timeout
        while true {
            let values = try query(expression)
            if done(values) { return values }
            guard Date() < deadline else { return values }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    func stop() { server.stop() }

    /// What Prometheus logged about failed scrapes (with `logLevel` debug).
    var failedScrapes: String {
        server.output.split(separator: "\n").filter { $0.contains("Scrape failed") }.joined(separator: "\n")
    }
}
