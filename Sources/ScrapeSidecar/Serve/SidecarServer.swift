import CommandLineSupport
import Logging
import MeshPlatform
import MeshTLS
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The listeners of `scrape-sidecar serve`: one mTLS listener per route, an optional admin listener, hot
/// reload of the TLS files (poll + SIGHUP), and a graceful stop on SIGTERM.
final class SidecarServer: Sendable {
    struct Configuration: Sendable {
        var routes: [Route]
        var tls: ServerTLS
        var policy: AccessPolicy
        var adminListen: (host: String, port: Int)?
        var reloadInterval: TimeAmount = .seconds(2)
        /// Longest time a client may take to send a whole request, or sit idle between requests.
        var readTimeout: TimeAmount = .seconds(60)
        /// Client connections held at most, over all listeners; more are closed at once (nil: no cap).
        var maxConnections: Int?
        /// How long SIGTERM waits for in-flight requests.
        var drainTimeout: Duration = .seconds(25)
    }

    let configuration: Configuration
    let logger: Logger
    let metrics = SidecarMetrics()
    let inFlight = InFlightRequests()
    let tls: ReloadableServerTLS
    let group: MultiThreadedEventLoopGroup
    /// Bound listener names (`HOST:PORT`), the label of the certificate gauge.
    private let listenerNames = NIOLockedValueBox<[String]>([])
    private let openConnections = NIOLockedValueBox(0)

    init(_ configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        self.tls = try .logging(configuration.tls, logger: logger, metrics: metrics)
    }

    /// Binds every listener, prints where, and serves until SIGTERM or SIGINT.
    func run() async throws {
        var channels: [Channel] = []
        var listeners: [String] = []
        for route in configuration.routes {
            let pools = UpstreamPools(host: route.upstreamHost, port: route.upstreamPort)
            let channel = try await listener(route: route, pools: pools).get()
            let port = channel.localAddress?.port ?? route.listenPort
            let name = urlAuthority(host: route.listenHost, port: port)
            metrics.certificateNotAfter(listener: name, tls.certificateNotAfter)
            listeners.append(name)
            print("listening on https://\(name) → http://\(urlAuthority(host: route.upstreamHost, port: route.upstreamPort))")
            channels.append(channel)
        }
        if let admin = configuration.adminListen {
            let channel = try await adminListener(host: admin.host, port: admin.port).get()
            print("admin on http://\(urlAuthority(host: admin.host, port: channel.localAddress?.port ?? admin.port))")
            channels.append(channel)
        }
        fflush(stdout)
        listenerNames.withLockedValue { $0 = listeners }

        let reloadTask = group.next().scheduleRepeatedTask(
            initialDelay: configuration.reloadInterval, delay: configuration.reloadInterval
        ) { [self] _ in reload(force: false) }
        await ProcessSignals.serveUntilTermination(onHangup: { [self] in reload(force: true) })

        logger.notice("stopping: closing listeners, finishing in-flight requests", metadata: ["in_flight": "\(inFlight.count)"])
        reloadTask.cancel()
        inFlight.startDraining()
        for channel in channels { try? await channel.close() }
        let deadline = ContinuousClock.now + configuration.drainTimeout
        while inFlight.count > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if inFlight.count > 0 {
            logger.warning("drain timeout: cutting requests still in flight", metadata: ["in_flight": "\(inFlight.count)"])
        }
        // Closes the idle keep-alive connections that remain.
        try await group.shutdownGracefully()
        logger.notice("stopped")
    }

    /// Re-reads the TLS files if they changed (always with `force`); a bad new set keeps the old one.
    func reload(force: Bool) {
        guard tls.reloadLogging(force: force, logger: logger) else { return }
        for name in listenerNames.withLockedValue({ $0 }) { metrics.certificateNotAfter(listener: name, tls.certificateNotAfter) }
    }

    private func listener(route: Route, pools: UpstreamPools) -> EventLoopFuture<Channel> {
        let tls = self.tls, policy = configuration.policy, metrics = self.metrics, logger = self.logger
        let inFlight = self.inFlight, readTimeout = configuration.readTimeout
        let maxConnections = configuration.maxConnections, openConnections = self.openConnections
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                if let maxConnections {
                    let admitted = openConnections.withLockedValue { open -> Bool in
                        guard open < maxConnections else { return false }
                        open += 1
                        return true
                    }
                    guard admitted else {
                        metrics.connectionRefused(listener: "\(route.listenHost):\(channel.localAddress?.port ?? route.listenPort)")
                        return channel.close()
                    }
                    channel.closeFuture.whenComplete { _ in openConnections.withLockedValue { $0 -= 1 } }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    let name = "\(route.listenHost):\(channel.localAddress?.port ?? route.listenPort)"
                    try pipeline.addHTTPServerHandlers(
                        tls: tls, afterTLS: [HandshakeFailureCounter(metrics: metrics, listener: name)], readTimeout: readTimeout
                    ) {
                        ScrapeProxyHandler(
                            policy: policy, pools: pools, metrics: metrics, listener: name, inFlight: inFlight, logger: logger)
                    }
                }
            }
            .bind(host: route.listenHost, port: route.listenPort)
    }

    private func adminListener(host: String, port: Int) -> EventLoopFuture<Channel> {
        let metrics = self.metrics, tls = self.tls, routes = configuration.routes, group = self.group
        let readTimeout = configuration.readTimeout
        let readiness: @Sendable () -> EventLoopFuture<String?> = {
            let loop = group.next()
            if tls.certificateNotAfter < Date() { return loop.makeSucceededFuture("the serving certificate has expired") }
            let checks = routes.map { route in
                ClientBootstrap(group: loop).connectTimeout(.seconds(1))
                    .connect(host: route.upstreamHost, port: route.upstreamPort)
                    .flatMap { $0.close().map { nil as String? } }
                    .recover { _ in "upstream http://\(route.upstreamHost):\(route.upstreamPort) is unreachable" }
            }
            return EventLoopFuture.whenAllComplete(checks, on: loop).map { results in
                results.compactMap { try? $0.get() }.compactMap { $0 }.first
            }
        }
        return AdminHandler.bind(group: group, host: host, port: port, metrics: metrics, readTimeout: readTimeout, readiness: readiness)
    }
}
