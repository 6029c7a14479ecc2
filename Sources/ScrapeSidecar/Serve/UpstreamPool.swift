import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// Keep-alive HTTP/1.1 connections to one upstream, per event loop: a proxied request uses a connection of
/// its own loop, so no lock is taken on the hot path.
final class UpstreamPool: @unchecked Sendable {
    let host: String
    let port: Int
    let eventLoop: EventLoop
    /// An IP-literal upstream (the usual 127.0.0.1) is connected to directly, without the resolver.
    private let address: SocketAddress?
    private var idle: [Channel] = []
    private let maxIdle = 32

    init(host: String, port: Int, eventLoop: EventLoop) {
        self.host = host
        self.port = port
        self.eventLoop = eventLoop
        self.address = try? SocketAddress(ipAddress: host, port: port)
    }

    /// An idle connection, or a new one.
    func acquire() -> EventLoopFuture<Channel> {
        eventLoop.preconditionInEventLoop()
        while let channel = idle.popLast() {
            if channel.isActive { return eventLoop.makeSucceededFuture(channel) }
        }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamResponseHandler())
                }
            }
        let connected = address.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: host, port: port)
        return connected.map { channel in
            // Once per connection: an idle connection that closes leaves the pool.
            channel.closeFuture.whenComplete { [weak self] _ in self?.idle.removeAll { $0 === channel } }
            return channel
        }
    }

    /// Returns a connection whose response completed and that may be reused.
    func release(_ channel: Channel) {
        eventLoop.preconditionInEventLoop()
        guard channel.isActive, idle.count < maxIdle else {
            channel.close(promise: nil)
            return
        }
        _ = channel.setOption(.autoRead, value: true)
        idle.append(channel)
    }
}

/// The pools of one route, one per event loop.
final class UpstreamPools: Sendable {
    let host: String
    let port: Int
    private let pools = NIOLockedValueBox<[ObjectIdentifier: UpstreamPool]>([:])

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    func pool(for eventLoop: EventLoop) -> UpstreamPool {
        pools.withLockedValue { pools in
            if let pool = pools[ObjectIdentifier(eventLoop)] { return pool }
            let pool = UpstreamPool(host: host, port: port, eventLoop: eventLoop)
            pools[ObjectIdentifier(eventLoop)] = pool
            return pool
        }
    }
}

/// Receives what the upstream sends on one pooled connection and hands it to the request that owns it.
protocol UpstreamResponseDelegate: AnyObject {
    func upstreamHead(_ head: HTTPResponseHead)
    func upstreamBody(_ buffer: ByteBuffer)
    func upstreamEnd(reusable: Bool)
    func upstreamFailed(_ error: Error)
    /// The end of one read from the upstream socket: the moment to flush what was written to the client.
    func upstreamReadComplete()
}

final class UpstreamResponseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    weak var delegate: UpstreamResponseDelegate?
    private var keepAlive = true
    /// This read brought a response head and nothing after it.
    private var headAlone = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            headAlone = true
            delegate?.upstreamHead(head)
        case .body(let buffer):
            headAlone = false
            delegate?.upstreamBody(buffer)
        case .end:
            headAlone = false
            let delegate = self.delegate
            self.delegate = nil
            delegate?.upstreamEnd(reusable: keepAlive)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // An upstream that writes the head and the body apart with Nagle on (Python's http.server on a
        // keep-alive connection) holds the body until the head is acknowledged, and with nothing to send back
        // the kernel delays that ACK: 40 ms per scrape, as when Prometheus scrapes it directly.
        if headAlone {
            headAlone = false
            context.channel.acknowledgeNow()
        }
        delegate?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let delegate {
            self.delegate = nil
            delegate.upstreamFailed(ChannelError.eof)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let delegate {
            self.delegate = nil
            delegate.upstreamFailed(error)
        }
        context.close(promise: nil)
    }
}
