import Crypto
import MeshPlatform
import X509

/// The CA's root (and optional intermediate) identities as kept in a store. A class, shared by every request
/// a server signs (see `SigningIdentity`).
public final class AuthorityMaterial: Sendable {
    public let root: SigningIdentity
    public let intermediate: SigningIdentity?

    public init(root: SigningIdentity, intermediate: SigningIdentity?) {
        self.root = root
        self.intermediate = intermediate
    }

    /// The identity that signs leaves and CRLs: the intermediate when there is one.
    public var signer: SigningIdentity { intermediate ?? root }

    /// Certificates to send after a leaf: the intermediate, if any (never the root).
    public var chain: [Certificate] { intermediate.map { [$0.certificate] } ?? [] }
}

/// Where a CA keeps its keys, certificates, database and CRL. The pki/ directory is the one implementation
/// today; a database-backed store can implement the same protocol.
///
/// Callers hold `withExclusiveAccess` across every read-modify-write so that concurrent processes never lose an
/// update or reuse a serial.
public protocol PKIStore: Sendable {
    /// A human-readable location for messages, e.g. the directory path.
    var location: String { get }
    /// Whether the store holds a CA yet.
    var hasAuthority: Bool { get }

    func withExclusiveAccess<T>(_ body: () throws -> T) throws -> T
    func withSharedAccess<T>(_ body: () throws -> T) throws -> T

    func loadAuthority() throws -> AuthorityMaterial?
    /// `loadAuthority`, which may answer from memory without looking at the files again for `maximumAge`:
    /// for work that a later `loadAuthority` under the exclusive lock checks again (an enrollment is signed
    /// ahead of its commit, which signs it again if the CA changed meanwhile).
    func loadAuthority(maximumAge: Duration) throws -> AuthorityMaterial?
    func saveAuthority(_ material: AuthorityMaterial) throws

    /// The leaf followed by its chain, as last issued under `name`.
    func issuedChain(named name: String) throws -> [Certificate]?
    /// Every name with an issued certificate.
    func issuedNames() throws -> [String]
    /// Stores a newly issued certificate and the database that records it as one durable write, the database
    /// last (it is the commit point). `newAuthority` is a CA this issuance created, stored first. A nil key
    /// removes any key stored earlier under the same name.
    func saveIssuance(
        name: String, chain: [Certificate], privateKeyPEM: String?, database: CertificateDatabase,
        newAuthority: AuthorityMaterial?) throws
    /// The certificates of these serials (upper-case hex) that the store holds, by serial.
    func certificates(serials: [String]) throws -> [String: Certificate]

    func loadDatabase() throws -> CertificateDatabase
    /// The database to change and save back under the exclusive lock. A store that keeps the database in
    /// memory hands its copy over (and gets it back from the save), so adding a row does not copy every row.
    func takeDatabase() throws -> CertificateDatabase
    /// Gives back a database from `takeDatabase` (and a ledger from `takeTokenLedger`) that did not change, so
    /// nothing was saved.
    func returnUnchanged(_ database: CertificateDatabase, tokenLedger: TokenLedger?)
    func saveDatabase(_ database: CertificateDatabase) throws

    /// The number the next CRL gets (1 for the first).
    func nextCRLNumber() throws -> Int
    /// Stores a CRL and records that its number was used.
    func saveCRL(pem: String, number: Int) throws

    /// The key that signs enrollment tokens. With `create`, one is generated and stored on first use.
    func provisionerKey(create: Bool) throws -> P256.Signing.PrivateKey?
    /// The one-time enrollment tokens already redeemed, to change and save back under the exclusive lock (with
    /// `saveIssuances`). A store that keeps the ledger in memory hands its copy over, as with `takeDatabase`.
    func takeTokenLedger() throws -> TokenLedger
    /// Stores several issued certificates, the database that records them and (when given) the token ledger
    /// as one durable write, the database last: the group commit of an enrollment server. `durable` runs once
    /// the write is durable (the commit point), which may be before the store shows it to other readers.
    func saveIssuances(
        _ issuances: [StoredIssuance], database: CertificateDatabase, tokenLedger: TokenLedger?, durable: () -> Void
    ) throws
    /// Makes every commit durable in the store itself rather than in a log of it: a server calls it when it
    /// stops, so that what it leaves needs no replay.
    func checkpoint() throws
    /// `checkpoint`, when commits wait for one for longer than the store allows: a server calls it every second,
    /// so that the last commits before a quiet spell do not wait in the log for the next commit or the stop.
    func checkpointIfDue() throws
}

extension PKIStore {
    public func loadAuthority(maximumAge: Duration) throws -> AuthorityMaterial? { try loadAuthority() }
    public func checkpoint() throws {}
    public func checkpointIfDue() throws {}
}

/// A certificate to store under a name (leaf first), without a key: its holder generated that.
public struct StoredIssuance: Sendable {
    public var name: String
    public var chain: [Certificate]
    /// The leaf's PEM, when it was encoded ahead (off the thread that serializes commits).
    public var leafPEM: String?
    /// The one-time token this issuance spent (its id and expiry), when a token authorized it.
    public var redeemedToken: (id: String, expiresAt: Date)?

    public init(
        name: String, chain: [Certificate], leafPEM: String? = nil,
        redeemedToken: (id: String, expiresAt: Date)? = nil
    ) {
        self.name = name
        self.chain = chain
        self.leafPEM = leafPEM
        self.redeemedToken = redeemedToken
    }
}
