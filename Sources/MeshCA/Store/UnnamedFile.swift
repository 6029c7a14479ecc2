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
    private let linking: Linking

    /// How a descriptor gets its name. `linkat(fd, "", …, AT_EMPTY_PATH)` names it directly; Linux before 6.10
    /// allows that only with CAP_DAC_READ_SEARCH, so elsewhere the file is linked through /proc/self/fd, which
    /// costs a path lookup in /proc on the commit thread.
    enum Linking: Sendable {
        case emptyPath
        case procPath

        func link(_ descriptor: Int32, to path: String) -> Bool {
            switch self {
            case .emptyPath: linkat(descriptor, "", AT_FDCWD, path, UnnamedFile.emptyPath) == 0
            case .procPath: linkat(AT_FDCWD, "/proc/self/fd/\(descriptor)", AT_FDCWD, path, UnnamedFile.symlinkFollow) == 0
            }
        }
    }

    /// Writes `bytes` as a new unnamed file in `directory`, which `path` is in; nil where the file system or
    /// platform cannot (then the caller writes a temporary file as usual). Throws when the write itself fails.
    init?(in directory: String, becoming path: String, bytes: [UInt8], mode: mode_t) throws {
        guard let linking = Self.linking(in: directory) else { return nil }
        let descriptor = Self.open(directory, mode: mode)
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
        self.path = path
        self.linking = linking
        FileBatch.undoUmask(descriptor, mode)
        try FileBatch.writeAll(descriptor, bytes, path: path)
    }

    deinit { close(descriptor) }

    /// Gives the file its name; fails if `path` exists.
    func link() throws {
        guard linking.link(descriptor, to: path) else {
            throw MeshCAError.io("cannot write \(path): \(errnoDescription())")
        }
    }

    /// How unnamed files made in `directory` get their names; nil when they cannot be made or linked there (no
    /// `O_TMPFILE` in the file system, neither linking allowed): tried once per directory.
    static func linking(in directory: String) -> Linking? {
        support.withLock { known in
            if let answer = known[directory] { return answer }
            // Not decided (the directory does not exist yet, the disk is full): asked again next time.
            guard let answer = probe(directory) else { return nil }
            known[directory] = .some(answer)  // nil would remove the entry, not record "never"
            return answer
        }
    }

    private static let support = ProbeResults()

    /// The answer for `directory`: `.some(nil)` never, nil not decided yet.
    private static func probe(_ directory: String) -> Linking?? {
        let descriptor = open(directory, mode: 0o600)
        // EOPNOTSUPP, EISDIR, EINVAL: the file system or the kernel has no O_TMPFILE.
        guard descriptor >= 0 else { return [EOPNOTSUPP, EISDIR, EINVAL].contains(errno) ? .some(nil) : nil }
        defer { close(descriptor) }
        let probe = "\(directory)/.unnamed-probe-\(getpid())-\(UInt32.random(in: .min ... .max))"
        for linking in [Linking.emptyPath, .procPath] where linking.link(descriptor, to: probe) {
            unlink(probe)
            return linking
        }
        // Otherwise (no /proc, a link refused): never.
        return [ENOSPC, EDQUOT, EEXIST].contains(errno) ? nil : .some(nil)
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

    /// `AT_SYMLINK_FOLLOW` and `AT_EMPTY_PATH` from fcntl.h.
    fileprivate static let symlinkFollow: Int32 = 0x400
    fileprivate static let emptyPath: Int32 = 0x1000
}

/// How each directory links unnamed files (nil: it cannot), behind a lock.
private final class ProbeResults: @unchecked Sendable {
    private let lock = NIOLock()
    private var values: [String: UnnamedFile.Linking?] = [:]

    func withLock<T>(_ body: (inout [String: UnnamedFile.Linking?]) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&values)
    }
}
