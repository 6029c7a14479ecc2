import NIOCore
import NIOTLS

/// Acknowledges the client's last handshake flight at once, then leaves the pipeline.
///
/// A TLS 1.3 server sends nothing after the client's Finished: BoringSSL holds the session tickets back until
/// the first response. So the kernel delays its ACK of that flight (40 ms), and a client that leaves Nagle's
/// algorithm on (`ab`, `openssl s_client`) holds its request until the ACK comes: 40 ms on every new
/// connection. (nginx, on OpenSSL, answers the Finished with its tickets at once.)
public final class HandshakeAck: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny

    public init() {}

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case TLSUserEvent.handshakeCompleted = event else { return context.fireUserInboundEventTriggered(event) }
        context.channel.acknowledgeNow()
        context.fireUserInboundEventTriggered(event)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
