import Crypto
import MeshPlatform
import NIOConcurrencyHelpers
import SwiftASN1
import X509

/// The easy-rsa-style pki/ directory (DESIGN.md §3):
///
/// ```
/// ca.crt  intermediate.crt  index.txt  index.txt.attr  crlnumber  crl.pem
/// private/ (0700)  ca.key  intermediate.key  NAME.key      — PKCS#8 PEM, 0600
/// issued/          NAME.crt                                — leaf, then intermediate
/// certs_by_serial/ SERIAL.pem                              — every certificate certtool issue and sign made
/// packs/           NNNNNN.pem                              — every certificate certtool serve signed (`CertificatePacks`)
/// private/provisioner.key                                  — signs enrollment tokens (certtool token)
/// tokens.used      "ID EXPIRY" per line                    — one-time tokens already redeemed
/// journal          enrollment batches not yet checkpointed — see `IssuanceJournal`
/// ```
public struct DirectoryStore: PKIStore {
    public let directory: String
    /// A long-running server keeps the CA and the database in memory between operations, re-reading them only
    /// when the files change (another process wrote them); one-shot commands read them each time.
    let cache: StoreCache?
    /// Opens encrypted CA keys; with `encryptsAuthorityKeys`, also encrypts the keys of a CA this store creates.
    let passphrase: KeyPassphrase?
    let encryptsAuthorityKeys: Bool
    /// With `journaling` (an enrollment server), group commits go through `IssuanceJournal`, checkpointed every
    /// `checkpointInterval` at most (nil: `CERTTOOL_CHECKPOINT_SECONDS`, else one second).
    let journal: JournalState?
    let packs: CertificatePacks

    /// `packLimit`: the size from which enrollments go into a new pack (tests make it small).
    public init(
        directory: String, caching: Bool = false, journaling: Bool = false, checkpointInterval: Duration? = nil,
        passphrase: KeyPassphrase? = nil, encryptsAuthorityKeys: Bool = false,
        packLimit: Int = 64 << 20
    ) {
        self.directory = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        self.packs = CertificatePacks(directory: "\(self.directory)/packs", limit: packLimit)
        self.cache = caching ? StoreCache() : nil
        self.journal = journaling ? JournalState(interval: checkpointInterval) : nil
        self.passphrase = passphrase
        self.encryptsAuthorityKeys = encryptsAuthorityKeys
    }

    public var location: String { directory }

    func path(_ relative: String) -> String { "\(directory)/\(relative)" }

    public var hasAuthority: Bool { FileManager.default.fileExists(atPath: path("ca.crt")) }

    public func withExclusiveAccess<T>(_ body: () throws -> T) throws -> T {
        // A server lays pki/ out once, not in every batch (seven system calls).
        if cache?.laidOut == true { return try lockedForWriting(body) }
        let existed = FileManager.default.fileExists(atPath: directory)
        try createLayout()
        do {
            let result = try lockedForWriting(body)
            cache?.laidOut = true
            return result
        } catch {
            // A failed first command leaves no empty pki/ behind. rmdir only removes empty directories, so
            // nothing a concurrent process wrote meanwhile is lost.
            if !existed {
                for relative in ["private", "issued", "certs_by_serial", "packs"] { rmdir(path(relative)) }
                unlink(path(".lock"))
                rmdir(directory)
            }
            throw error
        }
    }

    private func lockedForWriting<T>(_ body: () throws -> T) throws -> T {
        try FileLock(path: path(".lock")).withLock(exclusive: true) {
            try recoverJournal()
            return try body()
        }
    }

    public func withSharedAccess<T>(_ body: () throws -> T) throws -> T {
        guard FileManager.default.fileExists(atPath: directory) else { return try body() }
        // A crashed server's journal is replayed first, which needs the exclusive lock (and a writable pki/:
        // a read-only mount reads what is there).
        if needsJournalReplay, access(directory, W_OK) == 0 { try withExclusiveAccess {} }
        return try FileLock(path: path(".lock")).withLock(exclusive: false, body)
    }

    private func createLayout() throws {
        for (relative, mode) in [("", 0o755), ("private", 0o700), ("issued", 0o755), ("certs_by_serial", 0o755), ("packs", 0o755)] {
            let dir = relative.isEmpty ? directory : path(relative)
            var isDirectory = false
            if FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) {
                guard isDirectory else { throw MeshCAError.store("\(dir) exists but is not a directory") }
                continue
            }
            do {
                try FileManager.default.createDirectory(
                    atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
            } catch {
                throw MeshCAError.io("cannot create \(dir): \(ioReason(error))")
            }
        }
        // Tighten private/ even if someone created it by hand.
        chmod(path("private"), 0o700)
    }

