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

    /// Likewise made once: by endpoint, and the commit's two.
    private let durations: [String: ValueHistogram]
    private let commitBatchSize: ValueHistogram
    private let commitDuration: ValueHistogram

    private let process: ProcessMetrics

    private static let issuedDescriptor = name("certificates_issued", "total", "Certificates issued over EST, by endpoint.")
    private static let failuresDescriptor = name(
        "enrollment_failures", "total", "Refused or failed EST enrollments, by endpoint and reason.")
    private static let durationDescriptor = name(
        "enrollment_duration", "seconds", "Time from an EST enrollment's request to its answer, refusals included, by endpoint.")
    private static let durationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

    init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        process = ProcessMetrics(registry: registry)
        let endpoints = ["simpleenroll", "simplereenroll"]
        issuedCounters = Dictionary(uniqueKeysWithValues: endpoints.map { endpoint in
            (endpoint, registry.makeCounter(descriptor: Self.issuedDescriptor, labels: [("endpoint", endpoint)]))
        })
        // The failures that mean the CA itself is broken exist at 0 from the start, so that the first one shows in
        // rate() (docs/deploy's MeshCAEnrollmentsFailing alert).
        for endpoint in endpoints {
            for reason in ["storage", "internal"] {
                _ = registry.makeCounter(descriptor: Self.failuresDescriptor, labels: [("endpoint", endpoint), ("reason", reason)])
            }
        }
        durations = Dictionary(uniqueKeysWithValues: endpoints.map { endpoint in
            (endpoint, registry.makeValueHistogram(
                descriptor: Self.durationDescriptor, labels: [("endpoint", endpoint)], buckets: Self.durationBuckets))
        })
        commitBatchSize = registry.makeValueHistogram(
            descriptor: Self.name(
                "commit_batch_size", "", "Enrollment requests per group commit (one durable write to pki/), refused ones included."),
            buckets: [1, 2, 4, 8, 16, 32, 64, 128])
        commitDuration = registry.makeValueHistogram(
            descriptor: Self.name(
                "commit_duration", "seconds",
                "Time from a group commit's start to its commit point: the lock, the checks and the durable write."),
            buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1])
    }

    /// An enrollment answered (issued or refused), whose request arrived at `start`.
    func answered(endpoint: String, since start: ContinuousClock.Instant) {
        durations[endpoint]?.record(Self.seconds(since: start))
    }

    /// A group commit of `size` enrollments, started at `start`, at its commit point.
    func committed(size: Int, since start: ContinuousClock.Instant) {
        commitBatchSize.record(Double(size))
        commitDuration.record(Self.seconds(since: start))
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        start.duration(to: .now) / .seconds(1)
    }

    func issued(endpoint: String) {
        (issuedCounters[endpoint] ?? registry.makeCounter(descriptor: Self.issuedDescriptor, labels: [("endpoint", endpoint)]))
            .increment()
    }

    /// `reason` is an `EnrollmentRefusal.Kind` label, `bad_request`, `storage` or `internal`: a bounded label set.
    func failed(endpoint: String, reason: String) {
        registry.makeCounter(descriptor: Self.failuresDescriptor, labels: [("endpoint", endpoint), ("reason", reason)]).increment()
    }

    func crlNextUpdate(_ nextUpdate: Date) {
        registry.makeGauge(
            descriptor: Self.name("crl_next_update", "seconds", "nextUpdate of the CRL served on /crl.pem, Unix time."),
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
