import MeshPlatform
import MeshTLS
import NIOCore
import NIOHTTP1
import NIOSSL
import X509

/// Reads one HTTP request at a time (body capped), hands it to the `EnrollmentService`, writes its answer.
final class ESTHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// A PKCS#10 request is a few KiB even with RSA-4096; anything near this limit is not a CSR.
    static let maximumBodyBytes = 64 * 1024

    private let service: EnrollmentService
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false
    /// Parsed from the TLS handler at the first request (the handshake is over by then); a connection's
    /// certificate cannot change, the server allowing no renegotiation.
    private var clientCertificate: Certificate??

    init(service: EnrollmentService) {
        self.service = service
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            tooLarge = false
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > Self.maximumBodyBytes {
                tooLarge = true
            }
        case .body(var buffer):
            guard !tooLarge else { return }
            if body.count + buffer.readableBytes > Self.maximumBodyBytes {
                tooLarge = true
                body = []
            } else {
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            }
        case .end:
            guard let head else { return }
            self.head = nil
            if tooLarge {
                write(context, .text(413, "request body too large: a CSR is at most \(Self.maximumBodyBytes) bytes"),
                      version: head.version, keepAlive: false)
                return
            }
            let request = makeRequest(head, context: context)
            let service = self.service, keepAlive = head.isKeepAlive, version = head.version
            service.respond(to: request, on: context.eventLoop).whenSuccess { response in
                self.write(context, response, version: version, keepAlive: keepAlive)
            }
        }
    }

    private func makeRequest(_ head: HTTPRequestHead, context: ChannelHandlerContext) -> ESTRequest {
        var path = head.uri
        var query: [String: String] = [:]
        // A plain path (what EST clients send) is its own path; an absolute URI, a query, a fragment or an escape
        // needs parsing.
        if head.uri.utf8.first != UInt8(ascii: "/")
            || head.uri.utf8.contains(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") || $0 == UInt8(ascii: "%") })
        {
            let components = URLComponents(string: head.uri)
            for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
            path = components?.path ?? head.uri
        }
        if clientCertificate == nil {
            let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            let der = try? handler?.peerCertificate?.toDERBytes()
            clientCertificate = .some(der.flatMap { try? Certificate(derEncoded: $0) })
        }
        return ESTRequest(
            method: head.method.rawValue, path: path, query: query,
            authorization: head.headers.first(name: "authorization"), contentType: head.headers.first(name: "content-type"),
            body: body, clientCertificate: clientCertificate ?? nil)
    }

    /// Answers in the request's HTTP version.
    private func write(_ context: ChannelHandlerContext, _ response: ESTResponse, version: HTTPVersion, keepAlive: Bool) {
        var headers = HTTPHeaders([("content-type", response.contentType), ("content-length", "\(response.body.count)")])
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        headers.setConnection(keepAlive: keepAlive, version: version)
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }
}
