import Foundation
import MeshCA
import MeshTLS
import Yams

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
public struct SidecarConfigFile: Decodable, Sendable {
    public struct RouteEntry: Decodable, Sendable {
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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case routes, listen, upstream, cert, key, crl
        case clientCA = "client_ca", allowSAN = "allow_san", allowPath = "allow_path", adminListen = "admin_listen"
        case logLevel = "log_level", logFormat = "log_format", webConfigFile = "web_config_file", readTimeout = "read_timeout"
    }

    /// Reads and parses the file at `path`.
    public static func load(_ path: String) throws -> SidecarConfigFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MeshCAError.invalidInput("cannot read config file '\(path)': no such file or not readable")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    /// Parses config text; `path` only names the file in error messages. Unknown keys are refused.
    public static func parse(_ text: String, path: String) throws -> SidecarConfigFile {
        do {
            if let mapping = try SafeYAML.load(text) as? [String: Any] {
                let known = Set(CodingKeys.allCases.map(\.rawValue))
                if let unknown = mapping.keys.sorted().first(where: { !known.contains($0) }) {
                    throw MeshCAError.invalidInput("\(path): unknown key '\(unknown)'")
                }
            }
            return try YAMLDecoder().decode(SidecarConfigFile.self, from: text)
        } catch let error as MeshCAError {
            throw error
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw MeshCAError.invalidInput("\(path): '\(key)' has the wrong type")
        } catch {
            throw MeshCAError.invalidInput("\(path) is not a valid sidecar config: \(error)")
        }
    }
}
