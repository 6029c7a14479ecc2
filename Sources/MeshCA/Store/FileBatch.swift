import MeshPlatform

#if os(Linux)
import CGlibc
#endif

/// Writes that readers never see half-done, made durable together: every file is written to a temporary
/// sibling, then one sync makes all of them durable, then they are renamed into place in order.
///
/// One `syncfs` plus one directory `fsync` per batch instead of one `fsync` per file: an issuance writes four
/// files, and each separate sync costs a journal commit (about 1 ms on this project's ext4 disks).
struct FileBatch {
    /// A file written under `temporary`, renamed to `path` at the commit.
    private struct Entry {
        var temporary: String
        var path: String
    }

    private var staged: [Entry] = []
    private var committed = false

    /// Set `CERTTOOL_SYNC=off` to skip syncing (tests, throwaway CAs); atomic renames are kept.
    static let syncEnabled = environmentVariable("CERTTOOL_SYNC") != "off"

    mutating func stage(_ path: String, _ text: String, mode: mode_t) throws {
        try stage(path, Array(text.utf8), mode: mode)
    }

    mutating func stage(_ path: String, _ bytes: [UInt8], mode: mode_t) throws {
        let temporary = Self.temporaryName(for: path)
        // The mode is set at creation so a private key is never readable by others, even briefly.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        // Errors name the file the user knows, not its temporary sibling (which `discard` removes).
        guard fd >= 0 else { throw MeshCAError.io("cannot write \(path): \(errnoDescription())") }
        staged.append(Entry(temporary: temporary, path: path))
        defer { close(fd) }
        Self.undoUmask(fd, mode)
        Self.allocate(fd, count: bytes.count)
        try Self.writeAll(fd, bytes, path: path)
    }

    /// Gives a new file its blocks before it is written. ext4 (`auto_da_alloc`, its default) starts writing out a
    /// file whose blocks are still unallocated when it is renamed over another: one I/O submitted from inside
    /// every such `rename` of a journaled batch, which syncs nothing itself. A file written into blocks it
    /// already has goes out with the rest instead, at the next checkpoint's `syncfs` at the latest. Measured in
    /// docs/benchmarks.md (`bench/enroll`'s fleet rows).
    private static func allocate(_ fd: Int32, count: Int) {
        #if os(Linux)
        if count > 0 { _ = fallocate(fd, 0, 0, off_t(count)) }
        #endif
    }

    /// Gives a file just created with `mode` that mode, where the process's umask narrowed it.
    static func undoUmask(_ fd: Int32, _ mode: mode_t) {
        if mode & processUmask != 0 { _ = fchmod(fd, mode) }
    }

    /// Read once from /proc/self/status, as umask(2) can only read it by changing it (nothing here changes it);
    /// where that is not possible, every mode is treated as narrowed.
    private static let processUmask: mode_t = {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
            let value = mode_t(line.dropFirst("Umask:".count).trimming(while: \.isWhitespace), radix: 8)
        else { return 0o777 }
        return value
    }()

    /// Stages `path` as a second name for the file already staged at `original` (same bytes): one inode
    /// instead of two, and replacing `path` later frees no data blocks while `original` still links them —
    /// on ext4 mounted with `discard`, freeing a file's blocks costs about 1 ms. Writes `bytes` when the file
    /// system cannot link.
    mutating func stage(_ path: String, sameAs original: String, _ bytes: @autoclosure () throws -> [UInt8], mode: mode_t) throws {
        guard let source = staged.first(where: { $0.path == original }) else {
            return try stage(path, try bytes(), mode: mode)
        }
        let temporary = Self.temporaryName(for: path)
        guard link(source.temporary, temporary) == 0 else { return try stage(path, try bytes(), mode: mode) }
        staged.append(Entry(temporary: temporary, path: path))
    }

    private static func temporaryName(for path: String) -> String {
        "\(path).tmp-\(getpid())-\(UInt32.random(in: .min ... .max))"
    }

