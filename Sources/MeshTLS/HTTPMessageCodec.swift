import MeshCA
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// Whole HTTP/1.1 messages as bytes — what PushProx carries in poll answers (the scrape request) and push
/// bodies (the target's response). NIOHTTP1's own encoders and decoders do the work, on an in-memory channel.
public enum HTTPMessageCodec {
    public struct Message<Head>: @unchecked Sendable {
        public var head: Head
        public var body: ByteBuffer
    }

    /// Serializes a request (with a `content-length`, never chunked) as PushProx's `Request.WriteProxy` does.
    public static func encode(_ head: HTTPRequestHead, body: ByteBuffer = ByteBuffer()) throws -> ByteBuffer {
        var head = head
        head.headers.replaceOrAdd(name: "content-length", value: "\(body.readableBytes)")
        let channel = EmbeddedChannel(handler: HTTPRequestEncoder())
        try channel.writeOutbound(HTTPClientRequestPart.head(head))
        if body.readableBytes > 0 { try channel.writeOutbound(HTTPClientRequestPart.body(.byteBuffer(body))) }
        try channel.writeOutbound(HTTPClientRequestPart.end(nil))
        return try collect(channel)
    }

    /// Serializes a response (with a `content-length`).
    public static func encode(_ head: HTTPResponseHead, body: ByteBuffer = ByteBuffer()) throws -> ByteBuffer {
        var head = head
        head.headers.remove(name: "transfer-encoding")
        head.headers.replaceOrAdd(name: "content-length", value: "\(body.readableBytes)")
        let channel = EmbeddedChannel(handler: HTTPResponseEncoder())
        try channel.writeOutbound(HTTPServerResponsePart.head(head))
        if body.readableBytes > 0 { try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(body))) }
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        return try collect(channel)
    }

    public static func decodeRequest(_ bytes: ByteBuffer) throws -> Message<HTTPRequestHead> {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder()))
        defer { _ = try? channel.finish() }
        try channel.writeInbound(bytes)
        var head: HTTPRequestHead?
        var body = ByteBuffer()
        while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let value): head = value
            case .body(var chunk): body.writeBuffer(&chunk)
            case .end: if let head { return Message(head: head, body: body) }
            }
        }
        throw MeshCAError.invalidInput("not a whole HTTP request")
    }

    /// `method` is the request the response answers (a HEAD response has no body).
    public static func decodeResponse(_ bytes: ByteBuffer, to method: HTTPMethod = .GET) throws -> Message<HTTPResponseHead> {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPResponseDecoder()))
        defer { _ = try? channel.finish() }
        // The decoder pairs each response with a request it saw go out.
        try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: "/")))
        try channel.writeInbound(bytes)
        var head: HTTPResponseHead?
        var body = ByteBuffer()
        while let part = try channel.readInbound(as: HTTPClientResponsePart.self) {
            switch part {
            case .head(let value): head = value
            case .body(var chunk): body.writeBuffer(&chunk)
            case .end: if let head { return Message(head: head, body: body) }
            }
        }
        throw MeshCAError.invalidInput("not a whole HTTP response")
    }

    private static func collect(_ channel: EmbeddedChannel) throws -> ByteBuffer {
        var out = ByteBuffer()
        while let part = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(var buffer) = part { out.writeBuffer(&buffer) }
        }
        _ = try channel.finish()
        return out
    }
}
