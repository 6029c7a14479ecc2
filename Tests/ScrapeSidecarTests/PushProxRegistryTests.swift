import MeshTLS
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import ScrapeSidecar

/// The built-in proxy's bookkeeping, on an embedded event loop.
@Suite struct PushProxRegistryTests {
    let loop = EmbeddedEventLoop()

    func poll(_ registry: PushProxRegistry, _ fqdn: String, poller: String = "p1") -> PushProxRegistry.Poll {
        let poll = PushProxRegistry.Poll(fqdn: fqdn, poller: poller, promise: loop.makePromise())
        registry.add(poll)
        return poll
    }

    func scrape(_ registry: PushProxRegistry, _ fqdn: String, timeout: TimeAmount = .seconds(10)) -> EventLoopFuture<ByteBuffer> {
        let promise = loop.makePromise(of: ByteBuffer.self)
        registry.scrape(fqdn: fqdn, request: HTTPRequestHead(version: .http1_1, method: .GET, uri: "http://\(fqdn):9100/metrics"),
                        body: ByteBuffer(), timeout: timeout, promise: promise)
        return promise.futureResult
    }

    func id(_ poll: PushProxRegistry.Poll) throws -> String {
        let bytes = try poll.promise.futureResult.wait()
        return try #require(try HTTPMessageCodec.decodeRequest(bytes).head.headers.first(name: "id"))
    }

    @Test func aScrapeGoesToAWaitingPollAndBackFromItsPush() throws {
        let registry = PushProxRegistry()
        let waiting = poll(registry, "a.example")
        let result = scrape(registry, "a.example")
        let id = try id(waiting)
        #expect(registry.push(id: id, poller: "someone-else", response: ByteBuffer(string: "x")) == .wrongPoller)
        #expect(registry.push(id: id, poller: "p1", response: ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n")) == .delivered)
        #expect(try String(buffer: result.wait()).hasPrefix("HTTP/1.1 200"))
        #expect(registry.push(id: id, poller: "p1", response: ByteBuffer()) == .unknownID, "an Id answers once")
        registry.close()
    }

    @Test func unknownHostsAreRefusedAtOnceAndQueuesAreBounded() throws {
        let registry = PushProxRegistry()
        #expect(throws: PushProxRegistry.Failure.unknownFQDN) { try scrape(registry, "never.example").wait() }
        // A client that polled is known for the registration window even with no poll open.
        let first = poll(registry, "b.example")
        _ = scrape(registry, "b.example")
        _ = try id(first)
        var queued: [EventLoopFuture<ByteBuffer>] = []
        for _ in 0..<registry.maximumQueuedPerFQDN { queued.append(scrape(registry, "b.example")) }
        #expect(throws: PushProxRegistry.Failure.busy) { try scrape(registry, "b.example").wait() }
        // Queued scrapes time out and free their places.
        loop.advanceTime(by: .seconds(11))
        #expect(throws: PushProxRegistry.Failure.timedOut) { try queued[0].wait() }
        #expect(registry.clients() == ["b.example"])
        registry.close()
    }

    @Test func concurrentScrapesUseSeveralPollsAndTheOldestSurplusPollIsSuperseded() throws {
        let registry = PushProxRegistry()
        let polls = (0..<(registry.maximumPollsPerFQDN + 1)).map { _ in poll(registry, "c.example") }
        #expect(throws: PushProxRegistry.Failure.superseded) { try polls[0].promise.futureResult.wait() }
        let one = scrape(registry, "c.example"), two = scrape(registry, "c.example")
        let firstID = try id(polls[1]), secondID = try id(polls[2])
        #expect(firstID != secondID, "two scrapes, two polls, no waiting for each other")
        _ = registry.push(id: secondID, poller: "p1", response: ByteBuffer(string: "2"))
        _ = registry.push(id: firstID, poller: "p1", response: ByteBuffer(string: "1"))
        #expect(try String(buffer: one.wait()) == "1" && String(buffer: two.wait()) == "2")
        registry.close()
        #expect(throws: (any Error).self) { try polls[3].promise.futureResult.wait() }
    }

    @Test func aClosedPollIsForgotten() throws {
        let registry = PushProxRegistry(registrationWindow: 0)
        let gone = poll(registry, "d.example")
        registry.remove(gone)
        gone.promise.fail(ChannelError.ioOnClosedChannel)
        #expect(throws: PushProxRegistry.Failure.unknownFQDN) { try scrape(registry, "d.example").wait() }
        #expect(registry.clients().isEmpty)
    }
}
