import MeshTLS
import NIOCore
import NIOEmbedded
import NIOTLS
import Testing

@Suite struct HandshakeAckTests {
    /// Records the user events that reach the end of the pipeline.
    final class Events: ChannelInboundHandler {
        typealias InboundIn = NIOAny
        var seen: [String] = []
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) { seen.append("\(event)") }
    }

    @Test func passesTheHandshakeOnThenLeaves() throws {
        let channel = EmbeddedChannel()
        let events = Events()
        try channel.pipeline.syncOperations.addHandlers([HandshakeAck(), events])
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect((try? channel.pipeline.syncOperations.handler(type: HandshakeAck.self)) != nil, "still waiting for the handshake")

        channel.pipeline.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: nil))
        #expect(events.seen.count == 2 && events.seen.last?.contains("handshakeCompleted") == true, "\(events.seen)")
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: HandshakeAck.self) }
        // The ACK itself is checked against the kernel: DelayedAckTests.
    }
}
