import MeshTLS
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@Suite struct HTTPServerPipelineTests {
    /// Answers each request with 200 "ok", at once or when `respond()` is called.
    final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let immediate: Bool
        var context: ChannelHandlerContext?

        init(immediate: Bool) { self.immediate = immediate }

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .end = unwrapInboundIn(data), immediate { respond() }
        }

        func respond() {
            guard let context else { return }
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "2"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    final class Factory {
        var made: [Responder] = []
        let immediate: Bool
        init(immediate: Bool) { self.immediate = immediate }
        func make() -> any ChannelHandler {
            let responder = Responder(immediate: immediate)
            made.append(responder)
            return responder
        }
    }

    private func connectedChannel(_ factory: Factory, timeout: TimeAmount = .seconds(5)) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHTTPServerHandlers(tls: nil, readTimeout: timeout, application: factory.make)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        return channel
    }

    private func response(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let part = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: part) }
        return text
    }

    @Test func httpHandlersAreAddedWithTheFirstBytesOnce() throws {
        let factory = Factory(immediate: true)
        let channel = try connectedChannel(factory)
        let pipeline = channel.pipeline.syncOperations
        #expect(factory.made.isEmpty)
        #expect(throws: (any Error).self) { try pipeline.handler(type: HTTPResponseEncoder.self) }
        #expect(throws: (any Error).self) { try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self) }
        #expect((try? pipeline.handler(type: RequestReadTimeout.self)) != nil)

        for _ in 0..<2 {
            try channel.writeInbound(ByteBuffer(string: "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"))
            let text = try response(channel)
            #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n") && text.hasSuffix("\r\n\r\nok"), "\(text)")
        }
        #expect(factory.made.count == 1, "one application handler per connection")
        #expect((try? pipeline.handler(type: HTTPResponseEncoder.self)) != nil)
        _ = try channel.finish()
    }

    /// The read timeout is armed before any byte arrives, stops while a response is produced (so it sits behind
    /// the codec and before the application, which is where it is placed), and runs again after the response.
    @Test func readTimeoutCoversTheIdleConnectionAndSeesRequestParts() throws {
        let idle = try connectedChannel(Factory(immediate: true), timeout: .seconds(5))
        idle.embeddedEventLoop.advanceTime(by: .seconds(6))
        #expect(!idle.isActive, "a connection that never sends a request is closed")

        let factory = Factory(immediate: false)
        let channel = try connectedChannel(factory, timeout: .seconds(5))
        channel.embeddedEventLoop.advanceTime(by: .seconds(3))
        try channel.writeInbound(ByteBuffer(string: "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(channel.isActive, "the clock stops while the response is produced")
        factory.made.first?.respond()
        #expect(try response(channel).hasSuffix("ok"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(6))
        #expect(!channel.isActive, "the clock runs again once the response is sent")
    }
}
