import MeshPlatform
import MeshTLS
import Prometheus

/// The sidecar's own metrics, served in Prometheus text format on the admin listener.
final class SidecarMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let process: ProcessMetrics

    init() {
        process = ProcessMetrics(registry: registry)
    }

    private static func name(_ metric: String, _ unit: String = "", _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "scrape_sidecar", metricName: metric, unitName: unit, helpText: help)
    }

    /// Requests answered; callers cache the counter (a registry lookup takes a lock and allocates).
    func requests(listener: String, code: Int) -> Counter {
        registry.makeCounter(
            descriptor: Self.name("requests", "total", "Requests answered, by listener and HTTP status code."),
            labels: [("listener", listener), ("code", String(code))])
    }

    /// `reason` is one of a few fixed categories so the label set stays bounded.
    func handshakeFailure(reason: String) {
        registry.makeCounter(
            descriptor: Self.name("tls_handshake_failures", "total", "Refused or failed TLS handshakes, by reason."),
            labels: [("reason", reason)]
        ).increment()
    }

    func upstreamLatency(listener: String) -> ValueHistogram {
        registry.makeValueHistogram(
            descriptor: Self.name("upstream_latency", "seconds", "Time from request to upstream response head."),
            labels: [("listener", listener)],
            buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])
    }

    /// Connections closed on arrival because `--max-connections` were open.
    func connectionRefused(listener: String) {
        registry.makeCounter(
            descriptor: Self.name("connections_refused", "total", "Connections closed on arrival at the connection cap."),
            labels: [("listener", listener)]
        ).increment()
    }

    /// The poll client's polls, by the proxy's status (0: no answer).
    func pollAnswered(status: Int) {
        registry.makeCounter(
            descriptor: Self.name("pushprox_polls", "total", "PushProx polls made, by the proxy's HTTP status (0: no answer)."),
            labels: [("status", String(status))]
        ).increment()
    }

    /// The poll client's scrapes, by outcome: `pushed`, `scrape_failed` (pushed as 500) or `push_failed`.
    func scrapeAnswered(outcome: String) {
        registry.makeCounter(
            descriptor: Self.name("pushprox_scrapes", "total", "Scrapes received through PushProx, by outcome."),
            labels: [("outcome", outcome)]
        ).increment()
    }

    func certificateNotAfter(listener: String, _ date: Date) {
        registry.makeGauge(
            descriptor: Self.name("certificate_not_after", "seconds", "Serving certificate's notAfter, Unix time."),
            labels: [("listener", listener)]
        ).set(date.timeIntervalSince1970)
    }

    func render() -> [UInt8] {
        process.update()
        return registry.emitToBuffer()
    }

    /// Maps a verification failure to a bounded label value.
    static func handshakeReason(_ message: String) -> String {
        let text = message.lowercased()
        if text.contains("revoked") { return "revoked" }
        if text.contains("expired") || text.contains("not yet valid") { return "expired" }
        if text.contains("clientauth") || text.contains("key usage") { return "wrong_purpose" }
        if text.contains("does not chain") || text.contains("trusted ca") { return "unknown_ca" }
        if text.contains("no client certificate") { return "no_certificate" }
        return "other"
    }
}
