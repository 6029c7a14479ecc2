import MeshPlatform
import NIOConcurrencyHelpers

/// A file written in its directory but not yet named (Linux `O_TMPFILE`): `FileBatch` links it under its final
/// name once its data is durable. It appears whole, in one `linkat`, with no temporary name to rename or to
/// leave behind after a crash — an unlinked inode is simply freed. One directory insert instead of a create,
/// then a rename's remove and insert: the enrollment server writes every certificate it signs this way,
/// before the commit, off the thread that serializes commits.
final class UnnamedFile: Sendable {
    let descriptor: Int32
    /// The name it gets at the commit; it must not exist yet.
    let path: String

    /// Writes `bytes` as a new unnamed file in `directory`, which `path` is in; nil where the file system or
    /// platform cannot (then the caller writes a temporary file as usual). Throws when the write itself fails.
    init?(in directory: String, becoming path: String, bytes: [UInt8], mode: mode_t) throws {
        guard Self.isSupported(in: directory) else { return nil }
        let descriptor = Self.open(directory, mode: mode)
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
        self.path = path
        _ = fchmod(descriptor, mode)  // creation mode is masked by umask
        try FileBatch.writeAll(descriptor, bytes, path: path)
    }

    deinit { close(descriptor) }

    /// Gives the file its name; fails if `path` exists.
    func link() throws {
        // linkat(fd, "", …, AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; /proc/self/fd does not (open(2)).
        guard linkat(AT_FDCWD, "/proc/self/fd/\(descriptor)", AT_FDCWD, path, Self.symlinkFollow) == 0 else {
            throw MeshCAError.io("cannot write \(path): \(errnoDescription())")
        }
    }

    /// Whether unnamed files can be made and then linked in `directory` (the file system supports
    /// `O_TMPFILE`, /proc is mounted): tried once per directory.
    static func isSupported(in directory: String) -> Bool {
        support.withLock { known in
            if let answer = known[directory] { return answer }
            // Not decided (the directory does not exist yet, the disk is full): asked again next time.
            guard let answer = probe(directory) else { return false }
            known[directory] = answer
            return answer
        }
    }

    private static let support = ProbeResults()

    private static func probe(_ directory: String) -> Bool? {
        let descriptor = open(directory, mode: 0o600)
        // EOPNOTSUPP, EISDIR, EINVAL: the file system or the kernel has no O_TMPFILE.
        guard descriptor >= 0 else { return [EOPNOTSUPP, EISDIR, EINVAL].contains(errno) ? false : nil }
        defer { close(descriptor) }
        let probe = "\(directory)/.unnamed-probe-\(getpid())-\(UInt32.random(in: .min ... .max))"
        guard linkat(AT_FDCWD, "/proc/self/fd/\(descriptor)", AT_FDCWD, probe, symlinkFollow) == 0 else {
            // Otherwise (no /proc, a link refused): never.
            return [ENOSPC, EDQUOT, EEXIST].contains(errno) ? nil : false
        }
        unlink(probe)
        return true
    }

    private static func open(_ directory: String, mode: mode_t) -> Int32 {
        #if canImport(Glibc) && (arch(x86_64) || arch(arm64))
        // O_TMPFILE (__O_TMPFILE | O_DIRECTORY) is a GNU extension Swift does not import; this is its value on
        // x86_64 and arm64.
        let temporaryFile: Int32 = 0o20_000_000 | O_DIRECTORY
        return Glibc.open(directory, temporaryFile | O_WRONLY | O_CLOEXEC, mode)
        #else
        return -1
        #endif
    }

    /// `AT_SYMLINK_FOLLOW` from fcntl.h.
    private static let symlinkFollow: Int32 = 0x400
}

/// Which directories support unnamed files, behind a lock.
private final class ProbeResults: @unchecked Sendable {
    private let lock = NIOLock()
    private var values: [String: Bool] = [:]

    func withLock<T>(_ body: (inout [String: Bool]) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&values)
    }
}
