import Crypto
import SwiftASN1
import _CryptoExtras
import MeshPlatform

/// Password-based encryption of PKCS#8 keys (RFC 5958 `EncryptedPrivateKeyInfo`, PBES2 from RFC 8018), as
/// `openssl pkey -passin` reads them and as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes them:
///
/// ```
/// EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING }
/// PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme AlgorithmIdentifier }
/// PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER, keyLength INTEGER OPTIONAL,
///                              prf AlgorithmIdentifier DEFAULT hmacWithSHA1 }
/// scrypt-params ::= SEQUENCE { salt OCTET STRING, costParameter INTEGER, blockSize INTEGER,
///                              parallelizationParameter INTEGER, keyLength INTEGER OPTIONAL }   (RFC 7914)
/// ```
///
/// Written: PBKDF2-HMAC-SHA256 with ``iterations`` rounds and AES-256-CBC. Read: PBKDF2 with any SHA-1/SHA-2
/// PRF or scrypt, and AES-128/192/256-CBC — every PBES2 key OpenSSL 3 writes. Legacy PBES1 (DES, RC2) is refused.
enum EncryptedPrivateKey {
    static let pemType = "ENCRYPTED PRIVATE KEY"
    /// PBKDF2 rounds for keys written here: swift-crypto's checked minimum, OWASP's 2023 figure for
    /// PBKDF2-HMAC-SHA256 (OpenSSL's own default, 2,048, is there for compatibility, not strength).
    static let iterations = 210_000
    /// Bounds on what a file may ask for, so a crafted key cannot make a command spin or allocate for minutes.
    static let maximumIterations = 10_000_000
    static let maximumScryptMemory = 32 << 20

