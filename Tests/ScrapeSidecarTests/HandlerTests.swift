import Logging
import MeshTLS
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import ScrapeSidecar

/// Handler-level tests on `EmbeddedChannel`, as swift-nio tests its own handlers.
@Suite struct ScrapeProxyHandlerTests {
    func channel(policy: AccessPolicy, metrics: SidecarMetrics = SidecarMetrics()) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ScrapeProxyHandler(
            policy: policy, pools: UpstreamPools(host: "127.0.0.1", port: 1), metrics: metrics,
            listener: "test", inFlight: InFlightRequests(), logger: Logger(label: "test")))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9443)).wait()
        return channel
    }

    func request(_ channel: EmbeddedChannel, _ uri: String, keepAlive: Bool = true,
                 version: HTTPVersion = .http1_1) throws -> (HTTPResponseHead, String) {
        var head = HTTPRequestHead(version: version, method: .GET, uri: uri)
        if !keepAlive { head.headers.add(name: "connection", value: "close") }
        if keepAlive && version == .http1_0 { head.headers.add(name: "connection", value: "keep-alive") }
        try channel.writeInbound(HTTPServerRequestPart.head(head))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        guard case .head(let responseHead)? = try channel.readOutbound(as: HTTPServerResponsePart.self),
              case .body(.byteBuffer(let body))? = try channel.readOutbound(as: HTTPServerResponsePart.self),
              case .end? = try channel.readOutbound(as: HTTPServerResponsePart.self)
        else { throw TestError("no complete response") }
        return (responseHead, String(buffer: body))
    }

    @Test func withoutAVerifiedIdentityTheRequestIsRefused() throws {
        let metrics = SidecarMetrics()
        let channel = try channel(policy: AccessPolicy(allowedSANs: .anyone, allowedPaths: ["/metrics"]), metrics: metrics)
        let (head, body) = try request(channel, "/metrics")
        #expect(head.status == .forbidden)
        #expect(body == "no verified client certificate\n")
        #expect(head.headers["content-length"] == ["31"])
        #expect(channel.isActive, "a refusal keeps the connection alive")
        #expect(String(decoding: metrics.render(), as: UTF8.self).contains(#"code="403""#))
    }

    @Test func pathOutsideTheAllowListIsRefusedBeforeAnyUpstreamWork() throws {
        var policy = AccessPolicy(allowedSANs: .anyone, allowedPaths: ["/metrics"])
        policy.requireIdentity = false
        let channel = try channel(policy: policy)
        let (head, body) = try request(channel, "/admin?x=1", keepAlive: false)
        #expect(head.status == .forbidden)
        #expect(body == "path /admin is not allowed\n")
        #expect(head.headers["connection"] == ["close"])
        #expect(!channel.isActive, "connection: close is honoured")
    }
}

extension ScrapeProxyHandlerTests {
    /// ab and other HTTP/1.0 clients keep the connection only when the response says keep-alive.
    @Test func http10KeepAliveIsConfirmedInTheClientsVersion() throws {
        let channel = try channel(policy: AccessPolicy(allowedSANs: .anyone, allowedPaths: ["/metrics"]))
        let (head, _) = try request(channel, "/metrics", version: .http1_0)
        #expect(head.version == .http1_0)
        #expect(head.headers["connection"] == ["keep-alive"])
        #expect(channel.isActive)
        let (plain, _) = try request(channel, "/metrics")
        #expect(plain.version == .http1_1)
        #expect(plain.headers["connection"].isEmpty)
    }
}

@Suite struct AdminHandlerTests {
    @Test func healthMetricsAndNotFound() throws {
        let metrics = SidecarMetrics()
        metrics.requests(listener: "l", code: 200).increment()
        let channel = EmbeddedChannel()
        let loop = channel.embeddedEventLoop
        try channel.pipeline.syncOperations.addHandler(AdminHandler(metrics: metrics, readiness: { loop.makeSucceededFuture(nil) }))
        func get(_ uri: String) throws -> (HTTPResponseStatus, String) {
            try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: uri)))
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
            guard case .head(let head)? = try channel.readOutbound(as: HTTPServerResponsePart.self),
                  case .body(.byteBuffer(let body))? = try channel.readOutbound(as: HTTPServerResponsePart.self),
                  case .end? = try channel.readOutbound(as: HTTPServerResponsePart.self)
            else { throw TestError("no complete response") }
            return (head.status, String(buffer: body))
        }
        #expect(try get("/healthz") == (.ok, "ok\n"))
        #expect(try get("/readyz") == (.ok, "ready\n"))
        let (status, text) = try get("/metrics")
        #expect(status == .ok)
        #expect(text.contains(#"scrape_sidecar_requests_total{listener="l",code="200"} 1"#))
        #expect(try get("/nope").0 == .notFound)
    }
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
