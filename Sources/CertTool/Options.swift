import ArgumentParser
import MeshCA
import MeshPlatform
import X509

/// `--pki DIR`, defaulting to `$CERTTOOL_PKI`, then `./pki`; and the passphrase of an encrypted CA key.
struct PKIOptions: ParsableArguments {
    @Option(name: .long, help: "PKI directory (default: $CERTTOOL_PKI or ./pki).")
    var pki: String?

    @Option(name: .customLong("passphrase-file"), help: "File whose first line is the CA key's passphrase (encrypted CA keys).")
    var passphraseFile: String?

    @Option(name: .customLong("passphrase-env"), help: "Environment variable holding the CA key's passphrase.")
    var passphraseEnv: String?

    var directory: String { pki ?? environmentVariable("CERTTOOL_PKI") ?? "pki" }
    var store: DirectoryStore { store() }
    var authority: CertificateAuthority { CertificateAuthority(store: store) }

    /// The passphrase source: the file, the variable, else a prompt on the terminal (asked only if needed).
    func passphrase(confirming: Bool = false) -> KeyPassphrase? {
        if let passphraseFile { return .file(passphraseFile) }
        if let passphraseEnv { return .environment(passphraseEnv) }
        guard isatty(STDIN_FILENO) != 0 else { return nil }
        let directory = self.directory
        return KeyPassphrase {
            let first = Self.ask("Passphrase for \(directory)/private/ca.key: ")
            if confirming, Self.ask("Again: ") != first {
                throw MeshCAError.invalidInput("the two passphrases differ")
            }
            return first
        }
    }

    private static func ask(_ prompt: String) -> [UInt8] {
        guard let entered = getpass(prompt) else { return [] }
        defer { memset(entered, 0, strlen(entered)) }
        return Array(UnsafeBufferPointer(start: entered, count: strlen(entered))).map { UInt8(bitPattern: $0) }
    }

    func store(caching: Bool = false, journaling: Bool = false, encryptingNewCA: Bool = false) -> DirectoryStore {
        DirectoryStore(directory: directory, caching: caching, journaling: journaling,
                       passphrase: passphrase(confirming: encryptingNewCA), encryptsAuthorityKeys: encryptingNewCA)
    }
}

extension ArgumentHelp {
    /// `--json`, declared by each command that prints data rather than in a shared `OptionGroup`: every option
    /// group costs ArgumentParser three run-time conformance scans of the whole binary at start.
    static let json: ArgumentHelp = "Print machine-readable JSON."
}

enum Output {
    static func json(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func date(_ date: Date) -> String { date.iso8601 }
}

/// Reads a file the user named, as bytes; a missing or unreadable file is an input error.
func readInputFile(_ path: String, what: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw MeshCAError.invalidInput("cannot read \(what) '\(path)': no such file or not readable")
    }
    return Array(data)
}

/// Resolves `NAME|FILE`: an existing file wins, otherwise the certificate issued under that name.
func loadCertificateChain(_ nameOrFile: String, pki: PKIOptions) throws -> (label: String, chain: [Certificate]) {
    var isDirectory = false
    if FileManager.default.fileExists(atPath: nameOrFile, isDirectory: &isDirectory), !isDirectory {
        return (nameOrFile, try PEMFiles.certificates(bytes: try readInputFile(nameOrFile, what: "certificate"), source: nameOrFile))
    }
    let store = pki.store
    if let chain = try store.issuedChain(named: nameOrFile) { return (nameOrFile, chain) }
    // Any certificate the CA issued, by its serial (as certtool list shows it): an enrolled one is in a pack,
    // with no file of its own to name.
    if !nameOrFile.isEmpty, nameOrFile.allSatisfy(\.isHexDigit),
        let certificate = try store.withSharedAccess({ try store.certificates(serials: [nameOrFile]) })[nameOrFile.uppercased()]
    {
        return (nameOrFile, [certificate])
    }
    throw MeshCAError.invalidInput(
        "'\(nameOrFile)' is neither a file, a certificate name nor a serial in \(pki.directory): see certtool list")
}
