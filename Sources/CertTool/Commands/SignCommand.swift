import ArgumentParser
import MeshCA

struct SignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign", _superCommandName: "certtool", abstract: "Sign a PKCS#10 certificate request (PEM or DER) after verifying its signature.")

    @OptionGroup var pki: PKIOptions
    @Flag(help: .json) var json = false

    @Argument(help: "The certificate request file.")
    var request: String

    @Option(help: "Name to file the certificate under (default: the request's common name).")
    var name: String?

    @Option(name: .customLong("san"), help: "Replace the requested SANs (repeatable).")
    var sans: [String] = []

    @Flag var profile: Profile = .server

    @Option(help: "Lifetime, e.g. 90d, 24h, 1y.")
    var validity = "90d"

    @Flag(help: "Replace a valid certificate already issued under the name.")
    var force = false

    func run() throws {
        let overrides = CertificateAuthority.LeafRequest(
            name: name ?? "", subjectAltNames: try sans.map(SubjectAltName.init(parsing:)), profile: profile,
            validity: try ValidityPeriod(parsing: validity), force: force)
        let csr = try CertificateRequestFile.parse(try readInputFile(request, what: "certificate request"), source: request)
        let issued = try pki.authority.sign(csr, name: name, overriding: overrides)
        try report(issued, pki: pki, json: json)
    }
}
