import Crypto
import MeshPlatform
import NIOConcurrencyHelpers

/// The enrollment server's write-ahead log, `pki/journal`. Each group commit appends one record holding what
/// the batch writes to pki/ and syncs that one file — the commit point — then writes pki/ itself without
/// syncing. A checkpoint (one `syncfs`, at most once a second) makes pki/ durable and empties the journal.
///
/// One device flush per batch instead of three (`syncfs` of the certificate files, `syncfs` of their names,
/// `fdatasync` of index.txt): the flushes were what held the server's rate (docs/benchmarks.md, issue 4).
///
/// After a crash, whoever takes the store's lock next replays the records (`DirectoryStore.recoverJournal`).
/// Replay is idempotent — rows whose serial index.txt already holds are skipped, files already holding the
/// recorded bytes are left alone — so a record applied before the crash, or applied by another process, is
/// harmless to replay. Writes outside the journal (revocations, CRLs, `certtool issue`) checkpoint first, so no
/// replay can undo them.
enum IssuanceJournal {
    /// One batch: enough to redo its writes to pki/ from nothing.
    struct Record: Codable, Equatable {
        struct Issued: Codable, Equatable {
            var name: String
            /// The leaf, then its chain (PEM): certs_by_serial/ gets the leaf, issued/NAME.crt all of it.
            var chainPEM: String
            /// Whether issued/NAME.crt is this certificate (the last one under its name in the batch).
            var publishes: Bool
        }

        struct Token: Codable, Equatable {
            var id: String
            var expiresAt: Date
        }

        /// index.txt rows, appended.
        var rows: String
        var issued: [Issued]
        /// The tokens the batch redeemed, for tokens.used: only these, as the rest of the ledger is in the file
        /// since the last checkpoint, and the whole ledger per batch would grow with every token.
        var redeemed: [Token]
    }

    private static let magic = "meshca-journal-1"

    /// Whether `bytes` (a non-empty journal) starts like one this version writes. A journal of another format
    /// (a newer certtool's) must not be dropped as if it were torn.
    static func isReadable(_ bytes: [UInt8]) -> Bool {
        bytes.starts(with: Array("\(magic) ".utf8))
    }

    /// `meshca-journal-1 LENGTH SHA256` and a newline, the record's JSON (LENGTH bytes), a newline.
    static func frame(_ record: Record) throws -> [UInt8] {
        let payload = Array(try JSONEncoder().encode(record))
        let digest = Array(SHA256.hash(data: payload)).hexEncoded()
        return Array("\(magic) \(payload.count) \(digest)\n".utf8) + payload + [UInt8(ascii: "\n")]
    }

    /// The records at the start of `bytes`, up to the first that is incomplete or damaged: the torn tail of an
    /// append cut short by a crash, never acknowledged to anyone.
    static func records(in bytes: [UInt8]) -> [Record] {
        var records: [Record] = []
        var offset = 0
        while let newline = bytes[offset...].firstIndex(of: UInt8(ascii: "\n")) {
            let header = String(decoding: bytes[offset..<newline], as: UTF8.self).split(separator: " ")
            guard header.count == 3, header[0] == magic, let length = Int(header[1]), length >= 0,
                length < bytes.count - newline
            else { break }
            let payload = bytes[(newline + 1)..<(newline + 1 + length)]
            guard bytes[newline + 1 + length] == UInt8(ascii: "\n"),
                Array(SHA256.hash(data: payload)).hexEncoded() == header[2],
                let record = try? JSONDecoder().decode(Record.self, from: Data(payload))
            else { break }
            records.append(record)
            offset = newline + 2 + length
        }
        return records
    }
}

/// What one process knows of the journal: the version it left behind (every record in it applied), and when
/// it last checkpointed.
final class JournalState: @unchecked Sendable {
    private let lock = NIOLock()
    private var applied: FileStamp?
    private var lastCheckpoint = ContinuousClock.now
    /// How stale pki/'s durable state may get, and how much a replay may have to redo.
    private let interval: Duration
    private let maximumSize: Int64 = 4 << 20

    /// `interval` nil: `CERTTOOL_CHECKPOINT_SECONDS`, else one second.
    init(interval: Duration?) {
        self.interval = interval ?? .seconds(
            environmentVariable("CERTTOOL_CHECKPOINT_SECONDS").flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil } ?? 1)
    }

    /// Whether the journal at `stamp` holds anything this process has not applied itself.
    func needsReplay(_ stamp: FileStamp) -> Bool {
        stamp.size > 0 && lock.withLock { applied != stamp }
    }

    /// Records that the journal, now at `stamp`, is fully applied; nil when that is not known.
    func applied(_ stamp: FileStamp?) {
        lock.withLock { applied = stamp }
    }

    func checkpointed(_ stamp: FileStamp) {
        lock.withLock {
            applied = stamp
            lastCheckpoint = .now
        }
    }

    func checkpointDue(size: Int64) -> Bool {
        size >= maximumSize || lock.withLock { lastCheckpoint.duration(to: .now) >= interval }
    }
}
