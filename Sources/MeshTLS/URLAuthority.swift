/// `HOST:PORT` as a URL writes it, an IPv6 literal in brackets (`[::1]:9443`), for the "listening on" lines and
/// the listener labels of metrics.
public func urlAuthority(host: String, port: Int) -> String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
}
