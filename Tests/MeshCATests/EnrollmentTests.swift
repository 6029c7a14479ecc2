import Foundation
import MeshCA
import SwiftASN1
import Testing
import X509

/// Tokens, certs-only PKCS#7 and the group commit behind `certtool serve`, on a temporary pki/.
@Suite struct EnrollmentTests {
    let scratch = ScratchDirectory("enroll")
    var directory: String { scratch.path }
    let authority: CertificateAuthority

    init() throws {
        authority = CertificateAuthority(store: DirectoryStore(directory: scratch.path, caching: true, journaling: true))
        try authority.initialize(.init())
    }

    /// A request as the server gets it: DER, parsed by `CertificateRequestFile`.
    func csr(_ sans: [String], profile: Profile = .server, keyType: KeyType = .ecdsaP256) throws -> (CertificateRequest, Certificate.PrivateKey) {
        let key = try keyType.generate()
        let made = try EnrollmentCSR.make(key: key, subjectAltNames: sans.map(SubjectAltName.init(parsing:)), profile: profile)
        var serializer = DER.Serializer()
        try serializer.serialize(made)
        return (try CertificateRequestFile.parseRequest(serializer.serializedBytes, source: "test"), key)
    }

    func token(_ sans: [String], profile: Profile = .server, ttl: TimeInterval = 600, now: Date = Date()) async throws -> String {
        let grant = EnrollmentGrant(subjectAltNames: try sans.map(SubjectAltName.init(parsing:)), profile: profile)
        return try await authority.provisioner(create: true).token(for: grant, ttl: ttl, now: now)
    }

