import MeshCA
import MeshPlatform
import NIOConcurrencyHelpers
import NIOSSL
import X509

/// A listener's serving identity and client trust, re-read when the files change. New handshakes use the
/// newest good set; open connections keep theirs; a broken or mismatched new set keeps the old one.
public final class ReloadableServerTLS: Sendable {
    private struct Loaded {
        var context: NIOSSLContext
        var notAfter: Date
        var stamps: [FileStamp]
    }

    public let settings: ServerTLS
    public let verifier: ClientVerifier
    private let loaded: NIOLockedValueBox<Loaded>

    /// Loads the files; the first load must succeed.
    public init(settings: ServerTLS, onClientRefused: @escaping @Sendable (String) -> Void = { _ in }) throws {
        try settings.validate()
        self.settings = settings
        let (loaded, trust) = try Self.load(settings)
        self.loaded = NIOLockedValueBox(loaded)
        self.verifier = ClientVerifier(
            trust: trust, verifies: settings.clientAuth.verifies,
            allowedSANs: try SANAllowList(settings.handshakeAllowedSANs), verifyDepth: settings.verifyDepth,
            onFailure: onClientRefused)
    }

    public var context: NIOSSLContext { loaded.withLockedValue { $0.context } }
    public var certificateNotAfter: Date { loaded.withLockedValue { $0.notAfter } }

    /// Re-reads the files if any changed (or always, with `force`, as on SIGHUP). Returns whether a new set was
    /// installed; throws, keeping the old set, when the new files are unusable.
    @discardableResult
    public func reload(force: Bool = false) throws -> Bool {
        let stamps = settings.watchedFiles.map(FileStamp.init)
        guard force || stamps != loaded.withLockedValue({ $0.stamps }) else { return false }
        do {
            let (new, trust) = try Self.load(settings)
            loaded.withLockedValue { $0 = new }
            verifier.update(trust)
            return true
        } catch {
            // Remember the stamps so a broken file is reported once, not on every poll.
            loaded.withLockedValue { $0.stamps = stamps }
            throw error
        }
    }

    private static func load(_ settings: ServerTLS) throws -> (Loaded, ClientVerifier.Trust) {
        let stamps = settings.watchedFiles.map(FileStamp.init)
        let leaf = try PEMFiles.certificates(bytes: TLSFiles.read(settings.certificate, what: "certificate"), source: settings.certificate)[0]
        let keyPEM = String(decoding: try TLSFiles.read(settings.key, what: "private key"), as: UTF8.self)
        guard let key = try? Certificate.PrivateKey(pemEncoded: keyPEM) else {
            throw MeshCAError.invalidInput("\(settings.key) is not a PEM private key")
        }
        guard key.publicKey == leaf.publicKey else {
            throw MeshCAError.invalidInput("\(settings.key) does not belong to the certificate in \(settings.certificate)")
        }
        let context = try settings.makeContext()
        let trust = try settings.clientCA.map { try ClientVerifier.Trust.load(clientCA: $0, crl: settings.crl) }
            ?? ClientVerifier.Trust(roots: [], revocations: nil)
        return (Loaded(context: context, notAfter: leaf.notValidAfter, stamps: stamps), trust)
    }
}
