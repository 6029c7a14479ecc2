import ArgumentParser
import CommandLineSupport
import Logging
import MeshCA
import MeshPlatform
import MeshTLS
import SidecarConfig

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", _superCommandName: "scrape-sidecar",
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
    var cert: String?

    @Option(help: "Serving private key (PEM).")
    var key: String?

    @Option(name: .customLong("client-ca"), help: "CA bundle client certificates must chain to (PEM).")
    var clientCA: String?

    @Option(name: .customLong("web.config.file"), help: "Prometheus exporter-toolkit web config (tls_server_config), instead of --cert/--key/--client-ca.")
    var webConfigFile: String?

    @Option(name: .customLong("config"), help: "YAML file with these options (keys with underscores); flags win.")
    var configFile: String?

    @Option(name: .customLong("allow-san"), help: "Allowed client SAN (DNS:, IP:, email:, URI: with * and **), repeatable. Default: any verified client.")
    var allowSANs: [String] = []

    @Option(name: .customLong("allow-path"), help: "Allowed request path, repeatable (default /metrics).")
    var allowPaths: [String] = []

    @Option(help: "CRL (PEM or DER) signed by the client CA.")
    var crl: String?

    @Option(name: .customLong("admin-listen"), help: "Admin HOST:PORT for /healthz, /readyz and /metrics (keep it on loopback).")
    var adminListen: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default info).")
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: "text (default), or json: one JSON object per line for log collectors.")
    var logFormat: LogFormat?

    @Option(name: .customLong("read-timeout"), help: "Close a connection that takes longer to send a whole request, or idles this long between requests (default 60s).")
    var readTimeout: String?

    @OptionGroup(title: "Enrollment (instead of --cert/--key: get and renew the serving identity from certtool serve)")
    var enrollment: EnrollmentOptions

    func run() async throws {
        let file = try configFile.map(SidecarConfigFile.load)
        var routes = try (file?.routes ?? []).map { try Route(listen: $0.listen, upstream: $0.upstream) }
        routes += try self.routes.map(Route.init(spec:))
        switch (listen ?? file?.listen, upstream ?? file?.upstream) {
        case let (listen?, upstream?): routes.insert(try Route(listen: listen, upstream: upstream), at: 0)
        case (nil, nil): break
        default: throw MeshCAError.invalidInput("--listen and --upstream go together")
        }
        guard !routes.isEmpty else { throw MeshCAError.invalidInput("nothing to serve: give --listen and --upstream, or --route") }
        let format = try logFormat ?? file?.logFormat.map { try LogFormat(configValue: $0, key: "log_format") } ?? .text
        let logger = try bootstrapLogging(
            level: logLevel ?? file?.logLevel ?? "info", format: format, label: "scrape-sidecar",
            levelKey: logLevel == nil && file?.logLevel != nil ? "log_level" : "--log-level")
        let agentSettings = enrollment.isEnrolling ? try enrollment.agentSettings(defaultProfile: .server) : nil
        let tls = try tlsSettings(file, enrolledInto: agentSettings?.output)
        let sans = (file?.allowSAN ?? []) + allowSANs
        let paths = (file?.allowPath ?? []) + allowPaths
        let policy = AccessPolicy(
            allowedSANs: try SANAllowList(sans), allowedPaths: Set(paths.isEmpty ? ["/metrics"] : paths),
            requireIdentity: tls.clientAuth == .requireAndVerifyClientCert || !sans.isEmpty)
        let admin = try (adminListen ?? file?.adminListen).map { try Route.parseAddress($0, what: "admin address") }

        // With enrollment, the first set must exist before the listeners load it; renewals then swap it
        // underneath them and reload at once (the file poll would catch it within 2 s anyway).
        var agent: (CertAgent, OutputDirectory.Contents)?
        if let agentSettings {
            let certAgent = CertAgent(agentSettings, logger: Logger(label: "scrape-sidecar.certs"))
            agent = (certAgent, try await certAgent.ensureIdentity().contents)
        }
        var configuration = SidecarServer.Configuration(routes: routes, tls: tls, policy: policy, adminListen: admin)
        let timeout = readTimeout.map { ($0, "--read-timeout") } ?? file?.readTimeout.map { ($0, "read_timeout") } ?? ("60s", "--read-timeout")
        configuration.readTimeout = .seconds(Int64(try ValidityPeriod(parsing: timeout.0, option: timeout.1).seconds))
        let server = try SidecarServer(configuration, logger: logger)
        let maintenance = agent.map { agent, initial in
            Task { await agent.maintain(from: initial) { _ in server.reload(force: true) } }
        }
        try await server.run()
        maintenance?.cancel()
    }

    /// The listener's TLS settings: from an exporter-toolkit web config, from --cert/--key/--client-ca, or
    /// from the enrollment output directory (client CA: --client-ca, else the CA's root).
    private func tlsSettings(_ file: SidecarConfigFile?, enrolledInto output: OutputDirectory?) throws -> ServerTLS {
        let crl = self.crl ?? file?.crl
        if let output {
            guard cert == nil, key == nil, webConfigFile == nil, file?.cert == nil, file?.key == nil, file?.webConfigFile == nil else {
                throw MeshCAError.invalidInput("--ca-url enrolls the serving identity: drop --cert, --key and --web.config.file")
            }
            return ServerTLS(
                certificate: output.file(OutputDirectory.chainFile), key: output.file(OutputDirectory.keyFile),
                clientCA: clientCA ?? file?.clientCA ?? output.file(OutputDirectory.rootFile), crl: crl)
        }
        if let webConfig = webConfigFile ?? file?.webConfigFile {
            guard cert == nil, key == nil, clientCA == nil else {
                throw MeshCAError.invalidInput("--web.config.file replaces --cert, --key and --client-ca: give one or the other")
            }
            var settings = try WebConfigFile.load(webConfig)
            settings.crl = crl
            return settings
        }
        guard let cert = cert ?? file?.cert, let key = key ?? file?.key, let clientCA = clientCA ?? file?.clientCA else {
            throw MeshCAError.invalidInput("give --cert, --key and --client-ca (or --web.config.file)")
        }
        return ServerTLS(certificate: cert, key: key, clientCA: clientCA, crl: crl)
    }
}
