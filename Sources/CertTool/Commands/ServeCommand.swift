import ArgumentParser
import CommandLineSupport
import EnrollmentServer
import Logging
import MeshCA
import MeshPlatform

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", _superCommandName: "certtool",
        abstract: "Run the CA as an HTTPS enrollment server (EST, RFC 7030).",
        discussion: """
            Endpoints: /.well-known/est/cacerts, simpleenroll (one-time token from certtool token), \
            simplereenroll (current certificate over mutual TLS), /roots.pem, /crl.pem, /healthz, /metrics. \
            The server's own certificate is issued from the pki as 'ca-server' and renewed by the server.
            """)

    @OptionGroup var pki: PKIOptions

    @Option(help: "HOST:PORT to listen on (port 0 picks a free one).")
    var listen = "127.0.0.1:8443"

    @Option(name: .customLong("san"), help: "Extra SAN for the server's certificate, e.g. DNS:ca.example.internal (repeatable).")
    var sans: [String] = []

    @Option(name: .customLong("default-validity"), help: "Lifetime of enrolled certificates unless a client asks for less.")
    var defaultValidity = "24h"

    @Option(name: .customLong("max-validity"), help: "Longest lifetime a client may ask for (?validity=).")
    var maxValidity = "24h"

    @Option(name: .customLong("crl-validity"), help: "nextUpdate of the CRLs the server publishes (refreshed at half).")
    var crlValidity = "7d"

    @Option(name: .customLong("renew-expired-within"),
            help: "Still renew a client certificate over mTLS this long after it expired (a CA outage outlived it); default 0s: never.")
    var renewExpiredWithin = "0s"

    @Option(name: .customLong("read-timeout"), help: "Close a connection that takes longer to send a whole request, or idles this long between requests.")
    var readTimeout = "60s"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "notice"

    @Option(name: .customLong("log-format"), help: "text, or json: one JSON object per line for log collectors.")
    var logFormat: LogFormat = .text

    func run() async throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw MeshCAError.invalidInput("invalid --listen '\(listen)': use HOST:PORT, e.g. 127.0.0.1:8443") }
        let host = String(listen[..<colon].trimming { $0 == "[" || $0 == "]" })
        var configuration = EnrollmentServer.Configuration(
            host: host, port: port, subjectAltNames: try sans.map(SubjectAltName.init(parsing:)),
            defaultValidity: try ValidityPeriod(parsing: defaultValidity), maximumValidity: try ValidityPeriod(parsing: maxValidity))
        configuration.crlValidity = try ValidityPeriod(parsing: crlValidity, option: "--crl-validity")
        configuration.renewExpiredWithin = try ValidityPeriod(parsing: renewExpiredWithin, allowingZero: true, option: "--renew-expired-within")
        configuration.readTimeout = .seconds(Int64(try ValidityPeriod(parsing: readTimeout, option: "--read-timeout").seconds))
        let logger = try bootstrapLogging(level: logLevel, format: logFormat, label: "certtool.serve")
        let authority = CertificateAuthority(store: pki.store(caching: true, journaling: true))
        _ = try authority.loadAuthority()  // asks for an encrypted key's passphrase now, not at the first request
        let server = try EnrollmentServer(configuration, authority: authority, logger: logger)
        try await server.run(waitForTermination: { onHangup in await ProcessSignals.serveUntilTermination(onHangup: onHangup) })
    }
}
