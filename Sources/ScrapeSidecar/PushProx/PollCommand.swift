import ArgumentParser
import CommandLineSupport
import Logging
import MeshCA
import MeshPlatform
import MeshTLS
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

struct PollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poll", _superCommandName: "scrape-sidecar",
        abstract: "PushProx poll client: long-poll the proxy for scrapes of this host and answer them from local ports only.",
        discussion: """
            Speaks the PushProx v0.2 client protocol to `scrape-sidecar front --pushprox` or to a PushProx proxy \
            behind `scrape-sidecar front`. Only the ports given with --target are scraped (PushProx scrapes any \
            port); a scrape for another host is refused; a failed scrape is pushed as a 500 with the error.
            """)

    @Option(name: .customLong("proxy-url"), help: "The proxy, https://HOST:PORT.")
    var proxyURL: String

    @Option(help: "This host's FQDN: a DNS SAN of --cert.")
    var fqdn: String

    @Option(help: "Client certificate chain (PEM).")
    var cert: String?

    @Option(help: "Client private key (PEM).")
    var key: String?

    @Option(help: "CA bundle that verifies the proxy (PEM); with enrollment, default: the CA's root.")
    var ca: String?

    @Option(name: .customLong("target"), help: "PORT=http://127.0.0.1:PORT: a scrape of FQDN:PORT goes to this local URL, repeatable.")
    var targets: [String] = []

    @Option(name: .customLong("admin-listen"), help: "Admin HOST:PORT for /healthz, /readyz (the last poll reached the proxy) and /metrics.")
    var adminListen: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(name: .customLong("log-format"), help: "text, or json: one JSON object per line for log collectors.")
    var logFormat: LogFormat = .text

    @OptionGroup(title: "Enrollment (instead of --cert/--key: get and renew the client identity from certtool serve; --san defaults to DNS:FQDN)")
    var enrollment: EnrollmentOptions

    func run() async throws {
        guard proxyURL.hasPrefix("https://") else { throw MeshCAError.invalidInput("--proxy-url must be https://HOST:PORT") }
        var mapping: [Int: String] = [:]
        for target in targets {
            let parts = target.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let port = Int(parts[0]), (1...65535).contains(port), parts[1].hasPrefix("http://") else {
                throw MeshCAError.invalidInput("invalid --target '\(target)': use PORT=http://127.0.0.1:PORT")
            }
            mapping[port] = parts[1].hasSuffix("/") ? String(parts[1].dropLast()) : parts[1]
        }
        guard !mapping.isEmpty else { throw MeshCAError.invalidInput("give at least one --target PORT=http://127.0.0.1:PORT") }
        let admin = try adminListen.map { try Route.parseAddress($0, what: "admin address") }
        let logger = try bootstrapLogging(level: logLevel, format: logFormat, label: "scrape-sidecar.poll")
        let files: (cert: String, key: String, ca: String)
        var maintenance: Task<Void, Never>?
        if enrollment.isEnrolling {
            guard cert == nil, key == nil else {
                throw MeshCAError.invalidInput("--ca-url enrolls the client identity: drop --cert and --key")
            }
            let settings = try enrollment.agentSettings(defaultProfile: .client, defaultSANs: ["DNS:\(fqdn)"])
            let agent = CertAgent(settings, logger: Logger(label: "scrape-sidecar.certs"))
            let initial = try await agent.ensureIdentity().contents
            // The poll loop re-reads the files for every poll, so renewals need no signal.
            maintenance = Task { await agent.maintain(from: initial) { _ in } }
            let output = settings.output
            files = (output.file(OutputDirectory.chainFile), output.file(OutputDirectory.keyFile), ca ?? output.file(OutputDirectory.rootFile))
        } else {
            guard let cert, let key, let ca else { throw MeshCAError.invalidInput("give --cert, --key and --ca (or the enrollment options)") }
            files = (cert, key, ca)
        }
        _ = try HTTPSClient(group: MultiThreadedEventLoopGroup.singleton, caBundle: files.ca, certificate: files.cert, key: files.key)
        let client = PollClient(
            proxy: proxyURL.hasSuffix("/") ? String(proxyURL.dropLast()) : proxyURL, fqdn: fqdn.lowercased(),
            files: files, targets: mapping, logger: logger)
        print("polling \(proxyURL) for \(fqdn) → ports \(mapping.keys.sorted().map(String.init).joined(separator: ", "))")
        if let admin {
            let group = MultiThreadedEventLoopGroup.singleton
            let channel = try await AdminHandler.bind(
                group: group, host: admin.host, port: admin.port, metrics: client.metrics, readTimeout: .seconds(60)
            ) { group.next().makeSucceededFuture(client.lastPollFailure) }.get()
            print("admin on http://\(urlAuthority(host: admin.host, port: channel.localAddress?.port ?? admin.port))")
        }
        fflush(stdout)
        let loop = Task { await client.run() }
        await ProcessSignals.waitForTermination(onHangup: {})
        loop.cancel()
        maintenance?.cancel()
    }
}

/// The poll loop: one long poll at a time; each scrape it brings runs on its own task, so the next poll goes
/// out at once and concurrent scrapes of this host do not wait for each other.
final class PollClient: Sendable {
    let proxy: String
    let fqdn: String
    let files: (cert: String, key: String, ca: String)
    let targets: [Int: String]
    let logger: Logger
    let maximumBackoff: Duration = .seconds(30)
    let metrics = SidecarMetrics()
    private let lastFailure = NIOLockedValueBox<String?>("no poll has reached the proxy yet")

