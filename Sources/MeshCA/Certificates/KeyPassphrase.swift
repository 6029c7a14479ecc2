import MeshPlatform
import NIOConcurrencyHelpers
import SwiftASN1

/// Where the passphrase of an encrypted CA key comes from. It is read at most once per process, and only
/// when an encrypted key is actually read or written.
public final class KeyPassphrase: @unchecked Sendable {
    private let source: () throws -> [UInt8]
    private let lock = NIOLock()
    private var cached: [UInt8]?

    public init(_ source: @escaping () throws -> [UInt8]) {
        self.source = source
    }

    /// The first line of a file (a Kubernetes Secret, say); trailing newline removed.
    public static func file(_ path: String) -> KeyPassphrase {
        KeyPassphrase {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw MeshCAError.invalidInput("cannot read the passphrase file '\(path)'")
            }
            return Array(data.prefix { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") })
        }
    }

    public static func environment(_ name: String) -> KeyPassphrase {
        KeyPassphrase {
            guard let value = environmentVariable(name), !value.isEmpty else {
                throw MeshCAError.invalidInput("the environment variable \(name) holds no passphrase")
            }
            return Array(value.utf8)
        }
    }

    func value() throws -> [UInt8] {
        try lock.withLock {
            if let cached { return cached }
            let value = try source()
            guard !value.isEmpty else { throw MeshCAError.invalidInput("the passphrase is empty") }
            cached = value
            return value
        }
    }

    deinit {
        // In place: `if var` would zero a copy and leave the cached buffer as it was.
        if cached != nil { SecretBytes.cleanse(&cached!) }
    }
}
