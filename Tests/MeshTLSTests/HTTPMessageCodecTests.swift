import MeshTLS
import NIOCore
import NIOHTTP1
import Testing

@Suite struct HTTPMessageCodecTests {
    @Test func requestsAndResponsesRoundTrip() throws {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "http://node1.example.internal:9100/metrics")
        head.headers.add(name: "Id", value: "abc")
        head.headers.add(name: "X-Prometheus-Scrape-Timeout-Seconds", value: "10")
        let bytes = try HTTPMessageCodec.encode(head)
        #expect(String(buffer: bytes).hasPrefix("GET http://node1.example.internal:9100/metrics HTTP/1.1\r\n"))
        let request = try HTTPMessageCodec.decodeRequest(bytes)
        #expect(request.head.uri == head.uri && request.head.headers["id"] == ["abc"])

        let body = ByteBuffer(string: "up 1\n")
        let response = try HTTPMessageCodec.decodeResponse(
            try HTTPMessageCodec.encode(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Type": "text/plain"]), body: body))
        #expect(response.head.status == .ok && response.body == body)
        #expect(response.head.headers["content-type"] == ["text/plain"])
    }

    @Test func truncatedOrGarbageMessagesAreRefused() {
        #expect(throws: (any Error).self) { try HTTPMessageCodec.decodeRequest(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n")) }
        #expect(throws: (any Error).self) { try HTTPMessageCodec.decodeResponse(ByteBuffer(string: "not http at all\r\n\r\n")) }
        #expect(throws: (any Error).self) { try HTTPMessageCodec.decodeResponse(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")) }
    }
}
