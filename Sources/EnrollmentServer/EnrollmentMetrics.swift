import MeshPlatform
import MeshTLS
import Prometheus

/// `certtool serve`'s metrics, in Prometheus text format on `/metrics`.
final class EnrollmentMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    private static func name(_ metric: String, _ unit: String = "", _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "meshca", metricName: metric, unitName: unit, helpText: help)
    }

    /// Made once per endpoint: `makeCounter` builds the metric's name and looks it up under the registry's
    /// lock (≈ 10,000 instructions, on every enrollment).
    private let issuedCounters: [String: Counter]

    private let process: ProcessMetrics

    private static let issuedDescriptor = name("certificates_issued", "total", "Certificates issued over EST, by endpoint.")

    init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        process = ProcessMetrics(registry: registry)
        issuedCounters = Dictionary(uniqueKeysWithValues: ["simpleenroll", "simplereenroll"].map { endpoint in
            (endpoint, registry.makeCounter(descriptor: Self.issuedDescriptor, labels: [("endpoint", endpoint)]))
        })
    }

    func issued(endpoint: String) {
        (issuedCounters[endpoint] ?? registry.makeCounter(descriptor: Self.issuedDescriptor, labels: [("endpoint", endpoint)]))
            .increment()
    }

    /// `reason` is an `EnrollmentRefusal.Kind` label, `bad_request`, `storage` or `internal`: a bounded label set.
    func failed(endpoint: String, reason: String) {
        registry.makeCounter(
            descriptor: Self.name("enrollment_failures", "total", "Refused or failed EST enrollments, by endpoint and reason."),
            labels: [("endpoint", endpoint), ("reason", reason)]
        ).increment()
    }

    func crlPublished(nextUpdate: Date) {
        registry.makeGauge(
            descriptor: Self.name("crl_next_update", "seconds", "nextUpdate of the CRL last published, Unix time."),
            labels: []
        ).set(nextUpdate.timeIntervalSince1970)
    }

    func serverCertificateNotAfter(_ date: Date) {
        registry.makeGauge(
            descriptor: Self.name("server_certificate_not_after", "seconds", "notAfter of the CA server's own TLS certificate, Unix time."),
            labels: []
        ).set(date.timeIntervalSince1970)
    }

    func render() -> [UInt8] {
        process.update()
        return registry.emitToBuffer()
    }
}
