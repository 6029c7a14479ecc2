import Crypto
import MeshPlatform
import NIOConcurrencyHelpers

/// The enrollment server's write-ahead log, `pki/journal`. Each group commit writes one record holding what
/// the batch writes to pki/ and syncs that one file — the commit point — then writes pki/ itself without
/// syncing. A checkpoint (one `syncfs`, at most once a second) makes pki/ durable and empties the journal.
///
/// One device flush per batch instead of three (`syncfs` of the certificate files, `syncfs` of their names,
/// `fdatasync` of index.txt): the flushes were what held the server's rate (docs/benchmarks.md, issue 4).
///
/// Records are written into the file in place, from its start, into blocks zero-filled ahead of them (`growth`
/// at a time): a record that neither grows the file nor fills a hole is synced without writing the inode, one
/// device write and a flush instead of two writes and a flush (≈ 40% less time and CPU per `fdatasync` on this
/// project's disks). Emptying zeroes the first record's header instead of truncating; the records after it stay
/// on disk but belong to an older epoch, which every record names, so a reader stops at the first one of
/// another epoch.
///
/// After a crash, whoever takes the store's lock next replays the records (`DirectoryStore.recoverJournal`).
/// Replay is idempotent — rows whose serial index.txt already holds are skipped, files already holding the
/// recorded bytes are left alone, packs get the same bytes at the same offsets — so a record applied before the
/// crash, or applied by another process, is harmless to replay. Writes outside the journal (revocations, CRLs,
/// `certtool issue`) checkpoint first, so no replay can undo them.
enum IssuanceJournal {
    /// One batch: enough to redo its writes to pki/ from nothing.
    struct Record: Codable, Equatable {
        struct Issued: Codable, Equatable {
            var name: String
            /// The leaf, then its chain (PEM): the pack gets the leaf, issued/NAME.crt all of it.
            var chainPEM: String
            /// Whether issued/NAME.crt is this certificate (the last one under its name in the batch).
            var publishes: Bool
        }

        struct Token: Codable, Equatable {
            var id: String
            var expiresAt: Date
        }

        /// Where in pki/packs/ the batch's leaves go (`CertificatePacks`).
        struct Placement: Codable, Equatable {
            var pack: String
            var offset: Int
        }

        /// index.txt rows, appended.
        var rows: String
        var issued: [Issued]
        /// The tokens the batch redeemed, for tokens.used: only these, as the rest of the ledger is in the file
        /// since the last checkpoint, and the whole ledger per batch would grow with every token.
        var redeemed: [Token]
        /// Where `packBytes` go. Nil in the records of a certtool before packs, which wrote a file per leaf into
        /// certs_by_serial/ (as their replay still does).
        var pack: Placement?
    }

    private static let magic = "meshca-journal-2"
    /// Records of the certtool before the laid-out journal (no epoch; the file grew by appends), replayed on
    /// upgrade.
    private static let appendedMagic = "meshca-journal-1"

    /// A checkpoint is due once the records reach this far, whatever the time.
    static let checkpointSize = 4 << 20
    /// How far ahead of the records the journal is zero-filled.
    static let growth = 256 << 10

    /// A new epoch for the records written after the journal was emptied.
    static func newEpoch() -> String { String(UInt64.random(in: .min ... .max), radix: 16) }

    /// Whether the journal `bytes` is empty (no bytes, or a zero first byte) or starts like one this version
    /// reads. A journal of another format (a newer certtool's) must not be dropped as if it were torn.
    static func isReadable(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first, first != 0 else { return true }
        return [magic, appendedMagic].contains { bytes.starts(with: Array("\($0) ".utf8)) }
    }

    /// `meshca-journal-2 EPOCH LENGTH SHA256` and a newline, the record's JSON (LENGTH bytes), a newline.
    static func frame(_ record: Record, epoch: String) throws -> [UInt8] {
        let payload = Array(try JSONEncoder().encode(record))
        let digest = Array(SHA256.hash(data: payload)).hexEncoded()
        return Array("\(magic) \(epoch) \(payload.count) \(digest)\n".utf8) + payload + [UInt8(ascii: "\n")]
    }

