import ArgumentParser
import MeshCA

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", _superCommandName: "certtool", abstract: "Print a certificate in human-readable form.")

    @OptionGroup var pki: PKIOptions
    @Flag(help: .json) var json = false

    @Argument(help: "Certificate name or serial (hex) in the pki, or a certificate file (PEM or DER).")
    var target: String

    func run() throws {
        let (_, chain) = try loadCertificateChain(target, pki: pki)
        let summary = CertificateSummary(chain[0])
        if json {
            try Output.json(summary)
            return
        }
        let lines: [(String, String)] = [
            ("Subject", summary.subject),
            ("Issuer", summary.issuer),
            ("Serial", summary.serial),
            ("Not before", Output.date(summary.notBefore)),
            ("Not after", Output.date(summary.notAfter)),
            ("SANs", summary.subjectAltNames.joined(separator: ", ")),
            ("Key usage", summary.keyUsage.joined(separator: ", ")),
            ("Extended key usage", summary.extendedKeyUsage.joined(separator: ", ")),
            ("CA", summary.isCA ? "yes" : "no"),
            ("Key type", summary.keyType),
            ("Signature", summary.signatureAlgorithm),
            ("SHA-256 fingerprint", summary.sha256Fingerprint),
        ]
        for (label, value) in lines {
            print(label + ":" + String(repeating: " ", count: max(0, 20 - label.count)) + value)
        }
    }
}
