import Foundation

/// A small tmpfs mounted over a workspace directory, to make writes fail for real: the tests run as root,
/// for whom file modes refuse nothing. Unmounted (lazily) when released, before its workspace goes.
final class SmallMount {
    let path: String
    private let ws: Workspace
    static let filler = ".fill"

    init(_ ws: Workspace, at relative: String, size: String = "512k") throws {
        self.ws = ws
        path = ws.path(relative)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let result = try Command.run("mount", ["-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", path])
        guard result.status == 0 else { throw TestFailure("cannot mount a tmpfs (these tests need root): \(result.output)") }
    }

    /// Takes every free byte with a filler file, or all but `leaving` bytes (rounded down to 4 KiB blocks).
    func fill(leaving: Int = 0) throws {
        guard leaving > 0 else {
            _ = try Command.run("dd", ["if=/dev/zero", "of=\(path)/\(Self.filler)", "bs=4k"])
            let df = try Command.run("df", ["--output=avail", path])
            guard df.stdout.split(separator: "\n").last?.trimmingCharacters(in: .whitespaces) == "0" else {
                throw TestFailure("the mount is not full: \(df.output)")
            }
            return
        }
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { throw TestFailure("cannot statvfs \(path)") }
        let blocks = (Int(info.f_bavail) * Int(info.f_frsize) - leaving) / 4096
        guard blocks > 0 else { throw TestFailure("\(path) has less than \(leaving) bytes free already") }
        _ = try Command.run("dd", ["if=/dev/zero", "of=\(path)/\(Self.filler)", "bs=4k", "count=\(blocks)"])
    }

    func free() { unlink("\(path)/\(Self.filler)") }

    func setReadOnly(_ readOnly: Bool) throws {
        let result = try Command.run("mount", ["-o", readOnly ? "remount,ro" : "remount,rw", path])
        guard result.status == 0 else { throw TestFailure("cannot remount \(path): \(result.output)") }
    }

    deinit { _ = try? Command.run("umount", ["-l", path]) }
}
