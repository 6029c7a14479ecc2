import Crypto
import _CryptoExtras
import X509

/// The key algorithms MeshCA generates and accepts.
public enum KeyType: String, CaseIterable, Sendable, Codable {
    case ecdsaP256 = "ecdsa-p256"
    case ecdsaP384 = "ecdsa-p384"
    case rsa2048 = "rsa-2048"
    case rsa3072 = "rsa-3072"
    case rsa4096 = "rsa-4096"
    case ed25519 = "ed25519"

    public static let `default` = KeyType.ecdsaP256

    /// Parses a `--key-type` value.
    public init(parsing text: String) throws {
        guard let value = KeyType(rawValue: text.lowercased()) else {
            let names = KeyType.allCases.map(\.rawValue).joined(separator: ", ")
            throw MeshCAError.invalidInput("unknown key type '\(text)': use one of \(names)")
        }
        self = value
    }

    /// Generates a fresh private key of this type.
    public func generate() throws -> Certificate.PrivateKey {
        switch self {
        case .ecdsaP256: return Certificate.PrivateKey(P256.Signing.PrivateKey())
        case .ecdsaP384: return Certificate.PrivateKey(P384.Signing.PrivateKey())
        case .rsa2048: return Certificate.PrivateKey(try _RSA.Signing.PrivateKey(keySize: .bits2048))
        case .rsa3072: return Certificate.PrivateKey(try _RSA.Signing.PrivateKey(keySize: .init(bitCount: 3072)))
        case .rsa4096: return Certificate.PrivateKey(try _RSA.Signing.PrivateKey(keySize: .bits4096))
        case .ed25519: return Certificate.PrivateKey(Curve25519.Signing.PrivateKey())
        }
    }
}

extension Certificate.PublicKey {
    /// A short human-readable name of the key algorithm, e.g. `ECDSA P-256` or `RSA 3072`.
    public var algorithmName: String {
        if P256.Signing.PublicKey(self) != nil { return "ECDSA P-256" }
        if P384.Signing.PublicKey(self) != nil { return "ECDSA P-384" }
        if P521.Signing.PublicKey(self) != nil { return "ECDSA P-521" }
        if let rsa = _RSA.Signing.PublicKey(self) { return "RSA \(rsa.keySizeInBits)" }
        if Curve25519.Signing.PublicKey(self) != nil { return "Ed25519" }
        return "unknown"
    }

    var isRSA: Bool { _RSA.Signing.PublicKey(self) != nil }

    /// Refuses keys too weak to certify (RSA below 2048 bits).
    func checkStrength() throws {
        if let rsa = _RSA.Signing.PublicKey(self), rsa.keySizeInBits < 2048 {
            throw MeshCAError.invalidInput("RSA key of \(rsa.keySizeInBits) bits is too weak: use at least 2048 bits")
        }
        if algorithmName == "unknown" {
            throw MeshCAError.invalidInput("unsupported public key algorithm: use ECDSA P-256/P-384, RSA or Ed25519")
        }
    }
}

extension Certificate.PrivateKey {
    /// The signature algorithm a certificate signed by this key uses: ECDSA with SHA-256 (P-256) or SHA-384
    /// (P-384/P-521), RSA PKCS#1 v1.5 with SHA-256, or Ed25519.
    public var preferredSignatureAlgorithm: Certificate.SignatureAlgorithm {
        let publicKey = self.publicKey
        if P256.Signing.PublicKey(publicKey) != nil { return .ecdsaWithSHA256 }
        if P384.Signing.PublicKey(publicKey) != nil || P521.Signing.PublicKey(publicKey) != nil {
            return .ecdsaWithSHA384
        }
        if publicKey.isRSA { return .sha256WithRSAEncryption }
        return .ed25519
    }

    /// PKCS#8 PEM (type "PRIVATE KEY") for every key type, as `openssl pkey` and Go read it.
    public func pkcs8PEM() throws -> String {
        let pem = try serializeAsPEM()
        if pem.discriminator == "PRIVATE KEY" { return pem.pemString }
        // swift-certificates serializes RSA keys as PKCS#1; re-encode them as PKCS#8.
        return try _RSA.Signing.PrivateKey(derRepresentation: pem.derBytes).pkcs8PEMRepresentation
    }
}
