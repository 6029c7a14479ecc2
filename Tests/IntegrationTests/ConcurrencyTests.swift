import Foundation
import Testing

/// The pki/ lock: concurrent certtool processes lose nothing and never reuse a serial.
@Suite struct ConcurrencyTests {
    @Test func eightProcessesIssuingTwentyFiveEach() async throws {
        let ws = try Workspace()
        try ws.ok(["init"])
        let pki = ws.pki
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    // One shell per worker issues its 25 certificates back to back, as a user's script would.
                    let script = (0..<25).map { index in
                        "\"$CERTTOOL\" issue w\(worker)-\(index) --san w\(worker)-\(index).example.internal --pki \"$PKI\" >/dev/null || exit 1"
                    }.joined(separator: "\n")
                    let result = try Command.run("/bin/sh", ["-c", script],
                                                 environment: ["CERTTOOL": Workspace.certtoolPath, "PKI": pki])
                    if result.status != 0 { throw TestFailure("worker \(worker) failed: \(result.output)") }
                }
            }
            try await group.waitForAll()
        }
        let rows = try ws.read("pki/index.txt").split(separator: "\n")
        #expect(rows.count == 200)
        let serials = Set(rows.map { $0.split(separator: "\t", omittingEmptySubsequences: false)[3] })
        #expect(serials.count == 200)
        let issued = try FileManager.default.contentsOfDirectory(atPath: "\(ws.pki)/issued")
        #expect(issued.count == 200)
        let bySerial = try FileManager.default.contentsOfDirectory(atPath: "\(ws.pki)/certs_by_serial")
        #expect(Set(bySerial.map { String($0.dropLast(4)) }) == Set(serials.map(String.init)))
        // No temporary files were left behind.
        #expect(ws.snapshot().keys.allSatisfy { !$0.contains(".tmp-") })
    }
}
