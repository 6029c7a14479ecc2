import ArgumentParser
import MeshCA

struct CRLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crl", _superCommandName: "certtool", abstract: "Write PKI/crl.pem listing every revoked certificate (next CRL number).")

    @OptionGroup var pki: PKIOptions

    @Option(name: .customLong("next-update"), help: "How long the CRL is valid, e.g. 7d, 24h.")
    var nextUpdate = "7d"

    func run() throws {
        let (crl, number) = try pki.authority.publishCRL(nextUpdate: try ValidityPeriod(parsing: nextUpdate, option: "--next-update"))
        print("CRL #\(number) with \(crl.revokedCount) revoked certificate(s) written to \(pki.directory)/crl.pem")
    }
}