    /// The records at the start of `bytes` of the first record's epoch, up to the first that is incomplete,
    /// damaged or of another epoch: the torn tail of a write cut short by a crash (never acknowledged to anyone),
    /// or what an emptied journal still holds of older epochs.
    static func records(in bytes: [UInt8]) -> [Record] {
        var records: [Record] = []
        var offset = 0
        var epoch: Substring?
        while offset < bytes.count, bytes[offset] != 0, let newline = bytes[offset...].firstIndex(of: UInt8(ascii: "\n")) {
            let header = String(decoding: bytes[offset..<newline], as: UTF8.self).split(separator: " ")
            let fields: (epoch: Substring, length: Substring, digest: Substring)
            if header.count == 4, header[0] == magic {
                fields = (header[1], header[2], header[3])
            } else if header.count == 3, header[0] == appendedMagic {
                fields = ("", header[1], header[2])
            } else {
                break
            }
            guard epoch == nil || epoch == fields.epoch, let length = Int(fields.length), length >= 0,
                length < bytes.count - newline
            else { break }
            let payload = bytes[(newline + 1)..<(newline + 1 + length)]
            guard bytes[newline + 1 + length] == UInt8(ascii: "\n"),
                Array(SHA256.hash(data: payload)).hexEncoded() == fields.digest,
                let record = try? JSONDecoder().decode(Record.self, from: Data(payload))
            else { break }
            records.append(record)
            epoch = fields.epoch
            offset = newline + 2 + length
        }
        return records
    }
}

/// What one process knows of the journal: the version it left behind (every record in it applied), where it
/// writes its next record, and when it last checkpointed.
final class JournalState: @unchecked Sendable {
    /// How many of the journal's first bytes tell which records it holds: zeros when empty, else the first
    /// record's header, which names the epoch.
    static let headSize = 64

    private let lock = NIOLock()
    private var applied: FileStamp?
    /// The journal's first bytes as this process left them. With the stamp, which can repeat within a clock
    /// tick while another process rewrites the file in place, they show the file is as this process left it.
    private var head: [UInt8]?
    /// Where this process writes its next record, once it emptied the journal or took it over empty.
    private var next: (offset: Int, epoch: String)?
    private var lastCheckpoint = ContinuousClock.now
    private var pack: Int?
    /// How stale pki/'s durable state may get, and how much a replay may have to redo.
    private let interval: Duration

    /// `interval` nil: `CERTTOOL_CHECKPOINT_SECONDS`, else one second.
    init(interval: Duration?) {
        self.interval = interval ?? .seconds(
            environmentVariable("CERTTOOL_CHECKPOINT_SECONDS").flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil } ?? 1)
    }

    /// Whether the journal, at `stamp` and starting with `head()`, is not the version this process left.
    func isChanged(_ stamp: FileStamp, head current: () -> [UInt8]) -> Bool {
        lock.withLock { applied != stamp || (head != nil && head != current()) }
    }

    /// Records that the journal, now at `stamp`, is fully applied; nil when that is not known (it will be
    /// replayed).
    func applied(_ stamp: FileStamp?) {
        lock.withLock {
            applied = stamp
            if stamp == nil { (next, head) = (nil, nil) }
        }
    }

    /// Where the next record goes in the journal at `stamp`: nil unless this process left it so. Its first bytes
    /// were checked when the lock was taken (`DirectoryStore.recoverJournal`).
    func position(_ stamp: FileStamp) -> (offset: Int, epoch: String)? {
        lock.withLock { applied == stamp ? next : nil }
    }

    /// After `record` was written at `offset`; `applied` follows once pki/ holds the batch.
    func wrote(_ record: [UInt8], at offset: Int, epoch: String) {
        lock.withLock {
            next = (offset + record.count, epoch)
            if offset == 0 { head = Array(record.prefix(Self.headSize)) }
        }
    }

    /// After this process emptied the journal (its first bytes zeroed), now at `stamp`: the next record starts
    /// it again, in a new epoch.
    func checkpointed(_ stamp: FileStamp) {
        lock.withLock {
            applied = stamp
            next = (0, IssuanceJournal.newEpoch())
            head = [UInt8](repeating: 0, count: Self.headSize)
            lastCheckpoint = .now
        }
    }

    /// After this process took over the journal with no records in it, now at `stamp` and starting with `head`:
    /// where its first record goes.
    func adopted(_ stamp: FileStamp, head current: [UInt8]) -> (offset: Int, epoch: String) {
        lock.withLock {
            applied = stamp
            head = current
            let position = (offset: 0, epoch: IssuanceJournal.newEpoch())
            next = position
            return position
        }
    }

    /// The pack this process last appended to (`CertificatePacks`), to look for room from there.
    var packNumber: Int? {
        get { lock.withLock { pack } }
        set { lock.withLock { pack = newValue } }
    }

    /// Whether this process wrote records since its last checkpoint, and they are due one (by size or age).
    func checkpointDue() -> Bool {
        lock.withLock {
            let offset = next?.offset ?? 0
            return offset > 0 && (offset >= IssuanceJournal.checkpointSize || lastCheckpoint.duration(to: .now) >= interval)
        }
    }
}
