import ArgumentParser
import MeshCA

struct IssueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue", _superCommandName: "certtool",
        abstract: "Generate a key and issue a SAN-bearing certificate (creates the CA on first use).",
        discussion: "Writes PKI/issued/NAME.crt (leaf, then any intermediate) and PKI/private/NAME.key (PKCS#8, 0600).")

    @OptionGroup var pki: PKIOptions
    @Flag(help: .json) var json = false

    @Argument(help: "Certificate name: file name under issued/ and private/, and the subject common name.")
    var name: String

    @Option(name: .customLong("san"), help: "DNS:name, IP:addr, URI:uri or email:addr (repeatable; bare values are typed by shape).")
    var sans: [String] = []

    @Flag var profile: Profile = .server

    @Option(help: "Lifetime, e.g. 90d, 24h, 1y.")
    var validity = "90d"

    @Option(name: .customLong("key-type"), help: "ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519.")
    var keyType = KeyType.default.rawValue

    @Flag(help: "Replace a valid certificate already issued under NAME.")
    var force = false

    func run() throws {
        let request = CertificateAuthority.LeafRequest(
            name: name, subjectAltNames: try sans.map(SubjectAltName.init(parsing:)), profile: profile,
            validity: try ValidityPeriod(parsing: validity), force: force)
        let issued = try pki.authority.issue(
            request, keyType: try KeyType(parsing: keyType), createAuthority: CertificateAuthority.Setup())
        try report(issued, pki: pki, json: json)
    }
}

/// Prints what `issue` and `sign` produced.
func report(_ issued: CertificateAuthority.Issued, pki: PKIOptions, json: Bool) throws {
    if json {
        try Output.json(IssuedReport(issued, pki: pki))
        return
    }
    if let created = issued.createdAuthority {
        print("no CA in \(pki.directory) yet: created '\(created.root.certificate.subject.commonName ?? "")' (\(pki.directory)/ca.crt)")
    }
    let summary = CertificateSummary(issued.certificate)
    print("issued \(issued.name): \(pki.directory)/issued/\(issued.name).crt")
    if issued.privateKeyPEM != nil { print("  key:      \(pki.directory)/private/\(issued.name).key") }
    print("  serial:   \(summary.serial)")
    print("  SANs:     \(summary.subjectAltNames.joined(separator: ", "))")
    print("  profile:  \(summary.profile)")
    print("  expires:  \(Output.date(summary.notAfter))")
}

private struct IssuedReport: Encodable {
    var name: String
    var certificateFile: String
    var keyFile: String?
    var createdCA: Bool
    var certificate: CertificateSummary

    init(_ issued: CertificateAuthority.Issued, pki: PKIOptions) {
        name = issued.name
        certificateFile = "\(pki.directory)/issued/\(issued.name).crt"
        keyFile = issued.privateKeyPEM == nil ? nil : "\(pki.directory)/private/\(issued.name).key"
        createdCA = issued.createdAuthority != nil
        certificate = CertificateSummary(issued.certificate)
    }
}
