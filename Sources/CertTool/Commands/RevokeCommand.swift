import ArgumentParser
import MeshCA

struct RevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", _superCommandName: "certtool", abstract: "Revoke a certificate by name or serial and republish the CRL.")

    @OptionGroup var pki: PKIOptions

    @Argument(help: "Certificate name or serial (hex).")
    var target: String

    @Option(help: "unspecified, keyCompromise, CACompromise, affiliationChanged, superseded, cessationOfOperation or privilegeWithdrawn.")
    var reason = RevocationReason.unspecified.opensslName

    @Option(name: .customLong("next-update"), help: "Lifetime of the republished CRL.")
    var nextUpdate = "7d"

    func run() throws {
        let reason = try RevocationReason(parsing: self.reason)
        let nextUpdate = try ValidityPeriod(parsing: nextUpdate, option: "--next-update")
        let record = try pki.authority.revoke(target, reason: reason)
        let (_, number) = try pki.authority.publishCRL(nextUpdate: nextUpdate)
        print("revoked \(target) (serial \(record.serial), reason \(reason.opensslName))")
        print("CRL #\(number) written to \(pki.directory)/crl.pem")
    }
}