    /// Writes all of `bytes` at the file's position, or at `offset` when given.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int? = nil, path: String) throws {
        var done = 0
        while done < bytes.count {
            let written = bytes[done...].withUnsafeBytes { chunk in
                offset.map { pwrite(fd, chunk.baseAddress, chunk.count, off_t($0 + done)) } ?? write(fd, chunk.baseAddress, chunk.count)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw MeshCAError.io("cannot write \(path): \(errnoDescription())")
            }
            done += written
        }
    }

    /// Syncs every staged file, renames them into place in staging order, then syncs their directories. Not
    /// `durable`: only renames, for writes a journal already made durable (see `IssuanceJournal`).
    mutating func commit(durable: Bool = true) throws {
        guard let first = staged.first else { return }
        let sync = durable && Self.syncEnabled
        if sync {
            try Self.sync(on: Self.directory(of: first.path), files: staged.map(\.temporary), naming: first.path)
        }
        for entry in staged { try Self.move(entry.temporary, to: entry.path) }
        committed = true
        guard sync else { return }
        for directory in Set(staged.map { Self.directory(of: $0.path) }) { Self.syncDirectory(directory) }
    }

    /// The directory part of a file path ("" for a bare name), without bridging to NSString on the commit path.
    private static func directory(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "" }
        return slash == path.utf8.startIndex ? "/" : String(path[..<slash])
    }

    private static func move(_ temporary: String, to path: String) throws {
        guard rename(temporary, path) == 0 else {
            throw MeshCAError.io("cannot rename \(temporary) to \(path): \(errnoDescription())")
        }
    }

    /// Makes the files durable: one `syncfs` of the file system holding `anchor` (a directory) on Linux,
    /// elsewhere an `fsync` of each.
    private static func sync(on anchor: String, files: [String], naming path: String) throws {
        #if os(Linux)
        try syncFileSystem(of: anchor.isEmpty ? "." : anchor, naming: path)
        #else
        let synced = files.allSatisfy { file in
            let fd = open(file, O_RDONLY | O_CLOEXEC)
            defer { close(fd) }
            return fd >= 0 && fsync(fd) == 0
        }
        guard synced else { throw MeshCAError.io("cannot sync \(path): \(errnoDescription())") }
        #endif
    }

    private static func syncDirectory(_ directory: String) {
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    /// Removes temporaries that were not committed (after an error).
    func discard() {
        guard !committed else { return }
        for entry in staged { unlink(entry.temporary) }
    }

    /// Appends `bytes` to an existing file with one write and, when `durably`, syncs its data: the commit of an
    /// append-only log. A crash can leave a torn tail, which readers drop (see `CertificateDatabase`,
    /// `IssuanceJournal`); a failed write (disk full) is cut back off so the file holds exactly what it held
    /// before.
    static func append(_ path: String, _ bytes: [UInt8], durably: Bool) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw MeshCAError.io("cannot open \(path): \(errnoDescription())") }
        defer { close(fd) }
        let length = lseek(fd, 0, SEEK_END)
        do {
            try writeAll(fd, bytes, path: path)
            if durably && syncEnabled && fdatasync(fd) != 0 {
                throw MeshCAError.io("cannot sync \(path): \(errnoDescription())")
            }
        } catch {
            if length >= 0 { _ = ftruncate(fd, length) }
            throw error
        }
    }

    /// Writes `bytes` at `offset` of an existing file with one write and, when `durably`, syncs its data: in a
    /// laid-out file (already that long, no holes) the sync writes no inode.
    static func overwrite(_ path: String, _ bytes: [UInt8], at offset: Int, durably: Bool) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw MeshCAError.io("cannot open \(path): \(errnoDescription())") }
        defer { close(fd) }
        try writeAll(fd, bytes, at: offset, path: path)
        if durably && syncEnabled && fdatasync(fd) != 0 {
            throw MeshCAError.io("cannot sync \(path): \(errnoDescription())")
        }
    }

    /// Reserves room to append `count` bytes to `path` without growing it, so that an append committing a
    /// batch cannot fail for space after the batch's files are in place. Throws (disk full) before anything
    /// is written; a file system without `fallocate` is simply not reserved on.
    ///
    /// With `ahead`, reserves that many bytes more where there is room, and makes no reservation while the file
    /// has its room already: each reservation changes the file's inode (see `FileStamp.init(untimed:)` for what
    /// that costs an enrollment server's journal).
    static func reserveAppend(_ path: String, count: Int, ahead: Int = 0) throws {
        #if os(Linux)
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var info = statx()
        guard statx_call(fd, "", emptyPath, UInt32(STATX_SIZE | STATX_BLOCKS), &info) == 0 else { return }
        let size = Int(info.stx_size)
        if ahead > 0 {
            // Appended files have no holes, so the blocks beyond the end are the room left; the slack covers
            // the blocks of a fragmented file's extent tree, which count too.
            let end = (size + count + 4095) / 4096 * 4096
            if Int(info.stx_blocks) * 512 >= end + reservationSlack { return }
            if fallocate(fd, keepSize, off_t(size), off_t(count + ahead)) == 0 { return }
        }
        guard fallocate(fd, keepSize, off_t(size), off_t(count)) != 0 else { return }
        if errno == ENOSPC || errno == EDQUOT {
            throw MeshCAError.io("cannot write \(path): \(errnoDescription())")
        }
        #endif
    }

    #if os(Linux)
    private static let reservationSlack = 16 << 10
    /// `FALLOC_FL_KEEP_SIZE` from linux/falloc.h.
    private static let keepSize: Int32 = 0x01
    /// `AT_EMPTY_PATH` from fcntl.h, a GNU extension.
    private static let emptyPath: Int32 = 0x1000
    #endif

    /// Stages, commits and cleans up in one go.
    static func perform(durable: Bool = true, _ body: (inout FileBatch) throws -> Void) throws {
        var batch = FileBatch()
        defer { batch.discard() }
        try body(&batch)
        try batch.commit(durable: durable)
    }

    /// Makes everything written on the file system holding `directory` durable: one `syncfs` on Linux,
    /// elsewhere `sync`. Errors name `path` (the file the user knows), else the directory.
    static func syncFileSystem(of directory: String, naming path: String? = nil) throws {
        guard syncEnabled else { return }
        #if os(Linux)
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw MeshCAError.io("cannot open \(directory): \(errnoDescription())") }
        defer { close(fd) }
        guard syncfs(fd) == 0 else { throw MeshCAError.io("cannot sync \(path ?? directory): \(errnoDescription())") }
        #elseif canImport(Darwin)
        Darwin.sync()
        #endif
    }
}