    // MARK: Authority

    public func loadAuthority() throws -> AuthorityMaterial? {
        try loadAuthority(maximumAge: .zero)
    }

    public func loadAuthority(maximumAge: Duration) throws -> AuthorityMaterial? {
        guard let cache else { return try readAuthority() }
        // Four stat(2) calls per look: an enrollment server would make them on every request.
        if maximumAge > .zero, let recent = cache.authority(checkedWithin: maximumAge) { return recent }
        let stamps = ["ca.crt", "intermediate.crt", "private/ca.key", "private/intermediate.key"].map { FileStamp(path($0)) }
        if let cached = cache.authority(stamps: stamps) { return cached }
        let material = try readAuthority()
        if let material { cache.remember(material, stamps: stamps) }
        return material
    }

    private func readAuthority() throws -> AuthorityMaterial? {
        guard let rootPEM = try readIfPresent(path("ca.crt")) else { return nil }
        let root = try identity(certificatePEM: rootPEM, keyPath: "private/ca.key", label: "CA")
        var intermediate: SigningIdentity?
        if let pem = try readIfPresent(path("intermediate.crt")) {
            intermediate = try identity(certificatePEM: pem, keyPath: "private/intermediate.key", label: "intermediate CA")
        }
        return AuthorityMaterial(root: root, intermediate: intermediate)
    }

    private func identity(certificatePEM: String, keyPath: String, label: String) throws -> SigningIdentity {
        let certificate = try PEMFiles.certificates(certificatePEM, source: "\(label) certificate").first!
        guard var keyPEM = try readIfPresent(path(keyPath)) else {
            throw MeshCAError.store("the \(label) private key \(path(keyPath)) is missing: restore it from backup")
        }
        if EncryptedPrivateKey.isEncrypted(keyPEM) {
            guard let passphrase else {
                throw MeshCAError.invalidInput(
                    "\(path(keyPath)) is encrypted: give --passphrase-file FILE or --passphrase-env VAR (or run on a terminal to be asked)")
            }
            let secret = try passphrase.value()
            let plain: String?
            do {
                plain = try EncryptedPrivateKey.decrypt(keyPEM, passphrase: secret)
            } catch MeshCAError.invalidInput(let reason) {
                throw MeshCAError.invalidInput("\(path(keyPath)): \(reason)")
            }
            guard let plain else { throw MeshCAError.invalidInput("wrong passphrase for \(path(keyPath))") }
            keyPEM = plain
        }
        let key: Certificate.PrivateKey
        do {
            key = try Certificate.PrivateKey(pemEncoded: keyPEM)
        } catch {
            throw MeshCAError.store("\(path(keyPath)) is not a readable private key: restore it from backup")
        }
        return try SigningIdentity(certificate: certificate, privateKey: key, label: label)
    }

    public func saveAuthority(_ material: AuthorityMaterial) throws {
        try commitOutsideJournal { try stageAuthority(material, into: &$0) }
    }

    private func stageAuthority(_ material: AuthorityMaterial, into batch: inout FileBatch) throws {
        try batch.stage(path("private/ca.key"), try authorityKeyPEM(material.root.privateKey), mode: 0o600)
        if let intermediate = material.intermediate {
            try batch.stage(path("private/intermediate.key"), try authorityKeyPEM(intermediate.privateKey), mode: 0o600)
            try batch.stage(path("intermediate.crt"), try intermediate.certificate.pemString(), mode: 0o644)
        }
        if try readIfPresent(path("index.txt.attr")) == nil {
            try batch.stage(path("index.txt.attr"), "unique_subject = no\n", mode: 0o644)
        }
        if try readIfPresent(path("index.txt")) == nil {
            try batch.stage(path("index.txt"), "", mode: 0o644)
        }
        // ca.crt last: its presence is what marks the store as initialized.
        try batch.stage(path("ca.crt"), try material.root.certificate.pemString(), mode: 0o644)
    }

    private func authorityKeyPEM(_ key: Certificate.PrivateKey) throws -> String {
        guard encryptsAuthorityKeys else { return try key.pkcs8PEM() }
        guard let passphrase else { throw MeshCAError.invalidInput("encrypting the CA key needs a passphrase") }
        return try EncryptedPrivateKey.encrypt(try key.pkcs8PEM(), passphrase: try passphrase.value())
    }

    // MARK: Issued certificates

