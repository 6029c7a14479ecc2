import MeshPlatform
import NIOConcurrencyHelpers
import Prometheus

/// The process metrics every official Prometheus client library exports (`process_cpu_seconds_total`,
/// `process_resident_memory_bytes`, `process_open_fds`, …, same names and types as client_golang's), read from
/// /proc each time the registry is rendered: a sidecar in every pod is watched for its own cost with the
/// queries and dashboards operators already have. Elsewhere than Linux nothing is exported.
public final class ProcessMetrics: Sendable {
    private let cpu: Counter
    private let resident: Gauge
    private let virtual: Gauge
    private let openFDs: Gauge
    private let maxFDs: Gauge
    /// CPU seconds already added to the counter, which only increments.
    private let reportedCPU = NIOLockedValueBox(0.0)
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    private static let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))

    public init(registry: PrometheusCollectorRegistry) {
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "process", metricName: metric, unitName: unit, helpText: help)
        }
        cpu = registry.makeCounter(descriptor: name("cpu", "seconds_total", "Total user and system CPU time spent in seconds."))
        resident = registry.makeGauge(descriptor: name("resident_memory", "bytes", "Resident memory size in bytes."))
        virtual = registry.makeGauge(descriptor: name("virtual_memory", "bytes", "Virtual memory size in bytes."))
        openFDs = registry.makeGauge(descriptor: name("open", "fds", "Number of open file descriptors."))
        maxFDs = registry.makeGauge(descriptor: name("max", "fds", "Maximum number of open file descriptors."))
        if let stat = Self.stat(), let bootTime = Self.bootTime() {
            registry.makeGauge(descriptor: name("start_time", "seconds", "Start time of the process since unix epoch in seconds."))
                .set(bootTime + stat.startTicks / Self.ticksPerSecond)
        }
        update()
    }

    /// Reads /proc/self now; call it just before rendering the registry.
    public func update() {
        guard let stat = Self.stat() else { return }
        let seconds = stat.cpuTicks / Self.ticksPerSecond
        reportedCPU.withLockedValue { reported in
            if seconds > reported { cpu.increment(by: seconds - reported) }
            reported = max(reported, seconds)
        }
        resident.set(stat.residentPages * Self.pageSize)
        virtual.set(stat.virtualBytes)
        if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            openFDs.set(Double(descriptors.count))
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.set(Double(limit.rlim_cur)) }
    }

    private struct Stat {
        var cpuTicks: Double, startTicks: Double, virtualBytes: Double, residentPages: Double
    }

    /// proc(5): the fields after the command name, which is in parentheses and may hold spaces.
    private static func stat() -> Stat? {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")")
        else { return nil }
        // fields[0] is field 3 (state): utime is 14, stime 15, starttime 22, vsize 23, rss 24.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 21, let utime = Double(fields[11]), let stime = Double(fields[12]),
              let start = Double(fields[19]), let vsize = Double(fields[20]), let rss = Double(fields[21])
        else { return nil }
        return Stat(cpuTicks: utime + stime, startTicks: start, virtualBytes: vsize, residentPages: rss)
    }

    /// `btime` from /proc/stat: boot time in seconds since the epoch.
    private static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("btime ") })
        else { return nil }
        return Double(line.dropFirst("btime ".count))
    }
}
