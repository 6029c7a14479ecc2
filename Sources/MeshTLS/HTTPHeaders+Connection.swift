import NIOHTTP1

extension HTTPHeaders {
    /// Says whether the connection stays open after this response, in the request's HTTP version: HTTP/1.1
    /// keeps it unless told `close`; HTTP/1.0 (`ab -k`) closes unless told `keep-alive`.
    public mutating func setConnection(keepAlive: Bool, version: HTTPVersion) {
        if !keepAlive {
            replaceOrAdd(name: "connection", value: "close")
        } else if version == .http1_0 {
            replaceOrAdd(name: "connection", value: "keep-alive")
        }
    }
}
