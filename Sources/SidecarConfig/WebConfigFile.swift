import MeshCA
import MeshTLS
import NIOSSL

/// Prometheus exporter-toolkit's web configuration file (`--web.config.file`), so an exporter's TLS settings
/// move to the sidecar unchanged. Read with the toolkit's semantics: unknown keys are errors, relative paths
/// are relative to the file, `client_auth_type` defaults to `NoClientCert`. MeshCA's floor still holds: TLS 1.2
/// or newer and AEAD cipher suites only.
public enum WebConfigFile {
    static let tlsKeys: Set<String> = [
        "cert_file", "key_file", "client_auth_type", "client_ca_file", "client_allowed_sans", "min_version",
        "max_version", "cipher_suites", "curve_preferences", "prefer_server_cipher_suites",
    ]

    public static func load(_ path: String) throws -> ServerTLS {
        try parse(String(decoding: try TLSFiles.read(path, what: "web config file"), as: UTF8.self), path: path)
    }

    /// Parses a web config's text; `path` names it in errors and anchors its relative file paths.
    public static func parse(_ text: String, path: String) throws -> ServerTLS {
        func fail(_ why: String) -> MeshCAError { .invalidInput("\(path): \(why)") }
        let document: YAMLValue?
        do {
            document = try YAML.load(text, resolvingScalars: false)
        } catch {
            throw fail("not valid YAML (\(error))")
        }
        guard let root = document?.mapping else { throw fail("expected a mapping with tls_server_config") }
        for key in root.keys.sorted() where !["tls_server_config", "http_server_config", "basic_auth_users"].contains(key) {
            throw fail("unknown key '\(key)'")
        }
        if root["basic_auth_users"] != nil {
            throw fail("basic_auth_users is not supported by the sidecar: clients authenticate with certificates")
        }
        guard let tls = root["tls_server_config"]?.mapping else { throw fail("tls_server_config is missing") }
        for key in tls.keys.sorted() where !tlsKeys.contains(key) { throw fail("unknown key 'tls_server_config.\(key)'") }

        let directory = path.lastIndex(of: "/").map { path[..<$0] }
        func string(_ key: String) throws -> String? {
            guard let value = tls[key], value != .null else { return nil }
            guard let text = value.string else { throw fail("tls_server_config.\(key) must be a string") }
            return text
        }
        func strings(_ key: String) throws -> [String] {
            guard let value = tls[key], value != .null else { return [] }
            guard let list = value.strings else { throw fail("tls_server_config.\(key) must be a list of strings") }
            return list
        }
        func file(_ key: String) throws -> String? {
            try string(key).map { name in name.hasPrefix("/") ? name : directory.map { "\($0)/\(name)" } ?? name }
        }
        guard let certificate = try file("cert_file"), let key = try file("key_file") else {
            throw fail("tls_server_config needs cert_file and key_file")
        }
        var settings = ServerTLS(certificate: certificate, key: key, clientCA: try file("client_ca_file"))
        if let type = try string("client_auth_type") {
            guard let parsed = ClientAuthType(rawValue: type) else {
                throw fail("unknown client_auth_type '\(type)': use one of \(ClientAuthType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            settings.clientAuth = parsed
        } else {
            settings.clientAuth = .noClientCert
        }
        settings.handshakeAllowedSANs = try strings("client_allowed_sans")
        if let version = try string("min_version") { settings.minimumVersion = try tlsVersion(version, fail: fail) }
        if let version = try string("max_version") { settings.maximumVersion = try tlsVersion(version, fail: fail) }
        func lookup<Value>(_ key: String, in table: [String: Value], _ why: (String) -> String) throws -> [Value]? {
            let names = try strings(key)
            guard !names.isEmpty else { return nil }
            return try names.map { name in
                guard let value = table[name] else { throw fail(why(name)) }
                return value
            }
        }
        if let suites = try lookup("cipher_suites", in: aeadSuites, {
            "cipher suite '\($0)' is not allowed: use an ECDHE AEAD suite (AES-GCM or CHACHA20-POLY1305)"
        }) { settings.cipherSuites = suites }
        settings.curves = try lookup("curve_preferences", in: curveNames, {
            "unknown curve '\($0)': use CurveP256, CurveP384, CurveP521 or X25519"
        })
        do {
            try settings.validate()
        } catch let error as MeshCAError {
            throw fail(error.description)
        }
        return settings
    }

    private static func tlsVersion(_ name: String, fail: (String) -> MeshCAError) throws -> TLSVersion {
        switch name {
        case "TLS12": return .tlsv12
        case "TLS13": return .tlsv13
        case "TLS10", "TLS11": throw fail("\(name) is not allowed: MeshCA listeners require TLS12 or TLS13")
        default: throw fail("unknown TLS version '\(name)': use TLS12 or TLS13")
        }
    }

    /// Go's names for the suites MeshCA allows.
    static let aeadSuites: [String: NIOTLSCipher] = [
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    static let curveNames: [String: NIOTLSCurve] = [
        "CurveP256": .secp256r1, "CurveP384": .secp384r1, "CurveP521": .secp521r1, "X25519": .x25519,
    ]
}