    @Test func aTokenRedeemsOnceEvenTwiceInOneBatch() async throws {
        let verified = try await authority.provisioner(create: true).verify(try await token(["DNS:a.example.internal"]))
        let (request, key) = try csr(["DNS:a.example.internal"])
        let job = try authority.prepareEnrollment(request, token: verified, validity: ValidityPeriod(seconds: 3600))
        let results = try authority.commit([job, job])
        let issued = try results[0].get()
        #expect(issued.certificate.publicKey == key.publicKey)
        #expect(issued.certificate.subjectAltNames == [.dns("a.example.internal")])
        #expect(throws: EnrollmentRefusal.self) { try results[1].get() }
        #expect((try? results[1].get()) == nil)
        // Persisted: a fresh, non-caching view of the same pki refuses the token too.
        let reread = CertificateAuthority(store: DirectoryStore(directory: directory))
        #expect(throws: EnrollmentRefusal(.reusedToken, "the enrollment token was already used: tokens are one-time, make a new one with certtool token")) {
            try reread.commit(job)
        }
        #expect(try reread.store.loadDatabase().records.count == 1)
    }

    /// A job is signed before its commit but stored only by it: packs/ stays as it was until the commit appends
    /// the certificate (and names it in issued/), and certs_by_serial/ (`certtool issue`'s) gets nothing.
    @Test func aPreparedCertificateIsStoredOnlyAtItsCommit() async throws {
        let provisioner = try authority.provisioner(create: true)
        let pack = "\(directory)/packs/000001.pem"
        let (request, _) = try csr(["DNS:a.example.internal"])
        let job = try authority.prepareEnrollment(
            request, token: try await provisioner.verify(try await token(["DNS:a.example.internal"])), validity: .init(seconds: 3600))
        #expect(!FileManager.default.fileExists(atPath: pack))
        let issued = try authority.commit(job)
        #expect(try String(contentsOfFile: pack, encoding: .utf8) == issued.certificate.pemString())
        #expect((try FileManager.default.attributesOfItem(atPath: pack)[.posixPermissions] as? Int) == 0o644)
        #expect(try String(contentsOfFile: "\(directory)/issued/\(issued.name).crt", encoding: .utf8) == issued.certificate.pemString())
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/certs_by_serial").isEmpty)
    }

    /// Another process replaces the CA: the event loop, which looks at the CA's files at most once a second,
    /// still signs with the old one; the commit, which looks every time, signs the job again, and the job's
    /// first certificate (the old serial) is not the one stored.
    @Test func aJobSignedByAReplacedCAIsSignedAgainAtTheCommit() async throws {
        // The token first: making one takes the lock, which reads the CA anew.
        let verified = try await authority.provisioner(create: true).verify(try await token(["DNS:a.example.internal"]))
        let old = try authority.loadAuthority()
        try FileManager.default.removeItem(atPath: "\(directory)/ca.crt")
        try FileManager.default.removeItem(atPath: "\(directory)/private/ca.key")
        let replaced = try CertificateAuthority(store: DirectoryStore(directory: directory)).initialize(.init())
        let (request, _) = try csr(["DNS:a.example.internal"])
        let job = try authority.prepareEnrollment(request, token: verified, validity: .init(seconds: 3600))
        #expect(try authority.store.loadAuthority(maximumAge: .seconds(60))?.root.certificate == old.root.certificate)
        let issued = try authority.commit(job)
        #expect(replaced.root.certificate.publicKey.isValidSignature(issued.certificate.signature, for: issued.certificate))
        #expect(try String(contentsOfFile: "\(directory)/packs/000001.pem", encoding: .utf8) == issued.certificate.pemString())
        #expect(try String(contentsOfFile: "\(directory)/issued/\(issued.name).crt", encoding: .utf8) == issued.certificate.pemString())
        #expect(try authority.store.loadAuthority(maximumAge: .seconds(60))?.root.certificate == replaced.root.certificate)
    }

    @Test func aCSRGetsNoMoreThanTheGrant() async throws {
        let verified = try await authority.provisioner(create: true).verify(try await token(["DNS:a.example.internal"]))
        let (wider, _) = try csr(["DNS:a.example.internal", "DNS:b.example.internal"])
        #expect(throws: EnrollmentRefusal.self) { try authority.prepareEnrollment(wider, token: verified, validity: .init(seconds: 60)) }
        let (client, _) = try csr(["DNS:a.example.internal"], profile: .client)
        #expect(throws: EnrollmentRefusal.self) { try authority.prepareEnrollment(client, token: verified, validity: .init(seconds: 60)) }
    }

    /// The header is read before the signature: `alg: none` is refused for its algorithm, a header that is not a
    /// JSON object as malformed.
    @Test func tokenHeaderIsCheckedFirst() async throws {
        let provisioner = try authority.provisioner(create: true)
        let good = try await token(["DNS:a.example.internal"], ttl: 60, now: Date())
        let rest = good.split(separator: ".").dropFirst().joined(separator: ".")
        func base64URL(_ json: String) -> String {
            Data(json.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        }
        for (header, kind, detail) in [(#"{"alg":"none","typ":"JWT"}"#, EnrollmentRefusal.Kind.badSignature, "uses alg none"),
                                       (#"{"alg":7}"#, .badSignature, "uses alg nil"),
                                       (#"["alg","ES256"]"#, .malformedToken, "not base64url JSON")] {
            do {
                _ = try await provisioner.verify(base64URL(header) + "." + rest)
                Issue.record("header \(header) was accepted")
            } catch let refusal as EnrollmentRefusal {
                #expect(refusal.kind == kind, "\(header): \(refusal)")
                #expect("\(refusal)".contains(detail), "\(header): \(refusal)")
            }
        }
    }

    @Test func tokenTimeClaimsAndSignatureAreChecked() async throws {
        let provisioner = try authority.provisioner(create: true)
        let now = Date()
        let good = try await token(["DNS:a.example.internal"], ttl: 60, now: now)
        _ = try await provisioner.verify(good, now: now + 30)
        do {
            _ = try await provisioner.verify(good, now: now + 61)
            Issue.record("an expired token was accepted")
        } catch let refusal as EnrollmentRefusal {
            #expect(refusal.kind == .expiredToken)
        }
        do {
            _ = try await provisioner.verify(good, now: now - 120)
            Issue.record("a token from the future was accepted")
        } catch let refusal as EnrollmentRefusal {
            #expect(refusal.kind == .tokenNotYetValid)
        }
        var parts = good.split(separator: ".").map(String.init)
        parts[1] = String(parts[1].reversed())
        do {
            _ = try await provisioner.verify(parts.joined(separator: "."), now: now)
            Issue.record("a tampered token was accepted")
        } catch let refusal as EnrollmentRefusal {
            #expect(refusal.kind == .badSignature || refusal.kind == .malformedToken)
        }
        let other = Provisioner(privateKey: .init())
        do {
            _ = try await other.verify(good, now: now)
            Issue.record("another provisioner accepted the token")
        } catch let refusal as EnrollmentRefusal {
            #expect(refusal.kind == .badSignature)
        }
    }

    @Test func renewalSeesARevocationWrittenByAnotherProcess() async throws {
        let verified = try await authority.provisioner(create: true).verify(try await token(["DNS:a.example.internal"]))
        let (request, _) = try csr(["DNS:a.example.internal"])
        let first = try authority.commit(try authority.prepareEnrollment(request, token: verified, validity: .init(seconds: 3600)))
        let (renewal, _) = try csr(["DNS:a.example.internal"])
        let renewed = try authority.commit(try authority.prepareRenewal(renewal, current: first.certificate, validity: .init(seconds: 3600)))
        #expect(renewed.certificate.subjectAltNames == first.certificate.subjectAltNames)
        // certtool revoke in another process: a non-caching store over the same directory.
        try CertificateAuthority(store: DirectoryStore(directory: directory)).revoke(renewed.certificate.serialNumber.hexString, reason: .keyCompromise)
        let job = try authority.prepareRenewal(renewal, current: renewed.certificate, validity: .init(seconds: 3600))
        do {
            _ = try authority.commit(job)
            Issue.record("a revoked certificate was renewed")
        } catch let refusal as EnrollmentRefusal {
            #expect(refusal.kind == .certificateRevoked)
        }
    }

    /// The server's store hands its in-memory database to each commit and gets it back: a refused batch, a
    /// revocation and a later success must leave memory and index.txt agreeing.
    @Test func theCachedDatabaseSurvivesRefusalsAndRevocations() async throws {
        let verified = try await authority.provisioner(create: true).verify(try await token(["DNS:a.example.internal"]))
        let (request, _) = try csr(["DNS:a.example.internal"])
        let job = try authority.prepareEnrollment(request, token: verified, validity: .init(seconds: 3600))
        let first = try authority.commit(job)
        #expect(throws: EnrollmentRefusal.self) { try authority.commit(job) }  // nothing to save: handed back
        let (renewal, _) = try csr(["DNS:a.example.internal"])
        try authority.revoke(first.certificate.serialNumber.hexString, reason: .superseded)
        #expect(throws: EnrollmentRefusal.self) {  // refused under the lock, after the revocation was cached
            try authority.commit(try authority.prepareRenewal(renewal, current: first.certificate, validity: .init(seconds: 3600)))
        }
        let second = try authority.commit(try authority.prepareEnrollment(
            request, token: try await authority.provisioner(create: true).verify(try await token(["DNS:a.example.internal"])),
            validity: .init(seconds: 3600)))
        let inMemory = try authority.store.loadDatabase()
        let onDisk = try DirectoryStore(directory: directory).loadDatabase()
        for database in [inMemory, onDisk] {
            #expect(database.records.map(\.serial) == [first, second].map { $0.certificate.serialNumber.hexString })
            #expect(database.records.map(\.status) == [.revoked, .valid])
        }
    }

    /// Signatures of renewing certificates are remembered once verified; a copy with one signature bit
    /// flipped is not the same certificate and must still be refused.
    @Test func aRememberedSignatureDoesNotCoverATamperedCopy() async throws {
        let verified = try await authority.provisioner(create: true).verify(try await token(["DNS:a.example.internal"]))
        let (request, _) = try csr(["DNS:a.example.internal"])
        let current = try authority.commit(try authority.prepareEnrollment(request, token: verified, validity: .init(seconds: 3600))).certificate
        for _ in 0..<2 { _ = try authority.prepareRenewal(request, current: current, validity: .init(seconds: 3600)) }
        var der = try current.derBytes
        der[der.count - 1] ^= 0x01
        let tampered = try Certificate(derEncoded: der)
        #expect(tampered.tbsCertificateBytes == current.tbsCertificateBytes)
        #expect(throws: EnrollmentRefusal.self) { try authority.prepareRenewal(request, current: tampered, validity: .init(seconds: 3600)) }
    }

    @Test func certsOnlyPKCS7RoundTripsAndRestoresChainOrder() throws {
        let material = try authority.loadAuthority()
        let (request, key) = try csr(["DNS:a.example.internal"])
        let leaf = try CertificateBuilder.leaf(
            subject: request.csr.subject, publicKey: request.csr.publicKey, subjectAltNames: [.dns("a.example.internal")],
            profile: .server, validity: .init(seconds: 60), issuer: material.signer)
        let decoded = try CertsOnlyPKCS7.decodeBase64(Array(CertsOnlyPKCS7.base64(try CertsOnlyPKCS7.encode([leaf, material.root.certificate])).utf8))
        #expect(Set(decoded) == [leaf, material.root.certificate])
        #expect(try CertsOnlyPKCS7.orderedChain(decoded, leafKey: key.publicKey) == [leaf])
        #expect(throws: MeshCAError.self) { try CertsOnlyPKCS7.decode([0x30, 0x03, 0x02, 0x01, 0x01]) }
    }

    /// The subject key identifier read from the request's bytes (uncompressed EC points) is the one hashing the
    /// parsed key gives, and the certificate carries it; other keys get theirs computed.
    @Test(arguments: [KeyType.ecdsaP256, .ecdsaP384, .rsa2048, .ed25519])
    func aRequestsKeyIdentifierIsItsKeys(keyType: KeyType) async throws {
        let verified = try await authority.provisioner(create: true).verify(try await token(["DNS:a.example.internal"]))
        let (request, key) = try csr(["DNS:a.example.internal"], keyType: keyType)
        let expected = SubjectKeyIdentifier(hash: key.publicKey)
        #expect(request.keyIdentifier == (keyType == .ecdsaP256 || keyType == .ecdsaP384 ? expected : nil))
        let issued = try authority.commit(try authority.prepareEnrollment(request, token: verified, validity: .init(seconds: 3600)))
        #expect(try issued.certificate.extensions.subjectKeyIdentifier == expected)
    }
}