    private static let pbes2: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 5, 13]
    private static let pbkdf2: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 5, 12]
    private static let scrypt: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 11591, 4, 11]
    private static let prfs: [ASN1ObjectIdentifier: KDF.Insecure.PBKDF2.HashFunction] = [
        [1, 2, 840, 113_549, 2, 7]: .insecureSHA1,
        [1, 2, 840, 113_549, 2, 8]: .insecureSHA224,
        [1, 2, 840, 113_549, 2, 9]: .sha256,
        [1, 2, 840, 113_549, 2, 10]: .sha384,
        [1, 2, 840, 113_549, 2, 11]: .sha512,
    ]
    private static let hmacWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 2, 9]
    /// AES-CBC by key length in bytes.
    private static let ciphers: [ASN1ObjectIdentifier: Int] = [
        [2, 16, 840, 1, 101, 3, 4, 1, 2]: 16,
        [2, 16, 840, 1, 101, 3, 4, 1, 22]: 24,
        [2, 16, 840, 1, 101, 3, 4, 1, 42]: 32,
    ]
    private static let aes256CBC: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 1, 42]

    static func isEncrypted(_ pem: String) -> Bool {
        (try? PEMDocument(pemString: pem))?.discriminator == pemType
    }

    /// The PEM of `plainPEM` (a `PRIVATE KEY` document) encrypted under `passphrase`.
    static func encrypt(_ plainPEM: String, passphrase: [UInt8]) throws -> String {
        let plain = try PEMDocument(pemString: plainPEM)
        guard plain.discriminator == "PRIVATE KEY" else {
            throw MeshCAError.invalidInput("only PKCS#8 keys (PEM 'PRIVATE KEY') can be encrypted, not '\(plain.discriminator)'")
        }
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = generator.next() }
        let iv = AES._CBC.IV()
        let key = try KDF.Insecure.PBKDF2.deriveKey(
            from: passphrase, salt: salt, using: .sha256, outputByteCount: 32, rounds: iterations)
        let ciphertext = try AES._CBC.encrypt(plain.derBytes, using: key, iv: iv)

        var serializer = DER.Serializer()
        try serializer.appendConstructedNode(identifier: .sequence) { info in
            try info.appendConstructedNode(identifier: .sequence) { algorithm in
                try algorithm.serialize(pbes2)
                try algorithm.appendConstructedNode(identifier: .sequence) { parameters in
                    try parameters.appendConstructedNode(identifier: .sequence) { kdf in
                        try kdf.serialize(pbkdf2)
                        try kdf.appendConstructedNode(identifier: .sequence) { pbkdf2Parameters in
                            try pbkdf2Parameters.serialize(ASN1OctetString(contentBytes: salt[...]))
                            try pbkdf2Parameters.serialize(iterations)
                            try pbkdf2Parameters.appendConstructedNode(identifier: .sequence) { prf in
                                try prf.serialize(hmacWithSHA256)
                                try prf.serialize(ASN1Null())
                            }
                        }
                    }
                    try parameters.appendConstructedNode(identifier: .sequence) { scheme in
                        try scheme.serialize(aes256CBC)
                        try scheme.serialize(ASN1OctetString(contentBytes: ArraySlice(iv)))
                    }
                }
            }
            try info.serialize(ASN1OctetString(contentBytes: ArraySlice(ciphertext)))
        }
        return PEMDocument(type: pemType, derBytes: serializer.serializedBytes).pemString
    }

    /// The plain PKCS#8 PEM inside `encryptedPEM`, or nil when the passphrase is wrong.
    static func decrypt(_ encryptedPEM: String, passphrase: [UInt8]) throws -> String? {
        let document = try PEMDocument(pemString: encryptedPEM)
        let parsed: (key: SymmetricKey, iv: AES._CBC.IV, ciphertext: ArraySlice<UInt8>)
        do {
            parsed = try parse(document.derBytes, passphrase: passphrase)
        } catch let error as MeshCAError {
            throw error
        } catch {
            throw MeshCAError.invalidInput("not a readable encrypted PKCS#8 key: \(error)")
        }
        // A wrong key fails the padding check, or (1 in 256) yields bytes that are not a PrivateKeyInfo.
        guard var plain = try? [UInt8](AES._CBC.decrypt(parsed.ciphertext, using: parsed.key, iv: parsed.iv)) else {
            return nil
        }
        defer { SecretBytes.cleanse(&plain) }
        guard let node = try? DER.parse(plain), node.identifier == .sequence, node.encodedBytes.count == plain.count else {
            return nil
        }
        return PEMDocument(type: "PRIVATE KEY", derBytes: plain).pemString
    }

    private static func parse(_ der: [UInt8], passphrase: [UInt8]) throws
        -> (key: SymmetricKey, iv: AES._CBC.IV, ciphertext: ArraySlice<UInt8>)
    {
        try DER.sequence(try DER.parse(der), identifier: .sequence) { info in
            let (key, iv) = try nestedSequence(&info) { algorithm in
                let scheme = try ASN1ObjectIdentifier(derEncoded: &algorithm)
                guard scheme == pbes2 else {
                    throw MeshCAError.invalidInput(
                        "the key is encrypted with \(scheme), not PBES2: re-encrypt it with 'openssl pkcs8 -topk8 -v2 aes-256-cbc'")
                }
                return try nestedSequence(&algorithm) { parameters in
                    let (kdf, kdfParameters) = try nestedSequence(&parameters) { kdf in
                        (try ASN1ObjectIdentifier(derEncoded: &kdf), try kdf.next().orThrow())
                    }
                    let (keyLength, ivBytes) = try nestedSequence(&parameters) { scheme in
                        let cipher = try ASN1ObjectIdentifier(derEncoded: &scheme)
                        guard let keyLength = ciphers[cipher] else {
                            throw MeshCAError.invalidInput(
                                "the key is encrypted with \(cipher), not AES-CBC: re-encrypt it with 'openssl pkcs8 -topk8 -v2 aes-256-cbc'")
                        }
                        return (keyLength, try ASN1OctetString(derEncoded: &scheme).bytes)
                    }
                    let key = try deriveKey(kdf, kdfParameters, passphrase: passphrase, length: keyLength)
                    return (key, try AES._CBC.IV(ivBytes: ivBytes))
                }
            }
            let ciphertext = try ASN1OctetString(derEncoded: &info).bytes
            return (key, iv, ciphertext)
        }
    }

    private static func deriveKey(_ kdf: ASN1ObjectIdentifier, _ parameters: ASN1Node, passphrase: [UInt8], length: Int) throws -> SymmetricKey {
        switch kdf {
        case pbkdf2:
            return try DER.sequence(parameters, identifier: .sequence) { nodes in
                let salt = try ASN1OctetString(derEncoded: &nodes).bytes
                let rounds = try Int(derEncoded: &nodes)
                var next = nodes.next()
                if let node = next, node.identifier == .integer {
                    guard try Int(derEncoded: node) == length else { throw MeshCAError.invalidInput("the key's PBKDF2 key length does not fit its cipher") }
                    next = nodes.next()
                }
                var prf = KDF.Insecure.PBKDF2.HashFunction.insecureSHA1
                if let node = next {
                    let identifier = try DER.sequence(node, identifier: .sequence) { algorithm in
                        defer { while algorithm.next() != nil {} }  // parameters: NULL or absent
                        return try ASN1ObjectIdentifier(derEncoded: &algorithm)
                    }
                    guard let known = prfs[identifier] else { throw MeshCAError.invalidInput("the key's PBKDF2 PRF \(identifier) is not supported (use HMAC-SHA-256)") }
                    prf = known
                }
                guard (1...maximumIterations).contains(rounds) else {
                    throw MeshCAError.invalidInput("the key asks for \(rounds) PBKDF2 rounds (at most \(maximumIterations))")
                }
                return try KDF.Insecure.PBKDF2.deriveKey(
                    from: passphrase, salt: salt, using: prf, outputByteCount: length, unsafeUncheckedRounds: rounds)
            }
        case scrypt:
            return try DER.sequence(parameters, identifier: .sequence) { nodes in
                let salt = try ASN1OctetString(derEncoded: &nodes).bytes
                let cost = try Int(derEncoded: &nodes)
                let blockSize = try Int(derEncoded: &nodes)
                let parallelism = try Int(derEncoded: &nodes)
                if let node = nodes.next(), try Int(derEncoded: node) != length {
                    throw MeshCAError.invalidInput("the key's scrypt key length does not fit its cipher")
                }
                // scrypt needs 128 · r · (N + p) bytes; BoringSSL refuses more than 32 MiB.
                guard cost > 1, blockSize > 0, parallelism > 0,
                      128 * blockSize * (cost + parallelism) <= maximumScryptMemory
                else {
                    throw MeshCAError.invalidInput("the key's scrypt parameters (N=\(cost), r=\(blockSize), p=\(parallelism)) need more than 32 MiB")
                }
                return try KDF.Scrypt.deriveKey(
                    from: passphrase, salt: salt, outputByteCount: length, rounds: cost, blockSize: blockSize, parallelism: parallelism)
            }
        default:
            throw MeshCAError.invalidInput("the key's key derivation \(kdf) is not supported (PBKDF2 or scrypt)")
        }
    }
}

/// Overwriting memory that held a passphrase or key material, in a way the optimizer keeps.
enum SecretBytes {
    static func cleanse(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress, buffer.count > 0 else { return }
            #if canImport(Darwin)
            _ = memset_s(base, buffer.count, 0, buffer.count)
            #else
            explicit_bzero(base, buffer.count)
            #endif
        }
    }
}

/// The SEQUENCE that is the next field of an enclosing one.
private func nestedSequence<T>(_ nodes: inout ASN1NodeCollection.Iterator, _ body: (inout ASN1NodeCollection.Iterator) throws -> T) throws -> T {
    try DER.sequence(try nodes.next().orThrow(), identifier: .sequence, body)
}

extension Optional {
    fileprivate func orThrow() throws -> Wrapped {
        guard let self else { throw ASN1Error.invalidASN1Object(reason: "a required field is missing") }
        return self
    }
}
