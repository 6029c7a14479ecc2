import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes that readers never see half-done, made durable together: every file is written to a temporary
/// sibling, then one sync makes all of them durable, then they are renamed into place in order.
///
/// One `syncfs` plus one directory `fsync` per batch instead of one `fsync` per file: an issuance writes four
/// files, and each separate sync costs a journal commit (about 1 ms on this project's ext4 disks).
struct FileBatch {
    private var staged: [(temporary: String, path: String)] = []
    private var committed = false

    /// Set `CERTTOOL_SYNC=off` to skip syncing (tests, throwaway CAs); atomic renames are kept.
    static let syncEnabled = ProcessInfo.processInfo.environment["CERTTOOL_SYNC"] != "off"

    mutating func stage(_ path: String, _ text: String, mode: mode_t) throws {
        try stage(path, Array(text.utf8), mode: mode)
    }

    mutating func stage(_ path: String, _ bytes: [UInt8], mode: mode_t) throws {
        let temporary = Self.temporaryName(for: path)
        // The mode is set at creation so a private key is never readable by others, even briefly.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        // Errors name the file the user knows, not its temporary sibling (which `discard` removes).
        guard fd >= 0 else { throw MeshCAError.io("cannot write \(path): \(errnoDescription())") }
        staged.append((temporary, path))
        defer { close(fd) }
        _ = fchmod(fd, mode)  // creation mode is masked by umask
        try Self.writeAll(fd, bytes, path: path)
    }

    /// Stages `path` as a second name for the file already staged at `original` (same bytes): one inode
    /// instead of two, and replacing `path` later frees no data blocks while `original` still links them —
    /// on ext4 mounted with `discard`, freeing a file's blocks costs about 1 ms. Writes `bytes` when the file
    /// system cannot link.
    mutating func stage(_ path: String, sameAs original: String, _ bytes: [UInt8], mode: mode_t) throws {
        guard let source = staged.first(where: { $0.path == original })?.temporary else {
            return try stage(path, bytes, mode: mode)
        }
        let temporary = Self.temporaryName(for: path)
        guard link(source, temporary) == 0 else { return try stage(path, bytes, mode: mode) }
        staged.append((temporary, path))
    }

    private static func temporaryName(for path: String) -> String {
        "\(path).tmp-\(getpid())-\(UInt32.random(in: .min ... .max))"
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw MeshCAError.io("cannot write \(path): \(errnoDescription())")
            }
            offset += written
        }
    }

    /// Syncs every staged file, renames them into place in staging order, then syncs their directories.
    mutating func commit() throws {
        guard let first = staged.first else { return }
        if Self.syncEnabled {
            let fd = open(first.temporary, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw MeshCAError.io("cannot open \(first.path): \(errnoDescription())") }
            defer { close(fd) }
            let synced: Bool
            if let syncfs = Self.syncfs {
                synced = syncfs(fd) == 0
            } else {
                synced = staged.allSatisfy { entry in
                    let file = open(entry.temporary, O_RDONLY | O_CLOEXEC)
                    defer { close(file) }
                    return file >= 0 && fsync(file) == 0
                }
            }
            guard synced else { throw MeshCAError.io("cannot sync \(first.path): \(errnoDescription())") }
        }
        for entry in staged {
            guard rename(entry.temporary, entry.path) == 0 else {
                throw MeshCAError.io("cannot rename \(entry.temporary) to \(entry.path): \(errnoDescription())")
            }
        }
        committed = true
        if Self.syncEnabled {
            for directory in Set(staged.map { ($0.path as NSString).deletingLastPathComponent }) {
                let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if fd >= 0 {
                    _ = fsync(fd)
                    close(fd)
                }
            }
        }
    }

    /// Linux's `syncfs(2)` is not imported into Swift; look it up once (nil elsewhere: fsync each file).
    private static let syncfs: (@convention(c) (Int32) -> Int32)? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syncfs")
        .map { unsafeBitCast($0, to: (@convention(c) (Int32) -> Int32).self) }

    /// Removes temporaries that were not committed (after an error).
    func discard() {
        guard !committed else { return }
        for entry in staged { unlink(entry.temporary) }
    }

    /// Appends `bytes` to an existing file with one write and syncs its data: the commit of an append-only
    /// log. A crash can leave a torn last line, which readers drop (see `CertificateDatabase`); a failed
    /// write (disk full) is cut back off so the file holds exactly what it held before.
    static func appendDurably(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw MeshCAError.io("cannot open \(path): \(errnoDescription())") }
        defer { close(fd) }
        let length = lseek(fd, 0, SEEK_END)
        do {
            try writeAll(fd, bytes, path: path)
            if syncEnabled && fdatasync(fd) != 0 {
                throw MeshCAError.io("cannot sync \(path): \(errnoDescription())")
            }
        } catch {
            if length >= 0 { _ = ftruncate(fd, length) }
            throw error
        }
    }

    /// Reserves room to append `count` bytes to `path` without growing it, so that an append committing a
    /// batch cannot fail for space after the batch's files are in place. Throws (disk full) before anything
    /// is written; a file system without `fallocate` is simply not reserved on.
    static func reserveAppend(_ path: String, count: Int) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let length = lseek(fd, 0, SEEK_END)
        guard length >= 0, let fallocate = Self.fallocate, fallocate(fd, keepSize, length, off_t(count)) != 0 else { return }
        if errno == ENOSPC || errno == EDQUOT {
            throw MeshCAError.io("cannot write \(path): \(errnoDescription())")
        }
    }

    /// `FALLOC_FL_KEEP_SIZE` from linux/falloc.h.
    private static let keepSize: Int32 = 0x01
    /// Linux's `fallocate(2)` is a GNU extension Swift does not import; nil elsewhere.
    private static let fallocate: (@convention(c) (Int32, Int32, off_t, off_t) -> Int32)? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "fallocate")
        .map { unsafeBitCast($0, to: (@convention(c) (Int32, Int32, off_t, off_t) -> Int32).self) }

    /// Stages, commits and cleans up in one go.
    static func perform(_ body: (inout FileBatch) throws -> Void) throws {
        var batch = FileBatch()
        defer { batch.discard() }
        try body(&batch)
        try batch.commit()
    }
}
