import MeshCA
import MeshPlatform

/// `scrape-sidecar serve --config FILE`: the command-line options as YAML (keys with underscores, lists for
/// repeatable options). Options given on the command line win; lists are joined.
///
/// ```yaml
/// routes:
///   - listen: 0.0.0.0:9443
///     upstream: http://127.0.0.1:9100
/// cert: /certs/cert-chain.pem
/// key: /certs/key.pem
/// client_ca: /certs/root-cert.pem
/// allow_san: [DNS:prometheus.monitoring.svc]
/// ```
public struct SidecarConfigFile: Sendable {
    public struct RouteEntry: Sendable {
        public var listen: String
        public var upstream: String
    }

    public var routes: [RouteEntry]?
    public var listen: String?
    public var upstream: String?
    public var cert: String?
    public var key: String?
    public var clientCA: String?
    public var crl: String?
    public var allowSAN: [String]?
    public var allowPath: [String]?
    public var adminListen: String?
    public var logLevel: String?
    public var logFormat: String?
    public var webConfigFile: String?
    public var readTimeout: String?

    static let keys: Set = [
        "routes", "listen", "upstream", "cert", "key", "crl", "client_ca", "allow_san", "allow_path", "admin_listen",
        "log_level", "log_format", "web_config_file", "read_timeout",
    ]

    /// Reads and parses the file at `path`.
    public static func load(_ path: String) throws -> SidecarConfigFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MeshCAError.invalidInput("cannot read config file '\(path)': no such file or not readable")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    /// Parses config text; `path` only names the file in error messages. Unknown keys are refused; a scalar is
    /// read as the text written, as yaml.v2 fills a string field.
    public static func parse(_ text: String, path: String) throws -> SidecarConfigFile {
        let document: YAMLValue?
        do {
            document = try YAML.load(text, resolvingScalars: false)
        } catch {
            throw MeshCAError.invalidInput("\(path) is not a valid sidecar config: \(error)")
        }
        func wrongType(_ key: String) -> MeshCAError { .invalidInput("\(path): '\(key)' has the wrong type") }
        guard let document, document != .null else { return SidecarConfigFile() }
        guard let mapping = document.mapping else {
            throw MeshCAError.invalidInput("\(path) is not a valid sidecar config: expected a mapping of options")
        }
        if let unknown = mapping.keys.sorted().first(where: { !keys.contains($0) }) {
            throw MeshCAError.invalidInput("\(path): unknown key '\(unknown)'")
        }
        func string(_ key: String, in mapping: [String: YAMLValue] = mapping, under prefix: String = "") throws -> String? {
            guard let value = mapping[key], value != .null else { return nil }
            guard let text = value.string else { throw wrongType(prefix + key) }
            return text
        }
        func strings(_ key: String) throws -> [String]? {
            guard let value = mapping[key], value != .null else { return nil }
            guard let list = value.sequence?.compactMap(\.string), list.count == value.sequence?.count else {
                throw wrongType(key)
            }
            return list
        }
        var file = SidecarConfigFile()
        if let routes = mapping["routes"], routes != .null {
            guard let entries = routes.sequence else { throw wrongType("routes") }
            file.routes = try entries.enumerated().map { index, entry in
                let at = "routes[\(index)]."
                guard let fields = entry.mapping else { throw wrongType("routes[\(index)]") }
                if let unknown = fields.keys.sorted().first(where: { $0 != "listen" && $0 != "upstream" }) {
                    throw MeshCAError.invalidInput("\(path): unknown key '\(at)\(unknown)'")
                }
                guard let listen = try string("listen", in: fields, under: at), let upstream = try string("upstream", in: fields, under: at) else {
                    throw MeshCAError.invalidInput("\(path): \(at.dropLast()) needs listen and upstream")
                }
                return RouteEntry(listen: listen, upstream: upstream)
            }
        }
        file.listen = try string("listen")
        file.upstream = try string("upstream")
        file.cert = try string("cert")
        file.key = try string("key")
        file.clientCA = try string("client_ca")
        file.crl = try string("crl")
        file.allowSAN = try strings("allow_san")
        file.allowPath = try strings("allow_path")
        file.adminListen = try string("admin_listen")
        file.logLevel = try string("log_level")
        file.logFormat = try string("log_format")
        file.webConfigFile = try string("web_config_file")
        file.readTimeout = try string("read_timeout")
        return file
    }
}
