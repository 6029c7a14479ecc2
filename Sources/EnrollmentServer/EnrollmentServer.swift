import Logging
import MeshCA
import MeshPlatform
import MeshTLS
import NIOCore
import NIOPosix
import NIOSSL

/// `certtool serve`: the CA as an HTTPS server — EST enrollment (RFC 7030) with one-time tokens,
/// re-enrollment over mutual TLS, the roots and a CRL that never goes stale, health and metrics.
public final class EnrollmentServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// SANs of the server's own certificate besides the listen address.
        public var subjectAltNames: [SubjectAltName]
        public var defaultValidity: ValidityPeriod
        public var maximumValidity: ValidityPeriod
        public var crlValidity = ValidityPeriod(seconds: 7 * 86_400)
        /// How long after expiry a client certificate may still be renewed (an outage outlived it); 0: never,
        /// as EST re-enrollment is specified.
        public var renewExpiredWithin = ValidityPeriod(seconds: 0)
        public var serverCertificateValidity = ValidityPeriod(seconds: 30 * 86_400)
        /// Longest time a client may take to send a whole request, or sit idle between requests.
        public var readTimeout: TimeAmount = .seconds(60)
        /// How often the server checks its own certificate and the CRL.
        public var maintenanceInterval: Duration = .seconds(30)

        public init(host: String, port: Int, subjectAltNames: [SubjectAltName], defaultValidity: ValidityPeriod,
                    maximumValidity: ValidityPeriod) {
            self.host = host
            self.port = port
            self.subjectAltNames = subjectAltNames
            self.defaultValidity = defaultValidity
            self.maximumValidity = maximumValidity
        }
    }

    let configuration: Configuration
    let authority: CertificateAuthority
    let logger: Logger

    public init(_ configuration: Configuration, authority: CertificateAuthority, logger: Logger) throws {
        guard configuration.defaultValidity.seconds <= configuration.maximumValidity.seconds else {
            throw MeshCAError.invalidInput(
                "--default-validity \(configuration.defaultValidity) exceeds --max-validity \(configuration.maximumValidity)")
        }
        self.configuration = configuration
        self.authority = authority
        self.logger = logger
    }

    /// The server certificate's SANs: the listen address (unless it is a wildcard address) and `--san`.
    var serverSubjectAltNames: [SubjectAltName] {
        var names: [SubjectAltName] = []
        if let ip = IPAddress(configuration.host) {
            if !ip.bytes.allSatisfy({ $0 == 0 }) { names.append(.ip(ip)) }
        } else {
            names.append(.dns(configuration.host.lowercased()))
        }
        for name in configuration.subjectAltNames where !names.contains(name) { names.append(name) }
        return names
    }

    /// Binds, prints `listening on https://HOST:PORT`, and serves until `waitForTermination` returns (SIGTERM
    /// or SIGINT); the closure it is given reloads the TLS identity (SIGHUP).
    public func run(waitForTermination: (@escaping @Sendable () -> Void) async -> Void) async throws {
        _ = try authority.loadAuthority()
        let sans = serverSubjectAltNames
        guard !sans.isEmpty else {
            throw MeshCAError.invalidInput("listening on \(configuration.host) gives the server certificate no name: add --san DNS:ca.example.internal")
        }
        let identity = ServerIdentity(authority: authority, subjectAltNames: sans, validity: configuration.serverCertificateValidity)
        if try identity.renewIfNeeded() { logger.notice("issued the server certificate", metadata: ["sans": "\(sans.map(\.description))"]) }

        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        let metrics = EnrollmentMetrics()
        let service = try EnrollmentService(
            authority: authority,
            policy: .init(defaultValidity: configuration.defaultValidity, maximumValidity: configuration.maximumValidity,
                          crlValidity: configuration.crlValidity,
                          renewExpiredWithin: configuration.renewExpiredWithin.seconds),
            metrics: metrics, logger: logger, pool: pool)
        _ = try service.currentCRL()

        // Any client certificate is accepted in the handshake (enrollment needs none); simplereenroll verifies
        // the one presented against the CA and its database, so refusals get an HTTP status and a reason.
        var tlsSettings = ServerTLS(certificate: identity.certificateFile, key: identity.keyFile, clientCA: "\(authority.store.location)/ca.crt")
        tlsSettings.clientAuth = .requestClientCert
        let tls = try ReloadableServerTLS(settings: tlsSettings)
        metrics.serverCertificateNotAfter(tls.certificateNotAfter)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let readTimeout = configuration.readTimeout
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHTTPServerHandlers(tls: tls, coalescingWrites: true, readTimeout: readTimeout) { ESTHandler(service: service) }
                }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        print("listening on https://\(urlAuthority(host: configuration.host, port: channel.localAddress?.port ?? configuration.port))")
        fflush(stdout)

        let logger = self.logger
        let interval = configuration.maintenanceInterval
        let maintenance = Task {
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { break }  // cancelled at shutdown
                do {
                    let renewed = try await service.blocking { try identity.renewIfNeeded() }
                    if try tls.reload(force: renewed) {
                        metrics.serverCertificateNotAfter(tls.certificateNotAfter)
                        logger.notice("rotated the server certificate", metadata: ["not_after": "\(tls.certificateNotAfter.iso8601)"])
                    }
                    _ = try await service.blocking { try service.currentCRL() }
                } catch {
                    logger.error("maintenance failed: will retry", metadata: ["error": "\(error)"])
                }
            }
        }

        // Batches checkpoint as they commit; this covers the last ones before a quiet spell, so that an idle
        // server leaves pki/ durable and its journal empty: other commands then neither replay it nor wait for
        // the exclusive lock to do so.
        let store = authority.store
        let checkpoints = Task {
            // Retried every second; a failure that repeats (a full or read-only disk) is logged once.
            var failure: String?
            while !Task.isCancelled {
                do { try await Task.sleep(for: .seconds(1)) } catch { break }
                do {
                    try await service.blocking { try store.checkpointIfDue() }
                    if failure != nil { logger.notice("checkpoint succeeded again") }
                    failure = nil
                } catch {
                    if failure != "\(error)" {
                        logger.error("checkpoint failed: retrying every second", metadata: ["error": "\(error)"])
                    }
                    failure = "\(error)"
                }
            }
        }

        await waitForTermination { _ = try? tls.reload(force: true) }
        logger.notice("stopping")
        maintenance.cancel()
        checkpoints.cancel()
        try? await channel.close()
        try await group.shutdownGracefully()
        try await pool.shutdownGracefully()
        do {
            try authority.store.checkpoint()
        } catch {
            logger.error("could not sync pki/ at stop: the next process to open it replays its journal", metadata: ["error": "\(error)"])
        }
    }
}
