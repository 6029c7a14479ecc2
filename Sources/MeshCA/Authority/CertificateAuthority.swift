import MeshPlatform
import X509

/// A certificate authority over a store: every operation takes the store's lock for its whole
/// read-modify-write, validates everything before it writes anything, and records each certificate in the
/// database.
public struct CertificateAuthority: Sendable {
    public let store: any PKIStore
    let verifiedSignatures = VerifiedSignatures()

    public init(store: any PKIStore) { self.store = store }

    /// Options for creating the CA.
    public struct Setup: Sendable {
        public var commonName: String
        public var keyType: KeyType
        public var validity: ValidityPeriod
        public var intermediate: Bool

        public init(commonName: String = "MeshCA Root CA", keyType: KeyType = .default,
                    validity: ValidityPeriod = ValidityPeriod(seconds: 10 * 31_536_000), intermediate: Bool = false) {
            self.commonName = commonName
            self.keyType = keyType
            self.validity = validity
            self.intermediate = intermediate
        }
    }

    /// A certificate just issued: the leaf followed by its chain, and the private key when the CA generated it.
    public struct Issued: Sendable {
        public let name: String
        public let chain: [Certificate]
        public let privateKeyPEM: String?
        /// Set when this call had to create the CA first (mkcert-style first run).
        public let createdAuthority: AuthorityMaterial?

        public var certificate: Certificate { chain[0] }
    }

    /// What to put in a leaf certificate.
    public struct LeafRequest: Sendable {
        public var name: String
        public var subjectAltNames: [SubjectAltName]
        public var profile: Profile
        public var validity: ValidityPeriod
        public var force: Bool

        public init(name: String, subjectAltNames: [SubjectAltName], profile: Profile = .server,
                    validity: ValidityPeriod = ValidityPeriod(seconds: 90 * 86_400), force: Bool = false) {
            self.name = name
            self.subjectAltNames = subjectAltNames
            self.profile = profile
            self.validity = validity
            self.force = force
        }
    }

    // MARK: Creating and loading the CA

    /// Creates the root (and optionally an intermediate that signs everything else). Refuses to overwrite a CA.
    @discardableResult
    public func initialize(_ setup: Setup) throws -> AuthorityMaterial {
        try store.withExclusiveAccess {
            guard !store.hasAuthority else {
                throw MeshCAError.invalidInput(
                    "\(store.location) already holds a CA: use another --pki directory or remove this one first")
            }
            let material = try Self.makeAuthority(setup)
            try store.saveAuthority(material)
            return material
        }
    }

    private static func makeAuthority(_ setup: Setup, now: Date = Date()) throws -> AuthorityMaterial {
        guard !setup.commonName.isEmpty, setup.commonName.utf8.count <= 64 else {
            throw MeshCAError.invalidInput("CA name must be 1 to 64 characters")
        }
        let rootKey = try setup.keyType.generate()
        let rootCertificate = try CertificateBuilder.root(
            commonName: setup.commonName, key: rootKey, validity: setup.validity, now: now)
        let root = try SigningIdentity(certificate: rootCertificate, privateKey: rootKey, label: "CA")
        guard setup.intermediate else { return AuthorityMaterial(root: root, intermediate: nil) }
        let intermediateKey = try setup.keyType.generate()
        let intermediateName = String("\(setup.commonName) Intermediate".prefix(64))
        let intermediateCertificate = try CertificateBuilder.intermediate(
            commonName: intermediateName, publicKey: intermediateKey.publicKey,
            validity: ValidityPeriod(seconds: setup.validity.seconds / 2), issuer: root, now: now)
        let intermediate = try SigningIdentity(
            certificate: intermediateCertificate, privateKey: intermediateKey, label: "intermediate CA")
        return AuthorityMaterial(root: root, intermediate: intermediate)
    }

    /// Loads the CA, failing with a hint when the store has none.
    public func loadAuthority() throws -> AuthorityMaterial {
        guard let material = try store.loadAuthority() else { throw noAuthority }
        return material
    }

    private var noAuthority: MeshCAError {
        .store("no CA in \(store.location): run certtool init (or certtool issue, which creates one)")
    }

    // MARK: Issuing

