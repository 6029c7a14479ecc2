import ArgumentParser
import Foundation
import Logging
import MeshCA
import MeshTLS

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the app's metrics over mTLS: only verified, allowed client identities reach the upstream.",
        discussion: """
            Clients must present a certificate that chains to --client-ca, is within validity, carries clientAuth \
            and is not revoked by --crl; otherwise the TLS handshake fails. A verified client whose SANs match no \
            --allow-san, or a path outside --allow-path, gets 403. Files are re-read when they change and on SIGHUP.
            """)

    @Option(help: "Listen address HOST:PORT (with --upstream).")
    var listen: String?

    @Option(help: "Upstream http://HOST:PORT for --listen.")
    var upstream: String?

    @Option(name: .customLong("route"), help: "LISTEN=UPSTREAM, repeatable: several listeners in one process.")
    var routes: [String] = []

    @Option(help: "Serving certificate chain (PEM).")
    var cert: String

    @Option(help: "Serving private key (PEM).")
    var key: String

    @Option(name: .customLong("client-ca"), help: "CA bundle client certificates must chain to (PEM).")
    var clientCA: String

    @Option(name: .customLong("allow-san"), help: "Allowed client SAN (DNS:, IP:, email:, URI: with * and **), repeatable. Default: any verified client.")
    var allowSANs: [String] = []

    @Option(name: .customLong("allow-path"), help: "Allowed request path, repeatable (default /metrics).")
    var allowPaths: [String] = []

    @Option(help: "CRL (PEM or DER) signed by the client CA.")
    var crl: String?

    @Option(name: .customLong("admin-listen"), help: "Admin HOST:PORT for /healthz, /readyz and /metrics (keep it on loopback).")
    var adminListen: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() async throws {
        var routes = try self.routes.map(Route.init(spec:))
        switch (listen, upstream) {
        case let (listen?, upstream?): routes.insert(try Route(listen: listen, upstream: upstream), at: 0)
        case (nil, nil): break
        default: throw MeshCAError.invalidInput("--listen and --upstream go together")
        }
        guard !routes.isEmpty else { throw MeshCAError.invalidInput("nothing to serve: give --listen and --upstream, or --route") }
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw MeshCAError.invalidInput("unknown log level '\(logLevel)'")
        }
        let policy = AccessPolicy(
            allowedSANs: try SANAllowList(allowSANs),
            allowedPaths: Set(allowPaths.isEmpty ? ["/metrics"] : allowPaths))
        let admin = try adminListen.map { try Route.parseAddress($0, what: "admin address") }

        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let server = try SidecarServer(
            .init(routes: routes,
                  files: .init(certificate: cert, key: key, clientCA: clientCA, crl: crl),
                  policy: policy, adminListen: admin),
            logger: Logger(label: "scrape-sidecar"))
        try await server.run()
    }
}
