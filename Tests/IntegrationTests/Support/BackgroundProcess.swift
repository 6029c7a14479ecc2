import Foundation

/// A server the test started: output captured to a file, readiness read from it, stopped by PID.
final class BackgroundProcess {
    let process = Process()
    let log: URL

    /// Starts `executable` and, given `ready`, waits until a line of its output satisfies it.
    init(_ executable: String, _ arguments: [String], in ws: Workspace, name: String,
         ready: ((String) -> Bool)?, timeout: TimeInterval = 30) throws {
        log = ws.url.appendingPathComponent("\(name)-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = URL(fileURLWithPath: try Command.resolve(executable))
        process.arguments = arguments
        process.currentDirectoryURL = ws.url
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        guard let ready else { return }
        let deadline = Date() + timeout
        while !output.split(separator: "\n").contains(where: { ready(String($0)) }) {
            guard process.isRunning, Date() < deadline else {
                stop()
                throw TestFailure("\(name) did not become ready: \(output)")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// The first integer after `prefix` in the output (e.g. a port after "listening on 127.0.0.1:").
    func number(after prefix: String) -> Int? {
        guard let range = output.range(of: prefix) else { return nil }
        return Int(output[range.upperBound...].prefix { $0.isNumber })
    }

    /// SIGKILL by PID: children of the test runner inherit a signal mask that blocks SIGTERM. Its own direct
    /// children go first, and a wrapper that forked the real server gets a moment to notice and clean up:
    /// `faketime` killed outright leaks /dev/shm/faketime_sem_PID, which makes the next wrapper that gets the
    /// same PID (pid_max is 32768 here) fail to start with "sem_open: File exists".
    func stop() {
        if process.isRunning {
            let pid = process.processIdentifier
            let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
            let childPIDs = children.split(separator: " ").compactMap { pid_t($0) }
            for child in childPIDs { kill(child, SIGKILL) }
            let deadline = Date() + (childPIDs.isEmpty ? 0 : 5)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            if process.isRunning { kill(pid, SIGKILL) }
        }
        process.waitUntilExit()
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    deinit { stop() }
}
