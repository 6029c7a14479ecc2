import Logging
import MeshCA
import MeshPlatform
import MeshTLS
import NIOCore
import NIOHTTP1
import NIOSSL
import X509

/// Who may do what on a built-in proxy listener.
struct PushProxPolicy: Sendable {
    /// On the mTLS listener: identities allowed to scrape and list clients (empty: none). The plain scrape
    /// listener (loopback) lets its clients scrape without a certificate, like pushprox-proxy's :8080.
    var scrapers: SANAllowList
    var maxBody = 64 << 20
    var defaultScrapeTimeout: TimeAmount = .seconds(15)
    var maximumScrapeTimeout: TimeAmount = .minutes(5)
    /// `/clients` target groups: `fqdn:port` when set, and these labels.
    var clientsPort: Int?
    var clientsLabels: [String: String] = [:]

    /// The longest FQDN (RFC 1035), so a poll body is never buffered beyond it.
    static let maximumFQDNBytes = 253
}

/// One connection to the built-in PushProx-compatible proxy: polls and pushes from verified clients bound to
/// their certificates' FQDNs, scrapes (absolute-URI requests, as Prometheus sends with `proxy_url`) and
/// `/clients` from allowed scrapers.
final class PushProxHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PushProxRegistry
    private let policy: PushProxPolicy
    /// The plain scrape listener: scrapes and /clients only, no certificate.
    private let plainScrapeListener: Bool
    private let logger: Logger
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var refusal: (HTTPResponseStatus, String)?
    private var waitingPoll: PushProxRegistry.Poll?
    private var identity: PeerIdentity?
    private var identityRead = false
    /// Of the request being answered.
    private var keepAlive = true
    private var version = HTTPVersion.http1_1

    init(registry: PushProxRegistry, policy: PushProxPolicy, plainScrapeListener: Bool, logger: Logger) {
        self.registry = registry
        self.policy = policy
        self.plainScrapeListener = plainScrapeListener
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            keepAlive = head.isKeepAlive
            version = head.version
            body.clear()
            refusal = nil
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limit(for: head) {
                refusal = (.payloadTooLarge, "request body larger than \(limit(for: head)) bytes")
            }
        case .body(var buffer):
            guard refusal == nil, let head else { return }
            if body.readableBytes + buffer.readableBytes > limit(for: head) {
                refusal = (.payloadTooLarge, "request body larger than \(limit(for: head)) bytes")
                return
            }
            body.writeBuffer(&buffer)
        case .end:
            guard let head else { return }
            self.head = nil
            if let (status, reason) = refusal { return respond(context, status, reason, close: true) }
            dispatch(head, context: context)
        }
    }

    /// Polls carry one FQDN; pushes a whole scrape result; scrapes usually nothing.
    private func limit(for head: HTTPRequestHead) -> Int {
        head.uri == "/poll" ? PushProxPolicy.maximumFQDNBytes : policy.maxBody
    }

    private func dispatch(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = String(head.uri.prefix { $0 != "?" })
        if head.uri.lowercased().hasPrefix("http://") { return scrape(head, context: context) }
        switch (head.method, path) {
        case (.POST, "/poll"): poll(context: context)
        case (.POST, "/push"): push(head, context: context)
        case (.GET, "/clients"): clients(context: context)
        default: respond(context, .notFound, "not found: PushProx paths are /poll, /push, /clients and absolute-URI scrapes")
        }
    }

    // MARK: Poll clients

    private func poll(context: ChannelHandlerContext) {
        guard let identity = peerIdentity(context) else {
            return respond(context, .forbidden, "polling needs a verified client certificate")
        }
        let fqdn = String(buffer: body).trimming(while: \.isWhitespace).lowercased()
        guard identity.dnsNames.contains(where: { $0.lowercased() == fqdn }) else {
            logger.notice("refused a poll for another FQDN", metadata: ["fqdn": "\(fqdn)", "client": "\(identity.subject)"])
            return respond(context, .forbidden, "the client certificate does not carry DNS:\(fqdn): polls for it are refused")
        }
        let poll = PushProxRegistry.Poll(fqdn: fqdn, poller: identity.sha256, promise: context.eventLoop.makePromise())
        waitingPoll = poll
        registry.add(poll)
        poll.promise.futureResult.whenComplete { result in
            guard self.waitingPoll === poll else { return }
            self.waitingPoll = nil
            switch result {
            case .success(let request):
                self.respond(context, .ok, body: request, contentType: "application/http")
            case .failure(PushProxRegistry.Failure.superseded):
                self.respond(context, .requestTimeout, "a newer poll for \(fqdn) took this one's place")
            case .failure(let error):
                self.respond(context, .internalServerError, "\(error)")
            }
        }
    }

    private func push(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard let identity = peerIdentity(context) else {
            return respond(context, .forbidden, "pushing needs a verified client certificate")
        }
        guard let id = head.headers.first(name: "id"), !id.isEmpty else {
            return respond(context, .badRequest, "a push needs the Id header of the scrape it answers")
        }
        switch registry.push(id: id, poller: identity.sha256, response: body) {
        case .delivered: respond(context, .ok, "")
        case .unknownID: respond(context, .notFound, "no scrape is waiting for Id \(id) (it timed out or never existed)")
        case .wrongPoller: respond(context, .forbidden, "Id \(id) was handed to another client's poll")
        }
    }

    // MARK: Scrapers

    private func mayScrape(_ context: ChannelHandlerContext) -> Bool {
        if plainScrapeListener { return true }
        guard let identity = peerIdentity(context) else { return false }
        return !policy.scrapers.allowsEveryone && policy.scrapers.match(identity) != nil
    }

    private func scrape(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard mayScrape(context) else { return respond(context, .forbidden, "this identity may not scrape through the proxy") }
        guard let host = URLComponents(string: head.uri)?.host?.lowercased(), !host.isEmpty else {
            return respond(context, .badRequest, "cannot read the target host in \(head.uri)")
        }
        let asked = head.headers.first(name: "x-prometheus-scrape-timeout-seconds").flatMap(Double.init)
        var timeout = asked.map { TimeAmount.milliseconds(Int64($0 * 1000)) } ?? policy.defaultScrapeTimeout
        if timeout > policy.maximumScrapeTimeout || timeout <= .zero { timeout = policy.maximumScrapeTimeout }
        let promise = context.eventLoop.makePromise(of: ByteBuffer.self)
        registry.scrape(fqdn: host, request: head, body: body, timeout: timeout, promise: promise)
        promise.futureResult.whenComplete { result in
            switch result {
            case .success(let pushed):
                do {
                    let response = try HTTPMessageCodec.decodeResponse(pushed, to: head.method)
                    self.forward(response, context: context)
                } catch {
                    self.respond(context, .badGateway, "the client pushed an unreadable response: \(error)")
                }
            case .failure(PushProxRegistry.Failure.unknownFQDN):
                self.respond(context, .notFound, "no client is polling for \(host)")
            case .failure(PushProxRegistry.Failure.busy):
                self.respond(context, .serviceUnavailable, "too many scrapes are waiting for \(host)")
            case .failure(PushProxRegistry.Failure.timedOut):
                self.respond(context, .gatewayTimeout, "\(host) did not answer within the scrape timeout")
            case .failure(let error):
                self.respond(context, .badGateway, "\(error)")
            }
        }
    }

    private func clients(context: ChannelHandlerContext) {
        guard mayScrape(context) else { return respond(context, .forbidden, "this identity may not list clients") }
        // Prometheus' file_sd / http_sd target group.
        struct TargetGroup: Encodable {
            var targets: [String]
            var labels: [String: String]
        }
        let groups = registry.clients().map { fqdn in
            TargetGroup(targets: [policy.clientsPort.map { "\(fqdn):\($0)" } ?? fqdn], labels: policy.clientsLabels)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = (try? encoder.encode(groups)) ?? Data("[]".utf8)
        respond(context, .ok, body: ByteBuffer(bytes: json), contentType: "application/json")
    }

    // MARK: Plumbing

    func channelInactive(context: ChannelHandlerContext) {
        if let poll = waitingPoll {
            waitingPoll = nil
            registry.remove(poll)
            poll.promise.fail(ChannelError.ioOnClosedChannel)
        }
        context.fireChannelInactive()
    }

    private func peerIdentity(_ context: ChannelHandlerContext) -> PeerIdentity? {
        if identityRead { return identity }
        identityRead = true
        identity = PeerIdentity(validatedPeerOf: context.pipeline.syncOperations)
        return identity
    }

    private func forward(_ response: HTTPMessageCodec.Message<HTTPResponseHead>, context: ChannelHandlerContext) {
        var head = response.head
        for name in ["connection", "keep-alive", "transfer-encoding", "content-length"] { head.headers.remove(name: name) }
        head.headers.add(name: "content-length", value: "\(response.body.readableBytes)")
        head.version = version
        head.headers.setConnection(keepAlive: keepAlive, version: version)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        let keepAlive = self.keepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ text: String, close: Bool = false) {
        respond(context, status, body: ByteBuffer(string: text.isEmpty ? "" : text + "\n"), contentType: "text/plain; charset=utf-8", close: close)
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, body: ByteBuffer, contentType: String,
                         close: Bool = false) {
        var headers = HTTPHeaders([("content-type", contentType), ("content-length", "\(body.readableBytes)")])
        let close = close || !keepAlive
        headers.setConnection(keepAlive: !close, version: version)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if close { context.close(promise: nil) }
        }
    }
}