    /// Generates a key and issues a certificate for it. With `createAuthority`, a missing CA is created first.
    public func issue(_ request: LeafRequest, keyType: KeyType = .default, createAuthority: Setup? = nil) throws -> Issued {
        try Self.validate(name: request.name)
        let key = try keyType.generate()
        return try store.withExclusiveAccess {
            let existing = try store.loadAuthority()
            let created = existing == nil ? try createAuthority.map { try Self.makeAuthority($0) } : nil
            guard let material = existing ?? created else { throw noAuthority }
            try checkNameFree(request)
            let leaf = try CertificateBuilder.leaf(
                subject: DistinguishedName(commonName: request.name), publicKey: key.publicKey,
                subjectAltNames: request.subjectAltNames, profile: request.profile, validity: request.validity,
                issuer: material.signer)
            return try record(leaf, name: request.name, material: material, keyPEM: try key.pkcs8PEM(), created: created)
        }
    }

    /// Signs a PKCS#10 request after checking its signature. SANs come from the request's extensionRequest
    /// unless `request.subjectAltNames` is non-empty; the name defaults to the request's common name.
    public func sign(_ csr: CertificateSigningRequest, name: String?, overriding request: LeafRequest) throws -> Issued {
        try Self.checkSignatureAndKey(csr)
        var request = request
        if request.subjectAltNames.isEmpty {
            guard let requested = try Self.requestedSubjectAltNames(csr) else {
                throw MeshCAError.invalidInput("the CSR requests no subjectAltName: add -addext subjectAltName=… or give --san")
            }
            request.subjectAltNames = requested
        }
        guard let resolvedName = name ?? csr.subject.commonName else {
            throw MeshCAError.invalidInput("the CSR has no common name: give the certificate a name with --name")
        }
        request.name = resolvedName
        try Self.validate(name: request.name)
        return try store.withExclusiveAccess {
            let material = try loadAuthority()
            try checkNameFree(request)
            let leaf = try CertificateBuilder.leaf(
                subject: csr.subject, publicKey: csr.publicKey, subjectAltNames: request.subjectAltNames,
                profile: request.profile, validity: request.validity, issuer: material.signer)
            return try record(leaf, name: request.name, material: material, keyPEM: nil, created: nil)
        }
    }

