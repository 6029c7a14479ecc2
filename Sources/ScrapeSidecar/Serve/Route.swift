import MeshCA

/// One listener and the plain-HTTP upstream it protects.
struct Route: Sendable {
    var listenHost: String
    var listenPort: Int
    var upstreamHost: String
    var upstreamPort: Int

    /// `HOST:PORT` (IPv6 as `[::1]:PORT`).
    static func parseAddress(_ text: String, what: String) throws -> (host: String, port: Int) {
        let fail = MeshCAError.invalidInput("invalid \(what) '\(text)': expected HOST:PORT, e.g. 127.0.0.1:9100")
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw fail }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw fail }
        return (host, port)
    }

    /// `http://HOST:PORT` (a path, if any, is ignored: the request path is kept).
    static func parseUpstream(_ text: String) throws -> (host: String, port: Int) {
        guard text.hasPrefix("http://") else {
            throw MeshCAError.invalidInput("invalid upstream '\(text)': expected http://HOST:PORT (plain HTTP on loopback)")
        }
        let authority = text.dropFirst("http://".count).prefix { $0 != "/" }
        return try parseAddress(String(authority), what: "upstream")
    }

    init(listen: String, upstream: String) throws {
        (listenHost, listenPort) = try Self.parseAddress(listen, what: "listen address")
        (upstreamHost, upstreamPort) = try Self.parseUpstream(upstream)
    }

    /// `LISTEN=UPSTREAM`, as given to `--route`.
    init(spec: String) throws {
        let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            throw MeshCAError.invalidInput("invalid route '\(spec)': expected LISTEN=UPSTREAM, e.g. 0.0.0.0:9443=http://127.0.0.1:9100")
        }
        try self.init(listen: parts[0], upstream: parts[1])
    }
}
