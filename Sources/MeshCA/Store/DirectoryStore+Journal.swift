import MeshPlatform

/// pki/journal (`IssuanceJournal`): appending, checkpointing and replaying after a crash.
extension DirectoryStore {
    var journalPath: String { path("journal") }

    /// Whether the journal holds records this process has not applied itself.
    var needsJournalReplay: Bool {
        let stamp = FileStamp(journalPath)
        return journal?.needsReplay(stamp) ?? (stamp.size > 0)
    }

    /// Appends `record` and syncs it: the commit point of a batch. The journal is created (durably) on first use.
    func appendToJournal(_ record: IssuanceJournal.Record) throws {
        if FileStamp(journalPath).size < 0 { try FileBatch.perform { try $0.stage(journalPath, [], mode: 0o600) } }
        try FileBatch.append(journalPath, try IssuanceJournal.frame(record), durably: true)
    }

    /// Makes pki/ durable (one `syncfs`) and empties the journal, whose records it now holds.
    func checkpointJournal() throws {
        guard FileStamp(journalPath).size > 0 else { return }
        try FileBatch.syncFileSystem(of: directory, naming: journalPath)
        guard truncate(journalPath, 0) == 0 else {
            throw MeshCAError.io("cannot empty \(journalPath): \(errnoDescription())")
        }
        journal?.checkpointed(FileStamp(journalPath))
    }

    public func checkpoint() throws {
        guard journal != nil || FileStamp(journalPath).size > 0 else { return }
        try withExclusiveAccess { try checkpointJournal() }
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
        guard needsJournalReplay else { return }
        guard let data = FileManager.default.contents(atPath: journalPath) else {
            throw MeshCAError.io("cannot read \(journalPath): \(errnoDescription())")
        }
        let bytes = Array(data)
        guard bytes.isEmpty || IssuanceJournal.isReadable(bytes) else {
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
        try FileBatch.perform(durable: false) { batch in
            for issued in records.flatMap(\.issued) {
                let leaf = try PEMFiles.certificates(issued.chainPEM, source: journalPath)[0]
                try stage(path("certs_by_serial/\(leaf.serialNumber.hexString).pem"), try leaf.pemString(), mode: 0o644, into: &batch)
            }
            for (name, chainPEM) in published { try stage(path("issued/\(name).crt"), chainPEM, mode: 0o644, into: &batch) }
            if !redeemed.isEmpty {
                var ledger = try takeTokenLedger()
                for token in redeemed { _ = ledger.consume(token.id, expiresAt: token.expiresAt) }
                let change = ledger.change(fileSize: FileStamp(path("tokens.used")).size, now: Date())
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
        if let appended = database.appendedRows(fileSize: FileStamp(index).size) {
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