    public func issuedChain(named name: String) throws -> [Certificate]? {
        guard let pem = try readIfPresent(path("issued/\(name).crt")) else { return nil }
        return try PEMFiles.certificates(pem, source: path("issued/\(name).crt"))
    }

    public func issuedNames() throws -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path("issued"))) ?? []
        return entries.filter { $0.hasSuffix(".crt") }.map { String($0.dropLast(4)) }.sorted()
    }

    public func saveIssuance(
        name: String, chain: [Certificate], privateKeyPEM: String?, database: CertificateDatabase,
        newAuthority: AuthorityMaterial?
    ) throws {
        let keyPath = path("private/\(name).key")
        try writeDatabase(database) { batch in
            if let newAuthority { try stageAuthority(newAuthority, into: &batch) }
            if let privateKeyPEM { try batch.stage(keyPath, privateKeyPEM, mode: 0o600) }
            try stageCertificate(name: name, chain: chain, chainPEM: try chainPEM(chain), into: &batch)
        }
        // A certificate signed from a CSR replaces one whose key we generated: that key no longer matches.
        if privateKeyPEM == nil { unlink(keyPath) }
    }

    public func saveIssuances(
        _ issuances: [StoredIssuance], database: CertificateDatabase, tokenLedger: TokenLedger?, durable: () -> Void
    ) throws {
        // The last issuance under a name wins, as it would one at a time.
        var latest: [String: Int] = [:]
        for (index, issuance) in issuances.enumerated() { latest[issuance.name] = index }
        let leafPEMs = try issuances.map { try $0.leafPEM ?? $0.chain[0].pemString() }
        let chainPEMs = try zip(issuances, leafPEMs).map { try $1 + chainPEM($0.chain.dropFirst()) }
        let packBytes = Array(leafPEMs.joined().utf8)
        let (packNumber, placement) = packs.placement(ofCount: packBytes.count, current: journal?.packNumber)
        let record = { (rows: String) in
            IssuanceJournal.Record(
                rows: rows,
                issued: issuances.enumerated().map { index, issuance in
                    .init(name: issuance.name, chainPEM: chainPEMs[index], publishes: latest[issuance.name] == index)
                },
                redeemed: issuances.compactMap { $0.redeemedToken.map { .init(id: $0.id, expiresAt: $0.expiresAt) } },
                pack: placement)
        }
        let ledgerFile = path("tokens.used")
        var ledger = tokenLedger
        let ledgerChange = ledger?.change(fileSize: FileStamp(untimed: ledgerFile).size, now: Date()) ?? .none
        let appending = ledgerChange.appended.map { (path: ledgerFile, text: $0) }
        try writeDatabase(
            database, journaling: record, appending: appending, packing: (placement, packBytes), durable: durable
        ) { batch in
            for (index, issuance) in issuances.enumerated() where latest[issuance.name] == index {
                try batch.stage(path("issued/\(issuance.name).crt"), chainPEMs[index], mode: 0o644)
            }
            if let text = ledgerChange.rewritten { try batch.stage(ledgerFile, text, mode: 0o600) }
        }
        journal?.packNumber = packNumber
        if var ledger {
            ledger.saved(ledgerChange)
            cache?.remember(ledger, stamp: FileStamp(untimed: ledgerFile))
        }
        for name in Set(issuances.map(\.name)) { unlink(path("private/\(name).key")) }
    }

    /// The certificates' PEM, one after another.
    private func chainPEM(_ chain: some Sequence<Certificate>) throws -> String {
        try chain.reduce("") { try $0 + $1.pemString() }
    }

    /// certs_by_serial/SERIAL.pem and issued/NAME.crt.
    private func stageCertificate(
        name: String, chain: [Certificate], chainPEM: String, into batch: inout FileBatch
    ) throws {
        let bySerial = path("certs_by_serial/\(chain[0].serialNumber.hexString).pem")
        try batch.stage(bySerial, chain.count == 1 ? chainPEM : try chain[0].pemString(), mode: 0o644)
        if chain.count == 1 {
            // A root-signed leaf: issued/NAME.crt holds exactly certs_by_serial/SERIAL.pem.
            try batch.stage(path("issued/\(name).crt"), sameAs: bySerial, Array(chainPEM.utf8), mode: 0o644)
        } else {
            try batch.stage(path("issued/\(name).crt"), chainPEM, mode: 0o644)
        }
    }

    public func certificates(serials: [String]) throws -> [String: Certificate] {
        var found: [String: Certificate] = [:]
        var packed: Set<String> = []
        for serial in serials.map({ $0.uppercased() }) {
            let file = path("certs_by_serial/\(serial).pem")
            if let pem = try readIfPresent(file) {
                found[serial] = try PEMFiles.certificates(pem, source: file).first
            } else {
                packed.insert(serial)
            }
        }
        if !packed.isEmpty { found.merge(try packs.certificates(serials: packed)) { old, _ in old } }
        return found
    }

    // MARK: Database and CRL

    public func loadDatabase() throws -> CertificateDatabase {
        let stamp = FileStamp(untimed: path("index.txt"))
        if let cached = cache?.database(stamp: stamp) { return cached }
        guard let text = try readIfPresent(path("index.txt")) else { return CertificateDatabase() }
        let database = try CertificateDatabase(parsing: text, source: path("index.txt"))
        cache?.remember(database, stamp: stamp)
        return database
    }

    public func takeDatabase() throws -> CertificateDatabase {
        let database = try loadDatabase()
        cache?.forgetDatabase()
        return database
    }

    public func returnUnchanged(_ database: CertificateDatabase, tokenLedger: TokenLedger?) {
        cache?.remember(database, stamp: FileStamp(untimed: path("index.txt")))
        if let tokenLedger { cache?.remember(tokenLedger, stamp: FileStamp(untimed: path("tokens.used"))) }
    }

    public func saveDatabase(_ database: CertificateDatabase) throws {
        try writeDatabase(database) { _ in }
    }

    /// Writes what `stage` stages, then the database as the commit point. When the file still holds what the
    /// database was read from (every issuance), the new rows are appended after the staged files are durable,
    /// and synced: one small write instead of replacing a file that grows with every certificate. Otherwise
    /// (a revocation, a file changed or torn) index.txt is replaced in the same batch, last.
    ///
    /// A journaling store appends `journaling`'s record of the appended rows instead, as the one durable write,
    /// then writes the same without syncing. `durable` runs at the commit point: right after the record, or
    /// after the last synced write.
    ///
    /// `appending` is appended to its file after the commit point like the rows (a token ledger's new lines);
    /// `packing` is written into its pack there too, before the rows.
    private func writeDatabase(
        _ database: CertificateDatabase, journaling record: ((String) throws -> IssuanceJournal.Record)? = nil,
        appending extra: (path: String, text: String)? = nil,
        packing pack: (placement: IssuanceJournal.Record.Placement, bytes: [UInt8])? = nil, durable: () -> Void = {},
        staging stage: (inout FileBatch) throws -> Void
    ) throws {
        let file = path("index.txt")
        let rows = database.appendedRows(fileSize: FileStamp(untimed: file).size)
        // A server appends in every batch: room for many batches at once.
        let ahead = journal == nil ? 0 : Self.reservationAhead
        if let rows, !rows.isEmpty { try FileBatch.reserveAppend(file, count: rows.utf8.count, ahead: ahead) }
        if let extra { try FileBatch.reserveAppend(extra.path, count: extra.text.utf8.count, ahead: ahead) }
        if let pack { try packs.reserve(pack.placement, count: pack.bytes.count, ahead: ahead) }
        if let journal, let record, let rows {
            // Staged (written under temporary names) before the commit point, as in a synced batch:
            // a full disk fails here, with nothing committed and no token spent.
            var batch = FileBatch()
            defer { batch.discard() }
            try stage(&batch)
            try appendToJournal(try record(String(rows)))
            durable()
            do {
                try batch.commit(durable: false)
                if let pack { try packs.write(pack.bytes, at: pack.placement) }
                if let extra { try FileBatch.append(extra.path, Array(extra.text.utf8), durably: false) }
                if !rows.isEmpty { try FileBatch.append(file, Array(rows.utf8), durably: false) }
            } catch {
                // Only renames, links and reserved appends can fail here (a failing disk). The record is durable,
                // so the batch is committed all the same (`durable` has answered it) and the next holder of the
                // lock replays it; the error is for the caller's log.
                journal.applied(nil)
                cache?.forgetDatabase()
                cache?.forgetLedger()
                throw error
            }
            journal.applied(FileStamp(untimed: journalPath))
            // Not this batch's failure if it fails: the journal holds the batch, and the next batch tries again.
            if journal.checkpointDue() { try? checkpointJournal() }
        } else {
            try commitOutsideJournal { batch in
                // Synced by the batch's commit; a crash before the database's commit leaves certificates in the
                // pack that no row names, which the next batch writes after.
                if let pack { try packs.write(pack.bytes, at: pack.placement) }
                try stage(&batch)
                if rows == nil { try batch.stage(file, database.serialized, mode: 0o644) }
            }
            if let extra { try FileBatch.append(extra.path, Array(extra.text.utf8), durably: true) }
            if let rows, !rows.isEmpty { try FileBatch.append(file, Array(rows.utf8), durably: true) }
            durable()
        }
        var persisted = database
        persisted.markPersisted()
        cache?.remember(persisted, stamp: FileStamp(untimed: file))
    }

    /// How far ahead of its appends a journaling store reserves room in index.txt, tokens.used and packs.
    static let reservationAhead = 256 << 10

    public func nextCRLNumber() throws -> Int {
        guard let text = try readIfPresent(path("crlnumber")) else { return 1 }
        guard let number = Int(text.trimming(while: \.isWhitespace), radix: 16), number > 0 else {
            throw MeshCAError.store("\(path("crlnumber")) does not hold a hex number: repair it")
        }
        return number
    }

    public func saveCRL(pem: String, number: Int) throws {
        try commitOutsideJournal { batch in
            try batch.stage(path("crl.pem"), pem, mode: 0o644)
            try batch.stage(path("crlnumber"), String(number + 1, radix: 16, uppercase: true).leftPadded(to: 2) + "\n", mode: 0o644)
        }
    }
}

