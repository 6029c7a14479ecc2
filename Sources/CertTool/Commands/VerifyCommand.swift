import ArgumentParser
import MeshCA
import MeshPlatform

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", _superCommandName: "certtool",
        abstract: "Check a certificate against the pki's CA: chain, validity, revocation, purpose and name.",
        discussion: "Exits 0 when the certificate is valid, 1 when it is not (with the reason), 2 on bad input.")

    @OptionGroup var pki: PKIOptions

    @Argument(help: "Certificate name or serial (hex) in the pki, or a certificate file (PEM or DER, chain allowed).")
    var target: String

    @Option(name: .customLong("server-name"), help: "Host name or IP address the certificate must be valid for.")
    var serverName: String?

    @Option(help: "server or client: require the matching extended key usage.")
    var purpose: String?

    @Option(help: "Verify as of this time (ISO 8601, e.g. 2030-01-01T00:00:00Z) instead of now.")
    var at: String?

    func run() async throws {
        let purpose = try purpose.map { text in
            guard let value = Purpose(rawValue: text) else {
                throw MeshCAError.invalidInput("unknown purpose '\(text)': use server or client")
            }
            return value
        }
        let time = try at.map { text in
            guard let date = try? Date(text, strategy: .iso8601) else {
                throw MeshCAError.invalidInput("invalid time '\(text)' for --at: use ISO 8601, e.g. 2030-01-01T00:00:00Z")
            }
            return date
        } ?? Date()
        let (label, chain) = try loadCertificateChain(target, pki: pki)
        let material = try pki.authority.loadAuthority()
        let verification = ChainVerification(
            roots: [material.root.certificate], intermediates: Array(chain.dropFirst()) + material.chain,
            revokedSerials: try pki.authority.revokedSerials(), purpose: purpose, serverName: serverName,
            time: time)
        do {
            let validated = try await verification.verify(chain[0])
            let path = validated.map { $0.subject.commonName ?? $0.subject.rfc4514 }.joined(separator: " → ")
            print("\(label): OK (\(path); valid until \(Output.date(chain[0].notValidAfter)))")
        } catch let error as MeshCAError {
            print("\(label): FAILED: \(error)")
            throw ExitCode(1)
        }
    }
}
