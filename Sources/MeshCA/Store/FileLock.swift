#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An advisory `flock(2)` lock on a file, held across processes for the duration of `body`.
struct FileLock {
    let path: String

    func withLock<T>(exclusive: Bool, _ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw MeshCAError.io("cannot open lock file \(path): \(errnoDescription())") }
        defer { close(fd) }
        while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            guard errno == EINTR else { throw MeshCAError.io("cannot lock \(path): \(errnoDescription())") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}

func errnoDescription() -> String { String(cString: strerror(errno)) }
