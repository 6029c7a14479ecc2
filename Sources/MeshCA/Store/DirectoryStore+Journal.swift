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
        for record in IssuanceJournal.records(in: bytes) { try replay(record) }
        try checkpointJournal()
    }

    /// Writes what `record` says pki/ holds, where it does not hold it yet; unsynced (a checkpoint follows).
    private func replay(_ record: IssuanceJournal.Record) throws {
        try FileBatch.perform(durable: false) { batch in
            for issued in record.issued {
                let leaf = try PEMFiles.certificates(issued.chainPEM, source: journalPath)[0]
                try stage(path("certs_by_serial/\(leaf.serialNumber.hexString).pem"), try leaf.pemString(), mode: 0o644, into: &batch)
                if issued.publishes { try stage(path("issued/\(issued.name).crt"), issued.chainPEM, mode: 0o644, into: &batch) }
            }
            if !record.redeemed.isEmpty {
                var ledger = try loadTokenLedger()
                for token in record.redeemed { _ = ledger.consume(token.id, expiresAt: token.expiresAt) }
                try stage(path("tokens.used"), ledger.serialized(now: Date()), mode: 0o600, into: &batch)
            }
        }
        for issued in record.issued where issued.publishes { unlink(path("private/\(issued.name).key")) }

        var database = try loadDatabase()
        let rows = try CertificateDatabase(parsing: record.rows, source: journalPath).records
        let missing = rows.filter { database.record(serial: $0.serial) == nil }
        guard !missing.isEmpty else { return }
        for row in missing { database.append(row) }
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
        if FileManager.default.contents(atPath: path).map({ Array($0) }) == Array(text.utf8) { return }
        try batch.stage(path, text, mode: mode)
    }
}
