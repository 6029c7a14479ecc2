import ArgumentParser
import MeshCA
import MeshPlatform

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", _superCommandName: "certtool",
        abstract: "Print a one-time enrollment token for certtool serve (EST simpleenroll).",
        discussion: """
            The token is a JWT signed by the pki's provisioner key (private/provisioner.key, created on first use). \
            It grants exactly the given SANs and profile; the CA redeems it once.
            """)

    @OptionGroup var pki: PKIOptions
    @Flag(help: .json) var json = false

    @Option(name: .customLong("san"), help: "DNS:name, IP:addr, URI:uri or email:addr the certificate may carry (repeatable).")
    var sans: [String] = []

    @Flag var profile: Profile = .server

    @Option(help: "How long the token can be redeemed, e.g. 10m, 1h.")
    var ttl = "10m"

    @Option(help: "Name to store the certificate under (default: the first DNS SAN).")
    var name: String?

    func run() async throws {
        guard !sans.isEmpty else { throw MeshCAError.invalidInput("a token must grant at least one SAN: give --san") }
        let grant = EnrollmentGrant(
            subjectAltNames: try sans.map(SubjectAltName.init(parsing:)), profile: profile, name: name)
        try CertificateAuthority.validate(name: grant.certificateName)
        let ttl = try ValidityPeriod(parsing: ttl, option: "--ttl")
        let provisioner = try pki.authority.provisioner(create: true)
        let now = Date()
        let token = try await provisioner.token(for: grant, ttl: ttl.seconds, now: now)
        if json {
            try Output.json(TokenReport(
                token: token, expires: now + ttl.seconds, sans: grant.subjectAltNames.map(\.description),
                profile: grant.profile.rawValue, name: grant.certificateName))
        } else {
            print(token)
        }
    }
}

private struct TokenReport: Encodable {
    var token: String
    var expires: Date
    var sans: [String]
    var profile: String
    var name: String
}
