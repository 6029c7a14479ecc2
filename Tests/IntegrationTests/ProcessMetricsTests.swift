import Foundation
import Testing

/// The process_* metrics of Prometheus client libraries on both servers' `/metrics`, checked against /proc and
/// with promtool (the Prometheus package's own parser and linter).
@Suite struct ProcessMetricsTests {
    /// promtool accepts the exposition, and the process metrics agree with what the kernel says of `pid`.
    func check(_ exposition: String, pid: Int32, started: Date) throws {
        let lint = try Exposition.lint(exposition)
        #expect(lint.status == 0, "\(lint.output)")
        for (name, type) in [("process_cpu_seconds_total", "counter"), ("process_resident_memory_bytes", "gauge"),
                             ("process_start_time_seconds", "gauge")] {
            #expect(exposition.contains("# TYPE \(name) \(type)"), "\(name)")
        }
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let rssKiB = Double(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?.split(separator: " ")[1] ?? "") ?? 0
        let resident = try Exposition.value("process_resident_memory_bytes", in: exposition)
        #expect(resident > rssKiB * 1024 * 0.5 && resident < rssKiB * 1024 * 2, "\(resident) bytes vs VmRSS \(rssKiB) KiB")
        let start = try Exposition.value("process_start_time_seconds", in: exposition)
        #expect(start >= started.timeIntervalSince1970 - 2 && start <= Date().timeIntervalSince1970, "\(start)")
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
        let open = try Exposition.value("process_open_fds", in: exposition)
        #expect(abs(open - Double(descriptors)) <= 3, "\(open) vs \(descriptors) in /proc/\(pid)/fd")
        #expect(try Exposition.value("process_max_fds", in: exposition) >= open)
        #expect(try Exposition.value("process_virtual_memory_bytes", in: exposition) > resident)
    }

    @Test func sidecarAdminEndpoint() throws {
        let fixture = try SidecarFixture()
        let started = Date()
        try fixture.startSidecar()
        let pid = try #require(fixture.sidecar).process.processIdentifier
        let first = try fixture.admin("/metrics")
        try check(first, pid: pid, started: started)
        // CPU time only grows, and work shows in it.
        for _ in 0..<20 { #expect(try fixture.curl(as: "prom").status == 200) }
        let second = try fixture.admin("/metrics")
        try check(second, pid: pid, started: started)
        #expect(try Exposition.value("process_cpu_seconds_total", in: second) > Exposition.value("process_cpu_seconds_total", in: first))
    }

    @Test func caServerMetricsEndpoint() throws {
        let started = Date()
        let ca = try CAServerFixture()
        let metrics = try ca.curl("/metrics")
        #expect(metrics.status == 200)
        try check(metrics.body, pid: try #require(ca.server).process.processIdentifier, started: started)
    }
}