extension DirectoryStore {
    // MARK: Enrollment tokens

    public func provisionerKey(create: Bool) throws -> P256.Signing.PrivateKey? {
        let file = path("private/provisioner.key")
        if let pem = try readIfPresent(file) {
            do {
                return try P256.Signing.PrivateKey(pemRepresentation: pem)
            } catch {
                throw MeshCAError.store("\(file) is not a P-256 private key: remove it to make a new one (old tokens stop working)")
            }
        }
        guard create else { return nil }
        let key = P256.Signing.PrivateKey()
        try commitOutsideJournal { try $0.stage(file, key.pemRepresentation, mode: 0o600) }
        return key
    }

    public func takeTokenLedger() throws -> TokenLedger {
        let file = path("tokens.used")
        if let cached = cache?.takeLedger(stamp: FileStamp(untimed: file)) { return cached }
        return TokenLedger(parsing: try readIfPresent(file) ?? "")
    }
}

/// What a caching `DirectoryStore` remembers, keyed by the stamps of the files it came from.
final class StoreCache: @unchecked Sendable {
    private let lock = NIOLock()
    private var authority: (material: AuthorityMaterial, stamps: [FileStamp], checked: ContinuousClock.Instant)?
    private var database: (value: CertificateDatabase, stamp: FileStamp)?
    private var ledger: (value: TokenLedger, stamp: FileStamp)?
    private var layout = false

