import ArgumentParser
import MeshCA

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", _superCommandName: "certtool", abstract: "Create the CA: a root key and certificate, optionally an intermediate.")

    @OptionGroup var pki: PKIOptions
    @Flag(help: .json) var json = false

    @Option(help: "Common name of the root CA.")
    var name = "MeshCA Root CA"

    @Option(name: .customLong("key-type"), help: "ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519.")
    var keyType = KeyType.default.rawValue

    @Option(help: "Root lifetime, e.g. 10y (an intermediate gets half).")
    var validity = "10y"

    @Flag(help: "Also create an intermediate CA that signs all certificates and CRLs.")
    var intermediate = false

    @Flag(name: .customLong("encrypt-key"), help: "Store the CA keys as encrypted PKCS#8 (passphrase from --passphrase-file, --passphrase-env or a prompt).")
    var encryptKey = false

    func run() throws {
        let setup = CertificateAuthority.Setup(
            commonName: name, keyType: try KeyType(parsing: keyType),
            validity: try ValidityPeriod(parsing: validity), intermediate: intermediate)
        if encryptKey && pki.passphrase() == nil {
            throw MeshCAError.invalidInput("--encrypt-key needs --passphrase-file FILE, --passphrase-env VAR or a terminal to ask on")
        }
        let store = encryptKey ? pki.store(encryptingNewCA: true) : pki.store
        let material = try CertificateAuthority(store: store).initialize(setup)
        let created = [material.root.certificate] + material.chain
        if json {
            try Output.json(created.map(CertificateSummary.init))
            return
        }
        print("created CA '\(name)' in \(pki.directory) (\(setup.keyType.rawValue), valid until \(Output.date(material.root.certificate.notValidAfter)))")
        print("  root:         \(pki.directory)/ca.crt, key \(pki.directory)/private/ca.key\(encryptKey ? " (encrypted)" : "")")
        if material.intermediate != nil {
            print("  intermediate: \(pki.directory)/intermediate.crt, key \(pki.directory)/private/intermediate.key")
        }
    }
}
