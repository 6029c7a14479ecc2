import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file writes that readers never see half-done: write a temporary sibling, fsync, then rename.
enum AtomicFile {
    static func replace(_ path: String, with text: String, mode: mode_t) throws {
        try replace(path, with: Array(text.utf8), mode: mode)
    }

    static func replace(_ path: String, with bytes: [UInt8], mode: mode_t) throws {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: .min ... .max))"
        // The mode is set at creation so a private key is never readable by others, even briefly.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw MeshCAError.io("cannot create \(temporary): \(errnoDescription())") }
        var ok = false
        defer {
            if !ok { unlink(temporary) }
        }
        do {
            defer { close(fd) }
            _ = fchmod(fd, mode)  // creation mode is masked by umask
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw MeshCAError.io("cannot write \(temporary): \(errnoDescription())")
                }
                offset += written
            }
            guard fsync(fd) == 0 else { throw MeshCAError.io("cannot sync \(temporary): \(errnoDescription())") }
        }
        guard rename(temporary, path) == 0 else {
            throw MeshCAError.io("cannot rename \(temporary) to \(path): \(errnoDescription())")
        }
        ok = true
    }

    static func read(_ path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw MeshCAError.io("cannot read \(path): \(error.localizedDescription)")
        }
    }
}
