import MeshPlatform

/// pki/journal (`IssuanceJournal`): appending, checkpointing and replaying after a crash.
extension DirectoryStore {
    var journalPath: String { path("journal") }

    /// Whether the journal holds records this process has not applied itself.
    var needsJournalReplay: Bool { !journalIsAsLeft && journalHasRecords }

    /// Whether the journal is absent, empty, or exactly as this process left it (stamp and first bytes).
    private var journalIsAsLeft: Bool {
        let stamp = FileStamp(untimed: journalPath)
        return stamp.size <= 0 || journal?.isChanged(stamp, head: { journalHead ?? [] }) == false
    }

    /// Whether the journal's first byte is not zero (an emptied journal starts with one), or it cannot be read
    /// (which the replay then reports).
    private var journalHasRecords: Bool {
        guard let head = journalHead else { return true }
        return head.first.map { $0 != 0 } ?? false
    }

    /// The journal's first bytes (fewer if it is shorter); nil when it cannot be read.
    private var journalHead: [UInt8]? {
        let fd = open(journalPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: JournalState.headSize)
        let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return count < 0 ? nil : Array(bytes.prefix(count))
    }

    /// Writes `record` into the journal after the last one and syncs it: the commit point of a batch. The
    /// journal is created (durably) on first use; records start again at its beginning when this process finds
    /// it emptied or not as it left it (any records another process left were replayed when the lock was taken).
    func appendToJournal(_ record: IssuanceJournal.Record) throws {
        guard let journal else { preconditionFailure("only a journaling store writes the journal") }
        var stamp = FileStamp(untimed: journalPath)
        var position = journal.position(stamp)
        if position == nil {
            if stamp.size < 0 { try FileBatch.perform { try $0.stage(journalPath, [], mode: 0o600) } }
            stamp = FileStamp(untimed: journalPath)
            position = journal.adopted(stamp, head: journalHead ?? [])
        }
        let (offset, epoch) = position!
        let bytes = try IssuanceJournal.frame(record, epoch: epoch)
        growJournal(toHold: offset + bytes.count, size: stamp.size)
        // A write cut short leaves a torn record, which readers drop and the next write overwrites.
        try FileBatch.overwrite(journalPath, bytes, at: offset, durably: true)
        journal.wrote(bytes, at: offset, epoch: epoch)
    }

    /// Zero-fills the journal ahead of the records to come, unsynced (the next record's sync carries it), so that
    /// writing them neither grows the file nor fills a hole. Without room for that, the record grows it itself.
    private func growJournal(toHold end: Int, size: Int64) {
        guard Int64(end) > size else { return }
        let grown = (end / IssuanceJournal.growth + 1) * IssuanceJournal.growth
        let zeros = [UInt8](repeating: 0, count: grown - Int(size))
        if (try? FileBatch.overwrite(journalPath, zeros, at: Int(size), durably: false)) == nil {
            _ = truncate(journalPath, off_t(size))
        }
    }

    /// Makes pki/ durable (one `syncfs`) and empties the journal, whose records it now holds, by zeroing its first
    /// bytes (synced): the server goes on writing into the blocks it has, and the records left after the zeroed
    /// ones are of an epoch that no later record shares.
    func checkpointJournal() throws {
        let stamp = FileStamp(untimed: journalPath)
        guard stamp.size > 0 else { return }
        if let position = journal?.position(stamp) {
            guard position.offset > 0 else { return }
        } else {
            guard journalHasRecords else { return }
        }
        try FileBatch.syncFileSystem(of: directory, naming: journalPath)
        try FileBatch.overwrite(journalPath, [UInt8](repeating: 0, count: JournalState.headSize), at: 0, durably: true)
        journal?.checkpointed(FileStamp(untimed: journalPath))
    }

    public func checkpoint() throws {
        guard journal != nil || FileStamp(untimed: journalPath).size > 0 else { return }
        try withExclusiveAccess { try checkpointJournal() }
    }

