import Crypto
import JWTKit
import MeshPlatform

/// What a one-time enrollment token allows: certificates for (a subset of) these SANs, with this profile, and
/// optionally under this name.
public struct EnrollmentGrant: Sendable, Equatable {
    public var subjectAltNames: [SubjectAltName]
    public var profile: Profile
    public var name: String?

    public init(subjectAltNames: [SubjectAltName], profile: Profile, name: String? = nil) {
        self.subjectAltNames = subjectAltNames
        self.profile = profile
        self.name = name
    }

    /// The name the certificate is stored under: the granted one, else the first DNS SAN, else the first SAN.
    public var certificateName: String {
        if let name { return name }
        let first = subjectAltNames.first { if case .dns = $0 { return true } else { return false } } ?? subjectAltNames[0]
        let raw: String
        switch first {
        case .dns(let value), .email(let value), .uri(let value): raw = value
        case .ip(let address): raw = address.description
        }
        let safe = raw.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" ? $0 : "_" }
        return String(String(safe).trimming { $0 == "." || $0 == "-" }.prefix(64))
    }
}

/// A token that verified: the grant, its unique id (`jti`) and when it stops being valid.
public struct VerifiedEnrollmentToken: Sendable {
    public let grant: EnrollmentGrant
    public let id: String
    public let expiresAt: Date
}

/// Why an enrollment was refused. `reason` is a stable label for metrics; `message` says what to do.
public struct EnrollmentRefusal: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        case missingCredentials = "missing_credentials"
        case malformedToken = "malformed_token"
        case badSignature = "bad_signature"
        case expiredToken = "expired_token"
        case tokenNotYetValid = "token_not_yet_valid"
        case reusedToken = "reused_token"
        case notGranted = "not_granted"
        case badRequest = "bad_request"
        case certificateRevoked = "certificate_revoked"
        case certificateInvalid = "certificate_invalid"
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var reason: String { kind.rawValue }
    public var description: String { message }
}

/// Signs and verifies enrollment tokens: ES256 JWTs made with jwt-kit from the provisioner key kept in the pki.
public struct Provisioner: Sendable {
    static let issuer = "meshca"
    static let audience = "meshca-est"
    /// How far a token's `iat`/`nbf` may lie in the future before it is refused (clock skew between hosts).
    static let allowedSkew: TimeInterval = 60

    public let privateKey: P256.Signing.PrivateKey

    public init(privateKey: P256.Signing.PrivateKey) { self.privateKey = privateKey }

    /// The key id put in every token's header: the first 16 hex digits of the SHA-256 of the public key.
    public var keyID: String {
        String(SHA256.hash(data: privateKey.publicKey.derRepresentation).hexEncoded(uppercase: false).prefix(16))
    }

    private func keys(signing: Bool) async throws -> JWTKeyCollection {
        let keys = JWTKeyCollection()
        if signing {
            await keys.add(ecdsa: try ES256PrivateKey(backing: privateKey), kid: JWKIdentifier(string: keyID))
        } else {
            await keys.add(ecdsa: try ES256PublicKey(backing: privateKey.publicKey), kid: JWKIdentifier(string: keyID))
        }
        return keys
    }

    /// A new one-time token for `grant`, valid for `ttl` from `now`.
    public func token(for grant: EnrollmentGrant, ttl: TimeInterval, now: Date = Date()) async throws -> String {
        guard !grant.subjectAltNames.isEmpty else {
            throw MeshCAError.invalidInput("a token must grant at least one SAN: give --san")
        }
        let claims = EnrollmentClaims(
            iss: IssuerClaim(value: Self.issuer), aud: AudienceClaim(value: [Self.audience]),
            jti: IDClaim(value: UUID().uuidString.lowercased()),
            iat: IssuedAtClaim(value: now), nbf: NotBeforeClaim(value: now), exp: ExpirationClaim(value: now + ttl),
            sans: grant.subjectAltNames.map(\.description), profile: grant.profile.rawValue, name: grant.name)
        return try await keys(signing: true).sign(claims, kid: JWKIdentifier(string: keyID), header: ["typ": "JWT"])
    }

