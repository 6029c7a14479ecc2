import CommandLineSupport
import Logging
import MeshPlatform
import MeshTLS
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// `scrape-sidecar front --pushprox`: the PushProx-compatible proxy itself, on an mTLS listener (poll clients
/// and certificate-holding scrapers) and optionally a plain loopback scrape listener for a co-located
/// Prometheus; admin endpoints and hot reload as `serve`.
final class PushProxServer: Sendable {
    struct Configuration: Sendable {
        var listen: (host: String, port: Int)
        var scrapeListen: (host: String, port: Int)?
        var adminListen: (host: String, port: Int)?
        var tls: ServerTLS
        var policy: PushProxPolicy
        var readTimeout: TimeAmount = .seconds(60)
        var reloadInterval: TimeAmount = .seconds(2)
    }

    let configuration: Configuration
    let logger: Logger
    let metrics = SidecarMetrics()
    let registry = PushProxRegistry()
    let tls: ReloadableServerTLS
    let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)

    init(_ configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.tls = try .logging(configuration.tls, logger: logger, metrics: metrics)
    }

    func run() async throws {
        var channels: [Channel] = []
        let main = try await listener(configuration.listen, tls: true).get()
        let mainName = urlAuthority(host: configuration.listen.host, port: main.localAddress?.port ?? configuration.listen.port)
        print("listening on https://\(mainName) (PushProx proxy: /poll, /push, /clients, scrapes)")
        metrics.certificateNotAfter(listener: mainName, tls.certificateNotAfter)
        channels.append(main)
        if let scrape = configuration.scrapeListen {
            let channel = try await listener(scrape, tls: false).get()
            print("scrapes on http://\(urlAuthority(host: scrape.host, port: channel.localAddress?.port ?? scrape.port))")
            channels.append(channel)
        }
        if let admin = configuration.adminListen {
            let tls = self.tls, loop = group.next()
            let channel = try await AdminHandler.bind(
                group: group, host: admin.host, port: admin.port, metrics: metrics, readTimeout: configuration.readTimeout
            ) { loop.makeSucceededFuture(tls.certificateNotAfter < Date() ? "the serving certificate has expired" : nil) }.get()
            print("admin on http://\(urlAuthority(host: admin.host, port: channel.localAddress?.port ?? admin.port))")
            channels.append(channel)
        }
        fflush(stdout)

        let reloadTask = group.next().scheduleRepeatedTask(
            initialDelay: configuration.reloadInterval, delay: configuration.reloadInterval
        ) { [self] _ in reload(force: false, listener: mainName) }
        await ProcessSignals.serveUntilTermination(onHangup: { [self] in reload(force: true, listener: mainName) })
        logger.notice("stopping")
        reloadTask.cancel()
        for channel in channels { try? await channel.close() }
        registry.close()
        try await group.shutdownGracefully()
    }

    private func reload(force: Bool, listener: String) {
        if tls.reloadLogging(force: force, logger: logger) { metrics.certificateNotAfter(listener: listener, tls.certificateNotAfter) }
    }

    private func listener(_ address: (host: String, port: Int), tls useTLS: Bool) -> EventLoopFuture<Channel> {
        let tls = self.tls, registry = self.registry, policy = configuration.policy, logger = self.logger
        let metrics = self.metrics, readTimeout = configuration.readTimeout
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHTTPServerHandlers(
                        tls: useTLS ? tls : nil, afterTLS: [HandshakeFailureCounter(metrics: metrics, listener: "\(address.host):\(address.port)")],
                        readTimeout: readTimeout
                    ) {
                        PushProxHandler(registry: registry, policy: policy, plainScrapeListener: !useTLS, logger: logger)
                    }
                }
            }
            .bind(host: address.host, port: address.port)
    }
}
