import Logging
import MeshPlatform
import MeshTLS
import NIOCore
import NIOHTTP1
import NIOSSL
import Prometheus
import X509

/// What a listener lets through, and how long it waits for the upstream.
struct AccessPolicy: Sendable {
    var allowedSANs: SANAllowList
    /// Exact request paths (query ignored) that may be proxied; nil lets every path through (the front).
    var allowedPaths: Set<String>?
    /// False only for client auth modes that let clients in without a verified certificate.
    var requireIdentity = true
    /// Upstream deadline when the request carries no `X-Prometheus-Scrape-Timeout-Seconds`. The front sets
    /// minutes: a PushProx poll waits until a scrape arrives.
    var defaultTimeout: TimeAmount = .seconds(30)
    /// Largest request body; more gets 413 (scrapes have none, PushProx pushes carry whole scrape results).
    var maxRequestBody = 1 << 20
    /// The front also sends nginx's `X-SSL-Client-Verify` and `X-SSL-Client-S-DN`.
    var nginxIdentityHeaders = false
    /// The front's FQDN binding: a `POST /poll` reaches the upstream only when its body (the FQDN) is one of
    /// the client certificate's DNS SANs.
    var bindPollFQDN = false
}

/// Terminates one client connection's HTTP requests after TLS: checks identity and path, then streams the
/// request to a pooled upstream connection and the response back, with backpressure both ways.
final class ScrapeProxyHandler: ChannelInboundHandler, RemovableChannelHandler, UpstreamResponseDelegate {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// Refusing this request: drop its body, answer at its end.
        case refusing(HTTPResponseStatus, String)
        /// A poll held back until its body (the FQDN) is checked against the client certificate.
        case collectingPoll(head: HTTPRequestHead, body: ByteBuffer)
        /// Waiting for an upstream connection; request parts are buffered.
        case connecting(pending: [HTTPClientRequestPart], ended: Bool)
        case forwarding(upstream: Channel, requestEnded: Bool, responseStarted: Bool)
    }

    private let policy: AccessPolicy
    private let pools: UpstreamPools
    private let logger: Logger
    private let metrics: SidecarMetrics
    private let listener: String
    private let inFlight: InFlightRequests
    private var state = State.idle {
        didSet {
            // Every way a request ends passes through .idle.
            if case .idle = state, requestOpen {
                requestOpen = false
                inFlight.end()
            }
        }
    }
    private var requestOpen = false
    private var identity: PeerIdentity?
    /// Body bytes of the current request, against `policy.maxRequestBody`.
    private var requestBodyBytes = 0
    /// Computed once per connection: the identity does not change between keep-alive requests.
    private lazy var forwardedClientCert = identity.map(IdentityHeaders.xfcc)
    private var nginxHeaders: [(String, String)]?
    private var keepAlive = true
    private var requestVersion = HTTPVersion.http1_1
    private var timeout: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    private var requestStart = NIODeadline.now()
    /// Metric objects this connection has used, so a keep-alive scrape does not look them up again.
    private var requestCounters: [UInt: Counter] = [:]
    private lazy var latency = metrics.upstreamLatency(listener: listener)

    init(policy: AccessPolicy, pools: UpstreamPools, metrics: SidecarMetrics, listener: String,
         inFlight: InFlightRequests, logger: Logger) {
        self.inFlight = inFlight
        self.policy = policy
        self.pools = pools
        self.metrics = metrics
        self.listener = listener
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            startRequest(head, context: context)
        case .body(var buffer):
            requestBodyBytes += buffer.readableBytes
            if requestBodyBytes > policy.maxRequestBody {
                tooLarge(context: context)
                return
            }
            switch state {
            case .collectingPoll(let head, var body):
                guard body.readableBytes + buffer.readableBytes <= PushProxPolicy.maximumFQDNBytes + 2 else {
                    state = .refusing(.payloadTooLarge, "a poll body is one FQDN, at most \(PushProxPolicy.maximumFQDNBytes) bytes")
                    return
                }
                body.writeBuffer(&buffer)
                state = .collectingPoll(head: head, body: body)
            case .connecting(var pending, let ended):
                pending.append(.body(.byteBuffer(buffer)))
                state = .connecting(pending: pending, ended: ended)
            case .forwarding(let upstream, _, _):
                upstream.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
            case .idle, .refusing:
                break
            }
        case .end:
            switch state {
            case .refusing(let status, let reason):
                respond(status, reason, context: context)
            case .collectingPoll(let head, let body):
                let fqdn = String(buffer: body).trimming(while: \.isWhitespace).lowercased()
                let names = Set((identity?.dnsNames ?? []).map { $0.lowercased() })
                guard names.contains(fqdn) else {
                    respond(.forbidden, "the client certificate does not carry DNS:\(fqdn): polls for it are refused", context: context)
                    return
                }
                connectUpstream(pending: [.head(head), .body(.byteBuffer(body)), .end(nil)], ended: true,
                                deadline: upstreamDeadline(head), context: context)
            case .connecting(var pending, _):
                pending.append(.end(nil))
                state = .connecting(pending: pending, ended: true)
            case .forwarding(let upstream, _, let started):
                upstream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                state = .forwarding(upstream: upstream, requestEnded: true, responseStarted: started)
            case .idle:
                break
            }
        }
    }

    /// Over `maxRequestBody`: 413 if nothing was answered yet, and the connection closes either way (the rest
    /// of the body is not read).
    private func tooLarge(context: ChannelHandlerContext) {
        keepAlive = false
        let reason = "request body larger than \(policy.maxRequestBody) bytes"
        switch state {
        case .forwarding(let upstream, _, true):
            detach(upstream)
            state = .idle
            context.close(promise: nil)
        case .forwarding(let upstream, _, false):
            detach(upstream)
            timeout?.cancel()
            respond(.payloadTooLarge, reason, context: context)
        case .connecting, .collectingPoll, .refusing:
            timeout?.cancel()
            respond(.payloadTooLarge, reason, context: context)
        case .idle:
            break
        }
    }

    private func startRequest(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        requestOpen = true
        inFlight.begin()
        keepAlive = head.isKeepAlive && !inFlight.draining
        requestVersion = head.version == .http1_0 ? .http1_0 : .http1_1
        requestStart = .now()
        requestBodyBytes = 0
        let path = String(head.uri.prefix { $0 != "?" })
        let identity = peerIdentity(context: context)
        if identity == nil && policy.requireIdentity {
            state = .refusing(.forbidden, "no verified client certificate")
            return
        }
        if let declared = head.headers.first(name: "content-length").flatMap(Int.init), declared > policy.maxRequestBody {
            keepAlive = false
            state = .refusing(.payloadTooLarge, "request body larger than \(policy.maxRequestBody) bytes")
            return
        }
        guard policy.allowedPaths?.contains(path) ?? true else {
            state = .refusing(.forbidden, "path \(path) is not allowed")
            return
        }
        if let identity, !policy.allowedSANs.allowsEveryone, policy.allowedSANs.match(identity) == nil {
            let names = identity.subjectAltNames.map(\.description).joined(separator: ", ")
            state = .refusing(.forbidden, "client identity [\(names)] is not allowed")
            return
        }

        var upstreamHead = head
        for name in Self.removedFromRequests { upstreamHead.headers.remove(name: name) }
        if let forwardedClientCert {
            upstreamHead.headers.add(name: "x-forwarded-client-cert", value: forwardedClientCert)
        }
        if policy.nginxIdentityHeaders { addNginxIdentityHeaders(&upstreamHead.headers, context: context) }
        upstreamHead.version = .http1_1
        if !upstreamHead.headers.contains(name: "host") {  // HTTP/1.0 clients may omit it; HTTP/1.1 requires it
            upstreamHead.headers.add(name: "host", value: "\(pools.host):\(pools.port)")
        }
        if policy.bindPollFQDN && head.method == .POST && path == "/poll" {
            state = .collectingPoll(head: upstreamHead, body: context.channel.allocator.buffer(capacity: 64))
            return
        }
        connectUpstream(pending: [.head(upstreamHead)], ended: false, deadline: upstreamDeadline(head), context: context)
    }

    /// `X-Prometheus-Scrape-Timeout-Seconds` when the request carries it, else the policy's default.
    private func upstreamDeadline(_ head: HTTPRequestHead) -> TimeAmount {
        let seconds = head.headers.first(name: "x-prometheus-scrape-timeout-seconds").flatMap(Double.init)
        return seconds.map { TimeAmount.milliseconds(Int64($0 * 1000)) } ?? policy.defaultTimeout
    }

    /// Starts the upstream deadline and asks the pool for a connection; `pending` goes out once connected.
    private func connectUpstream(pending: [HTTPClientRequestPart], ended: Bool, deadline: TimeAmount, context: ChannelHandlerContext) {
        state = .connecting(pending: pending, ended: ended)
        timeout = context.eventLoop.scheduleTask(in: deadline) { [weak self] in self?.upstreamTimedOut() }

        pools.pool(for: context.eventLoop).acquire().whenComplete { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let upstream): self.connected(upstream)
            case .failure(let error): self.upstreamFailed(error)
            }
        }
    }

    private func connected(_ upstream: Channel) {
        guard case .connecting(let pending, let ended) = state, context != nil else {
            pools.pool(for: upstream.eventLoop).release(upstream)
            return
        }
        guard let responseHandler = try? upstream.pipeline.syncOperations.handler(type: UpstreamResponseHandler.self) else {
            upstream.close(promise: nil)
            upstreamFailed(ChannelError.ioOnClosedChannel)
            return
        }
        responseHandler.delegate = self
        state = .forwarding(upstream: upstream, requestEnded: ended, responseStarted: false)
        for part in pending { upstream.write(part, promise: nil) }
        upstream.flush()
    }

    // MARK: UpstreamResponseDelegate

    func upstreamHead(_ head: HTTPResponseHead) {
        guard case .forwarding(let upstream, let ended, _) = state, let context else { return }
        timeout?.cancel()
        timeout = nil
        var head = head
        for name in Self.hopByHop { head.headers.remove(name: name) }
        if inFlight.draining { keepAlive = false }
        // An HTTP/1.0 client cannot read chunked bodies: without a length, the end of the body is the close.
        if requestVersion == .http1_0 && !head.headers.contains(name: "content-length") { keepAlive = false }
        head.version = requestVersion
        head.headers.setConnection(keepAlive: keepAlive, version: requestVersion)
        latency.record(Double((NIODeadline.now() - requestStart).nanoseconds) / 1e9)
        countRequest(head.status)
        state = .forwarding(upstream: upstream, requestEnded: ended, responseStarted: true)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
    }

    func upstreamBody(_ buffer: ByteBuffer) {
        guard case .forwarding = state, let context else { return }
        // Flushed in upstreamReadComplete: one TLS record and one syscall per upstream read, not per part.
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
    }

    func upstreamReadComplete() {
        guard case .forwarding(let upstream, _, true) = state, let context else { return }
        context.flush()
        // Backpressure: stop reading the upstream while the client cannot keep up.
        if !context.channel.isWritable { _ = upstream.setOption(.autoRead, value: false) }
    }

    func upstreamEnd(reusable: Bool) {
        guard case .forwarding(let upstream, let requestEnded, _) = state, let context else { return }
        state = .idle
        if reusable && requestEnded {
            pools.pool(for: upstream.eventLoop).release(upstream)
        } else {
            upstream.close(promise: nil)
        }
        let keepAlive = self.keepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    func upstreamFailed(_ error: Error) {
        timeout?.cancel()
        timeout = nil
        guard let context else { return }
        switch state {
        case .connecting(_, let ended), .forwarding(_, let ended, false):
            if case .forwarding(let upstream, _, _) = state { detach(upstream) }
            logger.warning("upstream failed", metadata: ["listener": "\(listener)", "error": "\(error)"])
            if ended {
                respond(.badGateway, "upstream unavailable: \(error)", context: context)
            } else {
                state = .refusing(.badGateway, "upstream unavailable: \(error)")
            }
        case .forwarding(let upstream, _, true):
            // The response already started: all that can be done is to cut the connection.
            detach(upstream)
            state = .idle
            context.close(promise: nil)
        case .idle, .refusing, .collectingPoll:
            break
        }
    }

    private func upstreamTimedOut() {
        timeout = nil
        guard let context else { return }
        switch state {
        case .connecting, .forwarding(_, _, false):
            if case .forwarding(let upstream, _, _) = state { detach(upstream) }
            state = .idle
            keepAlive = false
            respond(.gatewayTimeout, "upstream did not answer within the scrape timeout", context: context)
        default:
            break
        }
    }

    // MARK: Client connection

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .forwarding(let upstream, _, _) = state {
            _ = upstream.setOption(.autoRead, value: true)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        if case .forwarding(let upstream, _, _) = state { detach(upstream) }
        state = .idle
        context.fireChannelInactive()
    }

    /// Closes an upstream connection without hearing back from it: closing runs its `channelInactive`
    /// synchronously, which would otherwise report a failure for a request already answered.
    private func detach(_ upstream: Channel) {
        (try? upstream.pipeline.syncOperations.handler(type: UpstreamResponseHandler.self))?.delegate = nil
        upstream.close(promise: nil)
    }

    private func countRequest(_ status: HTTPResponseStatus) {
        if let counter = requestCounters[status.code] { return counter.increment() }
        let counter = metrics.requests(listener: listener, code: Int(status.code))
        requestCounters[status.code] = counter
        counter.increment()
    }

    /// A one-line text response (refusals and gateway errors).
    private func respond(_ status: HTTPResponseStatus, _ reason: String, context: ChannelHandlerContext) {
        state = .idle
        countRequest(status)
        if status == .forbidden {
            logger.info("refused", metadata: ["listener": "\(listener)", "reason": "\(reason)"])
        }
        var body = context.channel.allocator.buffer(capacity: reason.utf8.count + 1)
        body.writeString(reason + "\n")
        var headers = HTTPHeaders([("content-type", "text/plain; charset=utf-8"), ("content-length", "\(body.readableBytes)")])
        headers.setConnection(keepAlive: keepAlive, version: requestVersion)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: requestVersion, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let keepAlive = self.keepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    /// nginx's `$ssl_client_verify` and `$ssl_client_s_dn`: SUCCESS with a verified certificate, FAILED when
    /// one was presented but not verified (`--verify-client optional_no_ca`), NONE without one.
    /// Worked out once per connection, like the identity: the peer does not change between requests.
    private func addNginxIdentityHeaders(_ headers: inout HTTPHeaders, context: ChannelHandlerContext) {
        if nginxHeaders == nil {
            if let identity {
                nginxHeaders = [("x-ssl-client-verify", "SUCCESS"), ("x-ssl-client-s-dn", identity.subject)]
            } else if let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
                let presented = handler.peerCertificate
            {
                nginxHeaders = [("x-ssl-client-verify", "FAILED:certificate not verified")]
                if let certificate = try? Certificate(derEncoded: presented.toDERBytes()) {
                    nginxHeaders?.append(("x-ssl-client-s-dn", certificate.subject.rfc4514))
                }
            } else {
                nginxHeaders = [("x-ssl-client-verify", "NONE")]
            }
        }
        headers.add(contentsOf: nginxHeaders ?? [])
    }

    /// The verified client identity, read once per connection from the TLS handler.
    private func peerIdentity(context: ChannelHandlerContext) -> PeerIdentity? {
        if let identity { return identity }
        identity = PeerIdentity(validatedPeerOf: context.pipeline.syncOperations)
        return identity
    }

    private static let hopByHop = ["connection", "keep-alive", "proxy-connection", "te", "upgrade", "proxy-authorization"]
    private static let removedFromRequests = IdentityHeaders.reserved + hopByHop
}
