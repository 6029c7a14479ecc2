import MeshPlatform

/// An advisory `flock(2)` lock on a file, held across processes for the duration of `body`.
struct FileLock {
    let path: String

    func withLock<T>(exclusive: Bool, _ body: () throws -> T) throws -> T {
        var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 && errno == EROFS && !exclusive {
            // Nothing can write a read-only file system: readers still lock an existing lock file (flock works
            // on a read-only descriptor) and need none when there is none.
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 && errno == ENOENT { return try body() }
        }
        guard fd >= 0 else {
            let reason = errno == EROFS ? "the pki directory is on a read-only file system" : errnoDescription()
            throw MeshCAError.io("cannot lock \(path): \(reason)")
        }
        defer { close(fd) }
        while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            guard errno == EINTR else { throw MeshCAError.io("cannot lock \(path): \(errnoDescription())") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