    public func checkpointIfDue() throws {
        guard let journal, journal.checkpointDue() else { return }
        try withExclusiveAccess { if journal.checkpointDue() { try checkpointJournal() } }
    }

    /// A durable write that is not journaled. The journal is checkpointed first, so that no replay can later
    /// undo this write with an older record.
    func commitOutsideJournal(_ body: (inout FileBatch) throws -> Void) throws {
        try checkpointJournal()
        try FileBatch.perform(body)
    }

    /// Under the exclusive lock: redoes the records this process did not apply (another process's, or a
    /// crashed one's), then checkpoints.
    func recoverJournal() throws {
        guard !journalIsAsLeft else { return }
        // Where this process's next record goes is decided again, after any replay.
        journal?.applied(nil)
        guard journalHasRecords else { return }
        guard let data = FileManager.default.contents(atPath: journalPath) else {
            throw MeshCAError.io("cannot read \(journalPath): \(errnoDescription())")
        }
        let bytes = Array(data)
        guard IssuanceJournal.isReadable(bytes) else {
            throw MeshCAError.store("\(journalPath) is not a journal this certtool can replay: open the pki with the certtool that wrote it")
        }
        try replay(IssuanceJournal.records(in: bytes))
        try checkpointJournal()
    }

    /// Writes what `records` say pki/ holds, where it does not hold it yet, in one pass (index.txt and the token
    /// ledger read once, each name published once: by its last record); unsynced, as a checkpoint follows.
    private func replay(_ records: [IssuanceJournal.Record]) throws {
        guard !records.isEmpty else { return }
        var published: [String: String] = [:]
        for issued in records.flatMap(\.issued) where issued.publishes { published[issued.name] = issued.chainPEM }
        let redeemed = records.flatMap(\.redeemed)
        var ledgerLines: String?
        let packed = records.filter { $0.pack != nil }
        for (index, record) in packed.enumerated() {
            try packs.write(record.packBytes, at: record.pack!, endingThere: index == packed.count - 1)
        }
        try FileBatch.perform(durable: false) { batch in
            for issued in records.filter({ $0.pack == nil }).flatMap(\.issued) {
                let leaf = try PEMFiles.certificates(issued.chainPEM, source: journalPath)[0]
                try stage(path("certs_by_serial/\(leaf.serialNumber.hexString).pem"), try leaf.pemString(), mode: 0o644, into: &batch)
            }
            for (name, chainPEM) in published { try stage(path("issued/\(name).crt"), chainPEM, mode: 0o644, into: &batch) }
            if !redeemed.isEmpty {
                var ledger = try takeTokenLedger()
                for token in redeemed { _ = ledger.consume(token.id, expiresAt: token.expiresAt) }
                let change = ledger.change(fileSize: FileStamp(untimed: path("tokens.used")).size, now: Date())
                ledgerLines = change.appended
                if let text = change.rewritten { try batch.stage(path("tokens.used"), text, mode: 0o600) }
            }
        }
        if let ledgerLines { try FileBatch.append(path("tokens.used"), Array(ledgerLines.utf8), durably: false) }
        for name in published.keys { unlink(path("private/\(name).key")) }

        var database = try loadDatabase()
        let before = database.records.count
        for record in records {
            for row in try CertificateDatabase(parsing: record.rows, source: journalPath).records
            where database.record(serial: row.serial) == nil {
                database.append(row)
            }
        }
        guard database.records.count > before else { return }
        let index = path("index.txt")
        if let appended = database.appendedRows(fileSize: FileStamp(untimed: index).size) {
            try FileBatch.append(index, Array(appended.utf8), durably: false)
        } else {
            try FileBatch.perform(durable: false) { try $0.stage(index, database.serialized, mode: 0o644) }
        }
        cache?.forgetDatabase()
    }

    /// Stages `text` at `path` unless the file holds exactly that already.
    private func stage(_ path: String, _ text: String, mode: mode_t, into batch: inout FileBatch) throws {
        if try readIfPresent(path) == text { return }
        try batch.stage(path, text, mode: mode)
    }
}
