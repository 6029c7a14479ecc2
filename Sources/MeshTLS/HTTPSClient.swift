import MeshCA
import MeshPlatform
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A small HTTP client for the requests our agents make (enroll, renew, PushProx polls and pushes, scrapes of
/// a loopback target): one request per connection; over HTTPS the server is verified against a CA bundle (name
/// or IP SAN) and a client certificate is presented when configured; a deadline and a response size cap.
/// Parsing is NIOHTTP1's.
public struct HTTPSClient: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public var text: String { String(String(decoding: body, as: UTF8.self).trimming(while: \.isWhitespace)) }
        public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    }

    public enum Failure: Error, CustomStringConvertible {
        case invalidURL(String)
        case unreachable(String)
        case timedOut(String)
        case responseTooLarge(Int)

        public var description: String {
            switch self {
            case .invalidURL(let url): return "invalid URL '\(url)': use https://HOST:PORT (http:// for a plain client)"
            case .unreachable(let reason): return reason
            case .timedOut(let url): return "no answer from \(url) in time"
            case .responseTooLarge(let limit): return "the response is larger than \(limit) bytes"
            }
        }
    }

    let group: any EventLoopGroup
    /// nil: plain `http://` only.
    let tlsContext: NIOSSLContext?
    public var timeout: TimeAmount = .seconds(30)
    public var maximumResponseBytes = 4 << 20

    /// `caBundle` verifies the server; `certificate`/`key` (files) are presented when the server asks.
    public init(group: any EventLoopGroup, caBundle: String, certificate: String? = nil, key: String? = nil) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuiteValues = ServerTLS.aeadCipherSuites
        configuration.trustRoots = .certificates(try TLSFiles.certificateChain(caBundle))
        if let certificate, let key {
            configuration.certificateChain = try TLSFiles.certificateChain(certificate).map { .certificate($0) }
            configuration.privateKey = .privateKey(try TLSFiles.privateKey(key))
        }
        self.group = group
        self.tlsContext = try NIOSSLContext(configuration: configuration)
    }

    /// A client for plain `http://` URLs (a target on loopback).
    public init(plainHTTPOn group: any EventLoopGroup) {
        self.group = group
        self.tlsContext = nil
    }

    /// `onConnected` runs once the connection (and TLS handshake) is up, before the answer: a long poll's
    /// caller learns that the server is reachable while the answer is still pending.
    public func request(
        _ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: [UInt8] = [],
        onConnected: (@Sendable () -> Void)? = nil
    ) async throws -> Response {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty,
            components.scheme == (tlsContext == nil ? "http" : "https")
        else { throw Failure.invalidURL(url) }
        let port = components.port ?? (tlsContext == nil ? 80 : 443)
        var path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { path += "?\(query)" }
        let serverName = IPAddress(host) == nil ? host : nil
        let tlsContext = self.tlsContext, limit = maximumResponseBytes
        let responsePromise = group.next().makePromise(of: Response.self)

        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        if let tlsContext {
                            try pipeline.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                        }
                        try pipeline.addHTTPClientHandlers()
                        try pipeline.addHandler(ResponseCollector(promise: responsePromise, limit: limit))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            responsePromise.fail(error)
            throw Failure.unreachable("cannot connect to \(host):\(port): \(error)")
        }
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            responsePromise.fail(Failure.timedOut(url))
            channel.close(promise: nil)
        }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }

        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "host", value: components.port.map { "\(host):\($0)" } ?? host)
        head.headers.add(name: "content-length", value: "\(body.count)")
        head.headers.add(name: "connection", value: "close")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if !body.isEmpty { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil)).whenSuccess { onConnected?() }
        do {
            return try await responsePromise.futureResult.get()
        } catch let error as Failure {
            throw error
        } catch {
            throw Failure.unreachable("request to \(url) failed: \(error)")
        }
    }
}

/// Collects one response and completes the promise; a connection that ends early fails it.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<HTTPSClient.Response>
    private let limit: Int
    private var response = HTTPSClient.Response(status: 0, headers: [], body: [])
    private var completed = false

    init(promise: EventLoopPromise<HTTPSClient.Response>, limit: Int) {
        self.promise = promise
        self.limit = limit
    }

    private func complete(_ result: Result<HTTPSClient.Response, any Error>) {
        guard !completed else { return }
        completed = true
        promise.completeWith(result)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            response.status = Int(head.status.code)
            response.headers = head.headers.map { ($0.name, $0.value) }
        case .body(var buffer):
            guard response.body.count + buffer.readableBytes <= limit else {
                complete(.failure(HTTPSClient.Failure.responseTooLarge(limit)))
                context.close(promise: nil)
                return
            }
            response.body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            complete(.success(response))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        complete(.failure(HTTPSClient.Failure.unreachable("the server closed the connection before answering")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        complete(.failure(error))
        context.close(promise: nil)
    }
}
