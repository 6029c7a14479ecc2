import Foundation
import Testing

/// Where one side waits for an ACK that the other side's kernel delays by 40 ms because it has nothing to send
/// back: counted, not timed — the kernel's DelayedACKs counter, in a network namespace of the test's own
/// (Fixtures/delayed_acks.py).
@Suite struct DelayedAckTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/delayed_acks.py").path

    /// The DelayedACKs count over `requests` made through the sidecar in `mode`.
    static func delayedAcks(mode: String, requests: Int) throws -> Int {
        let ws = try Workspace()
        try ws.ok(["issue", "web", "--san", "DNS:web.example.internal"])
        try ws.ok(["issue", "prom", "--client", "--san", "DNS:prometheus.example.internal"])
        let result = try Command.run("unshare", ["--net", "python3", script, Workspace.sidecarPath, ws.url.path, "\(requests)", mode])
        #expect(result.status == 0 && result.stdout.contains("requests \(requests)\n"), "\(result.output)")
        let count = result.stdout.split(separator: "\n").first { $0.hasPrefix("delayed_acks ") }.flatMap { Int($0.dropFirst(13)) }
        return try #require(count, "\(result.output)")
    }

    /// A client that leaves Nagle's algorithm on (`ab`, `openssl s_client`) sends its request after the
    /// handshake as a separate small segment, held until its Finished is acknowledged; BoringSSL sends a TLS
    /// 1.3 server's tickets only with the first write, so unless the listener ACKs at once, every new
    /// connection waits 40 ms (one delayed ACK each).
    @Test func aNewConnectionsRequestIsNotHeldForADelayedAck() throws {
        // One per connection without the immediate ACK; a loaded machine may still delay an odd one.
        #expect(try Self.delayedAcks(mode: "new-connections", requests: 20) < 10)
    }

    /// An upstream that writes the head and the body apart with Nagle on holds the body until the head is
    /// acknowledged (one or two delayed ACKs per request without the sidecar acknowledging at once).
    @Test func anUpstreamThatWritesTheHeadAloneIsNotHeldForADelayedAck() throws {
        #expect(try Self.delayedAcks(mode: "split-upstream", requests: 20) < 10)
    }
}
