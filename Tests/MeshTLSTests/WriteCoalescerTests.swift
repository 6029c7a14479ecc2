import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import MeshTLS

@Suite struct WriteCoalescerTests {
    private func channel(_ handlers: [any ChannelHandler] = []) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([WriteCoalescer()] + handlers)
        return channel
    }

    /// A response's head, body and end leave as one buffer (one TLS record behind it) at the flush, and every
    /// write's promise completes.
    @Test func aResponseLeavesAsOneWrite() throws {
        let channel = try channel([HTTPResponseEncoder()])
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "5"])
        let written = [
            channel.write(HTTPServerResponsePart.head(head)),
            channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "hello")))),
            channel.write(HTTPServerResponsePart.end(nil)),
        ]
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "nothing leaves before the flush")
        channel.flush()
        let out = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: out) == "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        for future in written { try future.wait() }
        _ = try channel.finish()
    }

    /// A write too large to be worth copying goes on by itself, after what was held, in order.
    @Test func aLargeWritePassesThroughInOrder() throws {
        let channel = try channel()
        let large = ByteBuffer(repeating: UInt8(ascii: "x"), count: WriteCoalescer.limit + 1)
        _ = channel.write(ByteBuffer(string: "a"))
        _ = channel.write(large)
        _ = channel.write(ByteBuffer(string: "b"))
        _ = channel.write(ByteBuffer(string: "c"))
        channel.flush()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "a"))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == large)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "bc"))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        _ = try channel.finish()
    }

    /// Records the outbound events that reach it.
    final class Recorder: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        var events: [String] = []

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            events.append("write \(String(buffer: unwrapOutboundIn(data)))")
            context.write(data, promise: promise)
        }

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            events.append("close")
            context.close(mode: mode, promise: promise)
        }
    }

    /// What is held when the connection closes goes on ahead of the close, as it would without the handler.
    @Test func aCloseHandsOnWhatIsHeldFirst() throws {
        let recorder = Recorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([recorder, WriteCoalescer()])
        _ = channel.write(ByteBuffer(string: "a"))
        #expect(recorder.events.isEmpty)
        try channel.close().wait()
        #expect(recorder.events == ["write a", "close"])
    }
}
