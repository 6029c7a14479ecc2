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

    /// The keys that hold one string, and those that hold a list of strings.
    private static var textKeys: KeyValuePairs<String, WritableKeyPath<SidecarConfigFile, String?>> {
        [
            "listen": \.listen, "upstream": \.upstream, "cert": \.cert, "key": \.key, "client_ca": \.clientCA,
            "crl": \.crl, "admin_listen": \.adminListen, "log_level": \.logLevel, "log_format": \.logFormat,
            "web_config_file": \.webConfigFile, "read_timeout": \.readTimeout,
        ]
    }
    private static var listKeys: KeyValuePairs<String, WritableKeyPath<SidecarConfigFile, [String]?>> {
        ["allow_san": \.allowSAN, "allow_path": \.allowPath]
    }

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
        let keys = Set(textKeys.map(\.key) + listKeys.map(\.key) + ["routes"])
        if let unknown = mapping.keys.sorted().first(where: { !keys.contains($0) }) {
            throw MeshCAError.invalidInput("\(path): unknown key '\(unknown)'")
        }
        func string(_ key: String, in mapping: [String: YAMLValue] = mapping, under prefix: String = "") throws -> String? {
            guard let value = mapping[key], value != .null else { return nil }
            guard let text = value.string else { throw wrongType(prefix + key) }
            return text
        }
        var file = SidecarConfigFile()
        for (key, field) in textKeys { file[keyPath: field] = try string(key) }
        for (key, field) in listKeys {
            guard let value = mapping[key], value != .null else { continue }
            guard let list = value.strings else { throw wrongType(key) }
            file[keyPath: field] = list
        }
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
        return file
    }
}
