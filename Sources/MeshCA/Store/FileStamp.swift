import MeshPlatform

/// What identifies a file version: device, inode, size and modification time (following symlinks, so a
/// Kubernetes `..data` swap counts as a change).
public struct FileStamp: Equatable, Sendable {
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
}