    static func checkSignatureAndKey(_ csr: CertificateSigningRequest) throws {
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw MeshCAError.invalidInput("the CSR's signature does not verify: the request was altered or signed with another key")
        }
        try csr.publicKey.checkStrength()
    }

    /// The SANs a CSR's extensionRequest asks for, nil when it asks for none.
    static func requestedSubjectAltNames(_ csr: CertificateSigningRequest) throws -> [SubjectAltName]? {
        let extensions: Certificate.Extensions?
        do {
            extensions = try csr.attributes.extensionRequest?.extensions
        } catch {
            throw MeshCAError.invalidInput("the CSR's extensionRequest attribute is malformed: \(error)")
        }
        let decoded: SubjectAlternativeNames?
        do {
            decoded = try extensions?.subjectAlternativeNames
        } catch {
            throw MeshCAError.invalidInput(
                "the CSR's subjectAltName extension does not decode: DNS, URI and email names must be ASCII (internationalized names in punycode, xn--…)")
        }
        guard let names = decoded, !names.isEmpty else { return nil }
        return try names.map { name in
            guard let san = try SubjectAltName.validated(name) else {
                throw MeshCAError.invalidInput("the CSR requests an unsupported SAN (\(name)): only DNS, IP, URI and email")
            }
            return san
        }
    }

    /// Names become file names under issued/ and private/, so they are restricted to a safe alphabet, and the
    /// CA's own file names are reserved.
    public static func validate(name: String) throws {
        let allowed = name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "_")
        }
        guard !name.isEmpty, name.utf8.count <= 64, allowed, !name.hasPrefix("."), !name.hasPrefix("-") else {
            throw MeshCAError.invalidInput(
                "invalid name '\(name)': use 1 to 64 letters, digits, '.', '-' or '_', not starting with '.' or '-'")
        }
        guard !["ca", "intermediate"].contains(name.lowercased()) else {
            throw MeshCAError.invalidInput("the name '\(name)' is reserved for the CA's own files: choose another")
        }
    }

    private func checkNameFree(_ request: LeafRequest) throws {
        guard !request.force, let existing = try store.issuedChain(named: request.name)?.first else { return }
        let status = try store.loadDatabase().record(serial: existing.serialNumber.hexString)?.effectiveStatus(at: Date())
        // A revoked or expired certificate may be replaced without --force: that is what replacing it is for.
        guard status == .valid || status == nil else { return }
        throw MeshCAError.invalidInput(
            "a valid certificate named '\(request.name)' already exists in \(store.location): pass --force to replace it")
    }

    private func record(
        _ leaf: Certificate, name: String, material: AuthorityMaterial, keyPEM: String?, created: AuthorityMaterial?
    ) throws -> Issued {
        var database = try store.takeDatabase()
        let serial = leaf.serialNumber.hexString
        guard database.record(serial: serial) == nil else {
            throw MeshCAError.store("serial \(serial) is already in the database (random collision): run the command again")
        }
        let chain = [leaf] + material.chain
        database.append(.init(
            status: .valid, expiry: leaf.notValidAfter, revocationDate: nil, revocationReason: nil,
            serial: serial, subject: leaf.subject.opensslOneLine))
        try store.saveIssuance(
            name: name, chain: chain, privateKeyPEM: keyPEM, database: database, newAuthority: created)
        return Issued(name: name, chain: chain, privateKeyPEM: keyPEM, createdAuthority: created)
    }

    // MARK: Revocation

    /// Revokes the certificate issued under a name, or any certificate by serial (hex, colons allowed).
    @discardableResult
    public func revoke(_ nameOrSerial: String, reason: RevocationReason, at date: Date = Date()) throws -> CertificateDatabase.Record {
        try store.withExclusiveAccess {
            _ = try loadAuthority()
            var database = try store.takeDatabase()
            var serial: String?
            if (try? Self.validate(name: nameOrSerial)) != nil, let leaf = try store.issuedChain(named: nameOrSerial)?.first {
                serial = leaf.serialNumber.hexString
            } else {
                let hex = String(nameOrSerial.filter { $0 != ":" }).uppercased()
                let normalized = hex.hasPrefix("0X") ? String(hex.dropFirst(2)) : hex
                serial = database.records.first { $0.serial.trimmingLeadingZeros == normalized.trimmingLeadingZeros }?.serial
            }
            guard let serial, let existing = database.record(serial: serial) else {
                throw MeshCAError.invalidInput(
                    "no certificate named or with serial '\(nameOrSerial)' in \(store.location): see certtool list")
            }
            if let revoked = existing.revocationDate {
                throw MeshCAError.invalidInput("'\(nameOrSerial)' (serial \(serial)) was already revoked on \(revoked.iso8601)")
            }
            let record = database.revoke(serial: serial, at: date, reason: reason)!
            try store.saveDatabase(database)
            return record
        }
    }

    /// Writes a fresh CRL listing every revoked certificate, with the next CRL number.
    public func publishCRL(nextUpdate: ValidityPeriod, now: Date = Date()) throws -> (crl: CertificateRevocationList, number: Int) {
        try store.withExclusiveAccess {
            let material = try loadAuthority()
            let database = try store.loadDatabase()
            let entries = database.records.compactMap { record -> CertificateRevocationList.Entry? in
                guard record.status == .revoked, let date = record.revocationDate else { return nil }
                return .init(serial: record.serial.hexBytes, revocationDate: date, reason: record.revocationReason)
            }
            let number = try store.nextCRLNumber()
            let crl = try CertificateRevocationList(
                issuer: material.signer, number: number, entries: entries,
                thisUpdate: now - CertificateBuilder.backdate, nextUpdate: now + nextUpdate.seconds)
            try store.saveCRL(pem: crl.pemString, number: number)
            return (crl, number)
        }
    }
}

extension String {
    var trimmingLeadingZeros: Substring {
        let trimmed = drop { $0 == "0" }
        return trimmed.isEmpty ? "0" : trimmed
    }

    var hexBytes: [UInt8] {
        var bytes: [UInt8] = []
        let even = count.isMultiple(of: 2) ? self : "0" + self
        var index = even.startIndex
        while index < even.endIndex {
            let next = even.index(index, offsetBy: 2)
            bytes.append(UInt8(even[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }
}
