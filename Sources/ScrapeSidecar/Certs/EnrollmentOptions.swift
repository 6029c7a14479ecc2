import ArgumentParser
import MeshCA
import MeshPlatform
import MeshTLS

/// How an agent gets and renews its identity from `certtool serve`; shared by `certs` and `serve`.
struct EnrollmentOptions: ParsableArguments {
    @Option(name: .customLong("ca-url"), help: "The CA server, https://HOST:PORT.")
    var caURL: String?

    @Option(name: .customLong("ca-bundle"), help: "CA certificate(s) that verify the CA server (PEM).")
    var caBundle: String?

    @Option(help: "File holding the one-time enrollment token (from certtool token).")
    var token: String?

    @Option(name: .customLong("token-env"), help: "Environment variable holding the enrollment token.")
    var tokenEnv: String?

    @Option(name: .customLong("san"), help: "SAN to ask for (DNS:, IP:, URI:, email:), repeatable.")
    var sans: [String] = []

    @Flag(help: "Profile to ask for (default: client for certs, server for serve).")
    var profile: Profile?

    @Option(help: "Directory for root-cert.pem, cert-chain.pem and key.pem.")
    var out: String?

    @Option(name: .customLong("key-mode"), help: "Mode of key.pem: 0600 (default) or 0644 for a reader with another uid.")
    var keyMode = "0600"

    @Option(help: "Certificate lifetime to ask the CA for, e.g. 24h (default: the CA's).")
    var validity: String?

    @Flag(name: .customLong("rotate-key"), help: "Generate a new key at every renewal (default: renew for the same key, so a reader never sees a mismatched pair).")
    var rotateKey = false

    var isEnrolling: Bool { caURL != nil }

    /// Builds the agent's settings, or explains what is missing.
    func agentSettings(defaultProfile: Profile, defaultSANs: [String] = []) throws -> CertAgent.Settings {
        let sans = self.sans.isEmpty ? defaultSANs : self.sans
        guard let caURL else { throw MeshCAError.invalidInput("give --ca-url https://HOST:PORT") }
        guard caURL.hasPrefix("https://") else { throw MeshCAError.invalidInput("--ca-url must be https://HOST:PORT, not '\(caURL)'") }
        guard let caBundle else { throw MeshCAError.invalidInput("give --ca-bundle FILE: the CA certificate that verifies \(caURL)") }
        guard FileManager.default.isReadableFile(atPath: caBundle) else {
            throw MeshCAError.invalidInput("cannot read --ca-bundle '\(caBundle)'")
        }
        guard let out else { throw MeshCAError.invalidInput("give --out DIR for root-cert.pem, cert-chain.pem and key.pem") }
        guard !sans.isEmpty else { throw MeshCAError.invalidInput("give at least one --san to ask for") }
        guard token == nil || tokenEnv == nil else { throw MeshCAError.invalidInput("give --token or --token-env, not both") }
        let mode: mode_t
        switch keyMode {
        case "0600", "600": mode = 0o600
        case "0644", "644": mode = 0o644
        case "0640", "640": mode = 0o640
        default: throw MeshCAError.invalidInput("invalid --key-mode '\(keyMode)': use 0600, 0640 or 0644")
        }
        if let validity { _ = try ValidityPeriod(parsing: validity) }
        let tokenSource: CertAgent.TokenSource?
        if let token {
            tokenSource = .file(token)
        } else if let tokenEnv {
            tokenSource = .environment(tokenEnv)
        } else {
            tokenSource = nil
        }
        return CertAgent.Settings(
            client: ESTClient(baseURL: caURL, caBundle: caBundle, validity: validity),
            token: tokenSource, subjectAltNames: try sans.map(SubjectAltName.init(parsing:)),
            profile: profile ?? defaultProfile, output: OutputDirectory(path: out, keyMode: mode), rotateKey: rotateKey)
    }
}