    /// Whether the store's directories were made (or found) once already.
    var laidOut: Bool {
        get { lock.withLock { layout } }
        set { lock.withLock { layout = newValue } }
    }

    func authority(stamps: [FileStamp]) -> AuthorityMaterial? {
        lock.withLock {
            guard authority?.stamps == stamps else { return nil }
            authority?.checked = .now
            return authority?.material
        }
    }

    /// The authority, when its files were last found unchanged within `age`.
    func authority(checkedWithin age: Duration) -> AuthorityMaterial? {
        lock.withLock {
            guard let authority, authority.checked.duration(to: .now) < age else { return nil }
            return authority.material
        }
    }

    func remember(_ material: AuthorityMaterial, stamps: [FileStamp]) {
        lock.withLock { authority = (material, stamps, .now) }
    }

    func database(stamp: FileStamp) -> CertificateDatabase? {
        lock.withLock { database?.stamp == stamp && stamp.size >= 0 ? database?.value : nil }
    }

    func remember(_ value: CertificateDatabase, stamp: FileStamp) { lock.withLock { database = (value, stamp) } }

    func forgetDatabase() { lock.withLock { database = nil } }

    /// The ledger, handed over (forgotten here) so that its owner changes it without copying it.
    func takeLedger(stamp: FileStamp) -> TokenLedger? {
        lock.withLock {
            defer { ledger = nil }
            return ledger?.stamp == stamp && stamp.size >= 0 ? ledger?.value : nil
        }
    }

    func remember(_ value: TokenLedger, stamp: FileStamp) { lock.withLock { ledger = (value, stamp) } }

    func forgetLedger() { lock.withLock { ledger = nil } }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// The file's text, or nil when it does not exist.
func readIfPresent(_ path: String) throws -> String? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    do {
        return try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw MeshCAError.io("cannot read \(path): \(ioReason(error))")
    }
}