    /// Checks the signature (ES256 by this provisioner only: `alg: none` and other keys are refused) and the
    /// time claims. Whether the token was used already is the store's business.
    public func verify(_ token: String, now: Date = Date()) async throws -> VerifiedEnrollmentToken {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, token.utf8.count <= 8192 else {
            throw EnrollmentRefusal(.malformedToken, "the enrollment token is not a JWT (three dot-separated parts)")
        }
        guard let header = TokenHeader(base64URL: parts[0]) else {
            throw EnrollmentRefusal(.malformedToken, "the enrollment token's header is not base64url JSON")
        }
        guard header.alg == "ES256" else {
            throw EnrollmentRefusal(
                .badSignature, "the enrollment token uses alg \(header.alg ?? "nil"): only ES256 tokens from certtool token are accepted")
        }
        let claims: EnrollmentClaims
        do {
            claims = try await keys(signing: false).verify(token, as: EnrollmentClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed || error.errorType == .unknownKID {
            throw EnrollmentRefusal(.badSignature, "the enrollment token was not signed by this CA's provisioner key: make one with certtool token on this CA")
        } catch {
            throw EnrollmentRefusal(.malformedToken, "the enrollment token cannot be read: \(error)")
        }
        guard claims.iss.value == Self.issuer, claims.aud.value.contains(Self.audience) else {
            throw EnrollmentRefusal(.malformedToken, "the enrollment token is not a MeshCA enrollment token (iss/aud)")
        }
        if claims.exp.value <= now {
            throw EnrollmentRefusal(.expiredToken, "the enrollment token expired at \(claims.exp.value.iso8601): make a new one with certtool token")
        }
        if claims.iat.value > now + Self.allowedSkew || claims.nbf.value > now + Self.allowedSkew {
            throw EnrollmentRefusal(.tokenNotYetValid, "the enrollment token is not valid before \(claims.nbf.value.iso8601): check the clocks of the CA and the token's maker")
        }
        guard let profile = Profile(rawValue: claims.profile), !claims.sans.isEmpty,
            let sans = try? claims.sans.map({ try SubjectAltName(parsing: $0) })
        else {
            throw EnrollmentRefusal(.malformedToken, "the enrollment token's grant (sans, profile) is malformed")
        }
        return VerifiedEnrollmentToken(
            grant: EnrollmentGrant(subjectAltNames: sans, profile: profile, name: claims.name),
            id: claims.jti.value, expiresAt: claims.exp.value)
    }

}

/// A JWT's header, read before the signature is checked so that `alg: none` gets its own refusal.
private struct TokenHeader: Decodable {
    var alg: String?

    init?(base64URL part: Substring) {
        var text = String(part.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        text += String(repeating: "=", count: (4 - text.count % 4) % 4)
        guard let data = Data(base64Encoded: text), let header = try? JSONDecoder().decode(Self.self, from: data) else { return nil }
        self = header
    }

    private enum CodingKeys: String, CodingKey { case alg }

    init(from decoder: any Decoder) throws {
        let header = try decoder.container(keyedBy: CodingKeys.self)
        // A non-string alg is refused as an unknown algorithm, not as a malformed header.
        alg = try? header.decodeIfPresent(String.self, forKey: .alg)
    }
}

/// The claims of an enrollment token. Time claims are checked by `Provisioner.verify` so that each failure
/// gets its own message.
struct EnrollmentClaims: JWTPayload {
    var iss: IssuerClaim
    var aud: AudienceClaim
    var jti: IDClaim
    var iat: IssuedAtClaim
    var nbf: NotBeforeClaim
    var exp: ExpirationClaim
    var sans: [String]
    var profile: String
    var name: String?

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
