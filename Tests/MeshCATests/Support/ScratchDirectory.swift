import Foundation

/// A directory under the system's temporary directory (not created), removed with its contents once the test
/// holding it is done, so that test runs leave nothing behind.
final class ScratchDirectory: Sendable {
    let path: String

    init(_ prefix: String) {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
