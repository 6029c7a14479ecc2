import MeshTLS
import NIOCore
import NIOHTTP1
import NIOPosix

/// `/healthz`, `/readyz` and `/metrics` on the admin listener (plain HTTP, loopback by default).
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let metrics: SidecarMetrics
    private let readiness: @Sendable () -> EventLoopFuture<String?>
    private var keepAlive = true
    private var version = HTTPVersion.http1_1

    /// Binds an admin listener on `group`: plain HTTP, loopback by default.
    static func bind(group: EventLoopGroup, host: String, port: Int, metrics: SidecarMetrics, readTimeout: TimeAmount,
                     readiness: @escaping @Sendable () -> EventLoopFuture<String?>) -> EventLoopFuture<Channel> {
        ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPServerHandlers(tls: nil, readTimeout: readTimeout) {
                        AdminHandler(metrics: metrics, readiness: readiness)
                    }
                }
            }
            .bind(host: host, port: port)
    }

    /// `readiness` answers nil when ready, otherwise the reason it is not.
    init(metrics: SidecarMetrics, readiness: @escaping @Sendable () -> EventLoopFuture<String?>) {
        self.metrics = metrics
        self.readiness = readiness
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        keepAlive = head.isKeepAlive
        version = head.version
        switch head.uri.prefix(while: { $0 != "?" }) {
        case "/healthz":
            respond(context, .ok, "ok\n")
        case "/readyz":
            readiness().hop(to: context.eventLoop).whenComplete { result in
                switch result {
                case .success(nil): self.respond(context, .ok, "ready\n")
                case .success(let reason?): self.respond(context, .serviceUnavailable, "not ready: \(reason)\n")
                case .failure(let error): self.respond(context, .serviceUnavailable, "not ready: \(error)\n")
                }
            }
        case "/metrics":
            respond(context, .ok, String(decoding: metrics.render(), as: UTF8.self),
                    contentType: "text/plain; version=0.0.4; charset=utf-8")
        default:
            respond(context, .notFound, "not found: try /healthz, /readyz or /metrics\n")
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ text: String,
                         contentType: String = "text/plain; charset=utf-8") {
        var body = context.channel.allocator.buffer(capacity: text.utf8.count)
        body.writeString(text)
        var headers = HTTPHeaders([("content-type", contentType), ("content-length", "\(body.readableBytes)")])
        headers.setConnection(keepAlive: keepAlive, version: version)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let keepAlive = self.keepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }
}
