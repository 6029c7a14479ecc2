import Foundation
import Testing

/// A client that leaves Nagle's algorithm on (`ab`, `openssl s_client`) sends its request after the handshake
/// as a separate small segment, which its kernel holds until the client's Finished is acknowledged. BoringSSL
/// sends a TLS 1.3 server's tickets only with the first write, so unless the listener ACKs at once the kernel
/// delays that ACK by 40 ms, on every new connection. Counted, not timed: the kernel's DelayedACKs counter,
/// in a network namespace of the test's own.
@Suite struct DelayedAckTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/delayed_acks.py").path

    @Test func aNewConnectionsRequestIsNotHeldForADelayedAck() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "web", "--san", "DNS:web.example.internal"])
        try ws.ok(["issue", "prom", "--client", "--san", "DNS:prometheus.example.internal"])
        let connections = 20
        let result = try Command.run("unshare", ["--net", "python3", Self.script, Workspace.sidecarPath, ws.url.path, "\(connections)"])
        #expect(result.status == 0 && result.stdout.contains("requests \(connections)\n"), "\(result.output)")
        let delayed = result.stdout.split(separator: "\n").first { $0.hasPrefix("delayed_acks ") }.flatMap { Int($0.dropFirst(13)) }
        // One per connection without the immediate ACK; a loaded machine may still delay an odd one.
        #expect(try #require(delayed, "\(result.output)") < connections / 2, "\(result.output)")
    }
}
