import MeshPlatform
import X509

/// pki/packs/: the certificates `certtool serve` signs, appended in the order they were committed to numbered
/// files (`000001.pem`, …), PEM one after another, a new one once a pack reaches `limit`.
///
/// A file per certificate (`certs_by_serial/`, kept for `certtool issue` and `sign`) cost an enrollment server
/// more than its signature: a create, a link and the write-back of another inode for each, ≈ a quarter of the
/// CPU and of the rate (docs/benchmarks.md, issue 4). A fleet renewing daily would also fill one directory with
/// millions of files. A batch appends to its pack with one write instead; the journal record names the pack and
/// the offset, so that a replay writes the same bytes at the same place (`IssuanceJournal.Record.Placement`).
struct CertificatePacks {
    let directory: String
    /// Size from which the next batch starts a new pack.
    let limit: Int

    func path(_ name: String) -> String { "\(directory)/\(name)" }

    static func name(_ number: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".pem"
    }

    static func number(of name: String) -> Int? {
        guard name.hasSuffix(".pem") else { return nil }
        return Int(name.dropLast(4))
    }

    /// The packs, oldest first.
    func names() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return entries.compactMap { name in Self.number(of: name).map { ($0, name) } }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// Where `count` bytes go: the end of pack `current` (nil: the newest), or of the first after it with room.
    /// Returns the pack's number too, for the caller to start from next time.
    func placement(ofCount count: Int, current: Int?) -> (number: Int, placement: IssuanceJournal.Record.Placement) {
        var number = current ?? names().last.flatMap(Self.number(of:)) ?? 1
        while true {
            let size = Int(max(0, FileStamp(untimed: path(Self.name(number))).size))
            if size == 0 || size + count <= limit {
                return (number, .init(pack: Self.name(number), offset: size))
            }
            number += 1
        }
    }

    /// Reserves room for `count` bytes after the pack's end (and `ahead` more, see `FileBatch.reserveAppend`), so
    /// that writing them after the commit point cannot fail for space. A new pack is created for it, and removed
    /// again (it holds nothing) when the reservation fails.
    func reserve(_ placement: IssuanceJournal.Record.Placement, count: Int, ahead: Int = 0) throws {
        let file = path(placement.pack)
        let starts = placement.offset == 0
        if starts {
            let fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw MeshCAError.io("cannot write \(file): \(errnoDescription())") }
            close(fd)
        }
        do {
            // No room beyond the pack's limit: the next pack takes the batches after it.
            let ahead = min(ahead, max(0, limit - placement.offset - count))
            try FileBatch.reserveAppend(file, count: count, ahead: ahead)
        } catch {
            if starts { unlink(file) }
            throw error
        }
    }

    /// Writes `bytes` at the placement, unsynced (the journal holds them; a checkpoint syncs them). With
    /// `endingThere`, the pack is cut after them: what a crash left beyond the last record is no certificate.
    func write(_ bytes: [UInt8], at placement: IssuanceJournal.Record.Placement, endingThere: Bool = false) throws {
        let file = path(placement.pack)
        let fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw MeshCAError.io("cannot write \(file): \(errnoDescription())") }
        defer { close(fd) }
        FileBatch.undoUmask(fd, 0o644)
        try FileBatch.writeAll(fd, bytes, at: placement.offset, path: file)
        if endingThere, ftruncate(fd, off_t(placement.offset + bytes.count)) != 0 {
            throw MeshCAError.io("cannot write \(file): \(errnoDescription())")
        }
    }

    /// Every certificate in the packs whose serial is in `serials`.
    func certificates(serials: Set<String>) throws -> [String: Certificate] {
        var found: [String: Certificate] = [:]
        for name in names() {
            guard let text = try readIfPresent(path(name)), !text.isEmpty else { continue }
            for certificate in try PEMFiles.certificates(text, source: path(name)) {
                let serial = certificate.serialNumber.hexString
                if serials.contains(serial) { found[serial] = certificate }
            }
        }
        return found
    }
}

extension IssuanceJournal.Record {
    /// What the record's batch appends to its pack: each leaf's PEM, in order (the first certificate of each
    /// chain, exactly as the chain's PEM begins).
    var packBytes: [UInt8] {
        issued.flatMap { Self.leafPEM(of: $0.chainPEM).utf8 }
    }

    static func leafPEM(of chainPEM: String) -> Substring {
        let end = Array("-----END CERTIFICATE-----\n".utf8)
        let bytes = chainPEM.utf8
        var index = bytes.startIndex
        while let dash = bytes[index...].firstIndex(of: end[0]) {
            if bytes[dash...].starts(with: end) { return chainPEM[..<bytes.index(dash, offsetBy: end.count)] }
            index = bytes.index(after: dash)
        }
        return chainPEM[...]
    }
}
