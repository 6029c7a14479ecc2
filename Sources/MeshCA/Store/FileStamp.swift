import MeshPlatform

#if os(Linux)
import CGlibc
#endif

/// What identifies a file version: device, inode, size and modification time (following symlinks, so a
/// Kubernetes `..data` swap counts as a change).
public struct FileStamp: Equatable, Sendable {
    /// `seconds` and `nanoseconds` are the modification time, or the birth time in an untimed stamp.
    var device: UInt64 = 0, inode: UInt64 = 0, seconds: Int = 0, nanoseconds: Int = 0
    /// -1 when the file does not exist.
    public private(set) var size: Int64 = -1

    public init(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        #if canImport(Darwin)
        seconds = info.st_mtimespec.tv_sec
        nanoseconds = info.st_mtimespec.tv_nsec
        #else
        seconds = info.st_mtim.tv_sec
        nanoseconds = info.st_mtim.tv_nsec
        #endif
    }

    /// Device, inode, birth time and size, for the files in pki/ that only writers holding its lock change, each
    /// by appending (a new size) or by replacing the file (a new inode, born later). It does not ask for the
    /// modification time: on Linux (6.13 and later) asking makes the file's next write take a fine-grained
    /// time, which changes its inode — and ext4 without a journal writes the inode's block synchronously in
    /// the next `fdatasync` of pki/journal, whose inode shares it. Elsewhere, the same as `init(_:)`.
    init(untimed path: String) {
        #if os(Linux)
        var info = statx()
        guard statx_call(AT_FDCWD, path, 0, UInt32(STATX_INO | STATX_SIZE | STATX_BTIME), &info) == 0 else { return }
        device = UInt64(info.stx_dev_major) << 32 | UInt64(info.stx_dev_minor)
        inode = info.stx_ino
        size = Int64(info.stx_size)
        seconds = Int(info.stx_btime.tv_sec)
        nanoseconds = Int(info.stx_btime.tv_nsec)
        #else
        self.init(path)
        #endif
    }
}
