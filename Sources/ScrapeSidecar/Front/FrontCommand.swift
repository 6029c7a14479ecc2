import ArgumentParser
import CommandLineSupport
import Logging
import MeshCA
import MeshPlatform
import MeshTLS
import NIOCore

/// nginx's `ssl_verify_client` values.
enum VerifyClient: String, ExpressibleByArgument, CaseIterable {
    case on
    case optional
    case optionalNoCA = "optional_no_ca"

    var clientAuth: ClientAuthType {
        switch self {
        case .on: return .requireAndVerifyClientCert
        case .optional: return .verifyClientCertIfGiven
        case .optionalNoCA: return .requestClientCert
        }
    }
}

struct FrontCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "front", _superCommandName: "scrape-sidecar",
        abstract: "TLS ingress that verifies clients for an HTTP upstream such as a PushProx proxy (replaces nginx).",
        discussion: """
            nginx's client verification (--verify-client on|optional|optional_no_ca, --verify-depth), identity to \
            the upstream as X-SSL-Client-Verify, X-SSL-Client-S-DN and x-forwarded-client-cert (client copies \
            removed). A request whose answer is pending — a PushProx poll — is never cut by an idle timeout while \
            the upstream connection lives, up to --max-request-time. With --pushprox-bind-fqdn a POST /poll goes \
            through only when its FQDN is one of the client certificate's DNS SANs.
            """)

    @Option(help: "Listen address HOST:PORT.")
    var listen: String

    @Option(help: "Upstream http://HOST:PORT (e.g. the PushProx proxy); not with --pushprox.")
    var upstream: String?

    @Flag(help: "Be the PushProx-compatible proxy instead of fronting one: polls bound to the certificate's FQDN, pushes to the poll's certificate.")
    var pushprox = false

    @Option(name: .customLong("allow-scraper"), help: "With --pushprox: identity (SAN spec) allowed to scrape and list /clients over mTLS, repeatable.")
    var allowScrapers: [String] = []

    @Option(name: .customLong("scrape-listen"), help: "With --pushprox: plain-HTTP HOST:PORT for a co-located Prometheus (keep it on loopback).")
    var scrapeListen: String?

    @Option(name: .customLong("clients-port"), help: "With --pushprox: /clients lists FQDN:PORT, ready for http_sd_configs.")
    var clientsPort: Int?

    @Option(name: .customLong("clients-label"), help: "With --pushprox: NAME=VALUE label on every /clients target group, repeatable.")
    var clientsLabels: [String] = []

    @Option(help: "Serving certificate chain (PEM).")
    var cert: String

    @Option(help: "Serving private key (PEM).")
    var key: String

    @Option(name: .customLong("client-ca"), help: "CA bundle client certificates must chain to (PEM).")
    var clientCA: String

    @Option(name: .customLong("verify-client"), help: "on (default), optional or optional_no_ca, as nginx's ssl_verify_client.")
    var verifyClient: VerifyClient = .on

    @Option(name: .customLong("verify-depth"), help: "Issuers allowed above the client certificate (nginx's ssl_verify_depth).")
    var verifyDepth: Int?

    @Option(help: "CRL (PEM or DER) signed by the client CA.")
    var crl: String?

    @Option(name: .customLong("allow-san"), help: "Allowed client SAN (DNS:, IP:, email:, URI: with * and **), repeatable. Default: any verified client.")
    var allowSANs: [String] = []

    @Flag(name: .customLong("pushprox-bind-fqdn"), help: "Forward a POST /poll only when its FQDN is one of the client certificate's DNS SANs.")
    var bindFQDN = false

    @Option(name: .customLong("max-body"), help: "Largest request body in bytes; more gets 413 (default 64 MiB).")
    var maxBody = 64 << 20

    @Option(name: .customLong("max-connections"), help: "Client connections held at most; more are closed on arrival (default 10000).")
    var maxConnections = 10_000

    @Option(name: .customLong("max-request-time"), help: "Longest wait for the upstream's answer, e.g. a long poll (default 15m).")
    var maxRequestTime = "15m"

    @Option(name: .customLong("read-timeout"), help: "Close a connection that takes longer to send a whole request, or idles this long between requests.")
    var readTimeout = "60s"

    @Option(name: .customLong("admin-listen"), help: "Admin HOST:PORT for /healthz, /readyz and /metrics (keep it on loopback).")
    var adminListen: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(name: .customLong("log-format"), help: "text, or json: one JSON object per line for log collectors.")
    var logFormat: LogFormat = .text

    func run() async throws {
        var tls = ServerTLS(certificate: cert, key: key, clientCA: clientCA, crl: crl)
        tls.clientAuth = verifyClient.clientAuth
        if let verifyDepth {
            guard verifyDepth >= 0 else { throw MeshCAError.invalidInput("--verify-depth must be 0 or more") }
            tls.verifyDepth = verifyDepth
        }
        guard maxBody > 0, maxConnections > 0 else {
            throw MeshCAError.invalidInput("--max-body and --max-connections must be positive")
        }
        if bindFQDN && verifyClient != .on {
            throw MeshCAError.invalidInput("--pushprox-bind-fqdn needs --verify-client on: an FQDN is bound to a verified certificate")
        }
        let logger = try bootstrapLogging(level: logLevel, format: logFormat, label: "scrape-sidecar.front")
        let admin = try adminListen.map { try Route.parseAddress($0, what: "admin address") }
        let readTimeout = TimeAmount.seconds(Int64(try ValidityPeriod(parsing: readTimeout, option: "--read-timeout").seconds))
        if pushprox {
            guard upstream == nil else { throw MeshCAError.invalidInput("--pushprox is the proxy itself: drop --upstream") }
            guard verifyClient == .on else { throw MeshCAError.invalidInput("--pushprox needs --verify-client on") }
            var policy = PushProxPolicy(scrapers: try SANAllowList(allowScrapers))
            policy.maxBody = maxBody
            policy.clientsPort = clientsPort
            for label in clientsLabels {
                let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw MeshCAError.invalidInput("invalid --clients-label '\(label)': use NAME=VALUE")
                }
                policy.clientsLabels[parts[0]] = parts[1]
            }
            var configuration = PushProxServer.Configuration(
                listen: try Route.parseAddress(listen, what: "listen address"),
                scrapeListen: try scrapeListen.map { try Route.parseAddress($0, what: "scrape listen address") },
                adminListen: admin, tls: tls, policy: policy)
            configuration.readTimeout = readTimeout
            return try await PushProxServer(configuration, logger: logger).run()
        }
        guard let upstream else { throw MeshCAError.invalidInput("give --upstream http://HOST:PORT, or --pushprox") }
        let route = try Route(listen: listen, upstream: upstream)
        var policy = AccessPolicy(allowedSANs: try SANAllowList(allowSANs), allowedPaths: nil)
        policy.requireIdentity = verifyClient == .on || !allowSANs.isEmpty
        policy.defaultTimeout = .seconds(Int64(try ValidityPeriod(parsing: maxRequestTime, option: "--max-request-time").seconds))
        policy.maxRequestBody = maxBody
        policy.nginxIdentityHeaders = true
        policy.bindPollFQDN = bindFQDN
        var configuration = SidecarServer.Configuration(routes: [route], tls: tls, policy: policy, adminListen: admin)
        configuration.readTimeout = readTimeout
        configuration.maxConnections = maxConnections
        try await SidecarServer(configuration, logger: logger).run()
    }
}
