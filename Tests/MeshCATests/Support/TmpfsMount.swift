import Foundation

/// A tmpfs of `size` mounted at a new directory, to make writes run out of space for real (the tests run as
/// root); unmounted when released.
final class TmpfsMount {
    let path: String

    init(at path: String, size: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard Self.run("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path]) == 0 else {
            throw Failure(description: "cannot mount a tmpfs at \(path) (these tests need root)")
        }
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Bytes still free.
    var available: Int {
        var info = statvfs()
        return statvfs(path, &info) == 0 ? Int(info.f_bavail) * Int(info.f_frsize) : 0
    }

    deinit { _ = Self.run("/usr/bin/umount", ["-l", path]) }

    private static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