    /// Why the client is not ready (nil: the last poll reached the proxy).
    var lastPollFailure: String? { lastFailure.withLockedValue { $0 } }

    init(proxy: String, fqdn: String, files: (cert: String, key: String, ca: String), targets: [Int: String], logger: Logger) {
        self.proxy = proxy
        self.fqdn = fqdn
        self.files = files
        self.targets = targets
        self.logger = logger
    }

    /// Reads the files each time, so a rotated certificate is used from the next poll on.
    private func proxyClient(timeout: TimeAmount) throws -> HTTPSClient {
        var client = try HTTPSClient(group: MultiThreadedEventLoopGroup.singleton, caBundle: files.ca, certificate: files.cert, key: files.key)
        client.timeout = timeout
        return client
    }

    func run() async {
        var backoff: Duration = .seconds(1)
        while !Task.isCancelled {
            do {
                let client = try proxyClient(timeout: .minutes(30))
                // Connected and verified is what readiness means; the answer may take minutes.
                let answer = try await client.request(
                    .POST, "\(proxy)/poll", headers: [("content-type", "text/plain")], body: Array(fqdn.utf8),
                    onConnected: { self.lastFailure.withLockedValue { $0 = nil } })
                metrics.pollAnswered(status: answer.status)
                // A front's 504 or 408 is not a scrape request (PushProx #140): check before parsing.
                guard answer.status == 200 else {
                    if answer.status != 408 {
                        logger.warning("poll answered without a scrape", metadata: ["status": "\(answer.status)", "body": "\(answer.text.prefix(200))"])
                        try await Task.sleep(for: backoff)
                        backoff = min(backoff * 2, maximumBackoff)
                    }
                    continue
                }
                backoff = .seconds(1)
                let request = try HTTPMessageCodec.decodeRequest(ByteBuffer(bytes: answer.body))
                Task { await self.answer(request.head) }
            } catch is CancellationError {
                return
            } catch {
                metrics.pollAnswered(status: 0)
                lastFailure.withLockedValue { $0 = "the last poll failed: \(error)" }
                logger.warning("poll failed: retrying", metadata: ["error": "\(error)", "retry_in": "\(backoff)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, maximumBackoff)
            }
        }
    }

    private func answer(_ request: HTTPRequestHead) async {
        guard let id = request.headers.first(name: "id") else {
            return logger.warning("scrape request without Id: ignored")
        }
        let response: (HTTPResponseHead, ByteBuffer)
        var outcome = "pushed"
        do {
            response = try await scrape(request)
        } catch {
            outcome = "scrape_failed"
            let text = "\(error)\n"
            logger.warning("scrape failed", metadata: ["uri": "\(request.uri)", "error": "\(error)"])
            response = (HTTPResponseHead(version: .http1_1, status: .internalServerError, headers: ["content-type": "text/plain"]), ByteBuffer(string: text))
        }
        do {
            let body = try HTTPMessageCodec.encode(response.0, body: response.1)
            let pushed = try await proxyClient(timeout: .seconds(30)).request(
                .POST, "\(proxy)/push", headers: [("id", id), ("content-type", "application/http")], body: Array(buffer: body))
            if pushed.status != 200 {
                outcome = "push_failed"
                logger.warning("push refused", metadata: ["status": "\(pushed.status)", "body": "\(pushed.text.prefix(200))"])
            }
        } catch {
            outcome = "push_failed"
            logger.warning("push failed", metadata: ["error": "\(error)"])
        }
        metrics.scrapeAnswered(outcome: outcome)
    }

    private func scrape(_ request: HTTPRequestHead) async throws -> (HTTPResponseHead, ByteBuffer) {
        guard let url = URLComponents(string: request.uri), let host = url.host?.lowercased() else {
            throw MeshCAError.invalidInput("cannot read the scrape URL \(request.uri)")
        }
        guard host == fqdn else { throw MeshCAError.invalidInput("scrape for \(host), but this client is \(fqdn)") }
        guard let seconds = request.headers.first(name: "x-prometheus-scrape-timeout-seconds").flatMap(Double.init), seconds > 0 else {
            throw MeshCAError.invalidInput("the scrape has no X-Prometheus-Scrape-Timeout-Seconds")
        }
        let port = url.port ?? 80
        guard let base = targets[port] else {
            throw MeshCAError.invalidInput("port \(port) is not a scrape target of this client (allowed: \(targets.keys.sorted()))")
        }
        var client = HTTPSClient(plainHTTPOn: MultiThreadedEventLoopGroup.singleton)
        client.timeout = .milliseconds(Int64(seconds * 1000))
        let forwarded = ["accept", "accept-encoding", "user-agent", "x-prometheus-scrape-timeout-seconds"]
        let headers = request.headers.filter { forwarded.contains($0.name.lowercased()) }.map { ($0.name, $0.value) }
        let path = url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath
        let query = url.percentEncodedQuery.map { "?\($0)" } ?? ""
        let answer = try await client.request(request.method, base + path + query, headers: headers)
        var head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: answer.status))
        for (name, value) in answer.headers where !["connection", "transfer-encoding", "content-length"].contains(name.lowercased()) {
            head.headers.add(name: name, value: value)
        }
        return (head, ByteBuffer(bytes: answer.body))
    }
}
