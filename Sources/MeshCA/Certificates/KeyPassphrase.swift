import CLibCrypto
import Foundation
import SwiftASN1

/// Where the passphrase of an encrypted CA key comes from. It is read at most once per process, and only
/// when an encrypted key is actually read or written.
public final class KeyPassphrase: @unchecked Sendable {
    private let source: () throws -> [UInt8]
    private let lock = NSLock()
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
            guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
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
        if var cached { cached.withUnsafeMutableBytes { meshca_cleanse($0.baseAddress, $0.count) } }
    }
}

/// Encrypted PKCS#8 (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC) through the system libcrypto, which
/// `openssl pkey -passin` reads; swift-crypto has no password-based encryption.
enum EncryptedKeyPEM {
    static func isEncrypted(_ pem: String) -> Bool {
        (try? PEMDocument(pemString: pem))?.discriminator == "ENCRYPTED PRIVATE KEY"
    }

    static func encrypt(_ plainPEM: String, passphrase: [UInt8]) throws -> String {
        guard let pem = try convert(plainPEM, inputPassphrase: nil, outputPassphrase: passphrase) else {
            throw MeshCAError.io("cannot encrypt the private key with libcrypto")
        }
        return pem
    }

    /// Nil when the passphrase is wrong (or the file is not a key).
    static func decrypt(_ encryptedPEM: String, passphrase: [UInt8]) throws -> String? {
        try convert(encryptedPEM, inputPassphrase: passphrase, outputPassphrase: nil)
    }

    private static func convert(_ pem: String, inputPassphrase: [UInt8]?, outputPassphrase: [UInt8]?) throws -> String? {
        guard meshca_libcrypto_available() != 0 else {
            throw MeshCAError.io("encrypted keys need the system OpenSSL's libcrypto.so.3, which cannot be loaded: install it (Debian: apt-get install libssl3)")
        }
        let input = Array(pem.utf8)
        var inPass = (inputPassphrase ?? []).map { CChar(bitPattern: $0) } + [0]
        var outPass = (outputPassphrase ?? []).map { CChar(bitPattern: $0) } + [0]
        defer {
            inPass.withUnsafeMutableBytes { meshca_cleanse($0.baseAddress, $0.count) }
            outPass.withUnsafeMutableBytes { meshca_cleanse($0.baseAddress, $0.count) }
        }
        guard let result = input.withUnsafeBufferPointer({ bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                meshca_pkcs8_pem(chars.baseAddress, chars.count, inPass, outPass, outPass.count - 1)
            }
        }) else { return nil }
        defer {
            meshca_cleanse(result, strlen(result))
            free(result)
        }
        return String(cString: result)
    }
}
