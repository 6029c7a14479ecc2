import MeshPlatform
import X509

/// EST enrollment (RFC 7030): the CA signs keys its clients generated, authorized by a one-time token
/// (simpleenroll) or by the client's current certificate (simplereenroll).
extension CertificateAuthority {
    /// The provisioner that makes and checks enrollment tokens, created on first use when `create` is set.
    public func provisioner(create: Bool) throws -> Provisioner {
        let key = try store.withExclusiveAccess { () throws -> Provisioner? in
            _ = try loadAuthority()
            return try store.provisionerKey(create: create).map(Provisioner.init)
        }
        guard let key else {
            throw MeshCAError.store("\(store.location) has no provisioner key yet: run certtool token once to create it")
        }
        return key
    }

    /// An enrollment checked as far as it can be without the store's lock, and already signed — signing is
    /// the expensive part, and done here it runs in parallel; `commit` only checks the authorization against
    /// the store and records the certificate.
    ///
    /// A class: a job passes from the event loop through the commit queue and back, and copying its
    /// certificates as values retained dozens of buffers at every step.
    public final class EnrollmentJob: Sendable {
        enum Authorization: Sendable {
            case token(id: String, expiresAt: Date)
            /// `grace`: how long after its notAfter the current certificate may still be renewed.
            case renewal(serial: String, grace: TimeInterval)
        }

        let publicKey: Certificate.PublicKey
        let keyIdentifier: SubjectKeyIdentifier?
        let subject: DistinguishedName
        let request: LeafRequest
        let authorization: Authorization
        let leaf: Certificate
        /// The CA that signed `leaf`.
        let signer: SigningIdentity
        /// `leaf` in PEM, encoded here rather than on the commit thread.
        let leafPEM: String

        fileprivate init(
            publicKey: Certificate.PublicKey, keyIdentifier: SubjectKeyIdentifier?, subject: DistinguishedName,
            request: LeafRequest, authorization: Authorization, signer: SigningIdentity, now: Date
        ) throws {
            self.publicKey = publicKey
            self.keyIdentifier = keyIdentifier
            self.subject = subject
            self.request = request
            self.authorization = authorization
            self.signer = signer
            leaf = try CertificateBuilder.leaf(
                subject: subject, publicKey: publicKey, subjectAltNames: request.subjectAltNames,
                profile: request.profile, validity: request.validity, issuer: signer, now: now, keyIdentifier: keyIdentifier)
            leafPEM = try leaf.pemString()
        }
    }

    private func makeJob(
        _ request: CertificateRequest, subject: DistinguishedName, leaf: LeafRequest,
        authorization: EnrollmentJob.Authorization, signer: SigningIdentity? = nil, now: Date
    ) throws -> EnrollmentJob {
        try EnrollmentJob(
            publicKey: request.csr.publicKey, keyIdentifier: request.keyIdentifier, subject: subject, request: leaf,
            authorization: authorization, signer: try signer ?? loadAuthorityAhead().signer, now: now)
    }

    private static func sign(_ job: EnrollmentJob, issuer: SigningIdentity, now: Date) throws -> Certificate {
        try CertificateBuilder.leaf(
            subject: job.subject, publicKey: job.publicKey, subjectAltNames: job.request.subjectAltNames,
            profile: job.request.profile, validity: job.request.validity, issuer: issuer, now: now,
            keyIdentifier: job.keyIdentifier)
    }

    /// Checks `csr` against what `token` allows: a subset of the granted SANs (none asked: all of them) and
    /// no key usage the granted profile lacks. Nothing is spent yet.
    public func prepareEnrollment(
        _ request: CertificateRequest, token: VerifiedEnrollmentToken, validity: ValidityPeriod, now: Date = Date()
    ) throws -> EnrollmentJob {
        let csr = request.csr
        try Self.checkRequest(csr)
        let grant = token.grant
        let requested = try Self.requestedSubjectAltNames(csr) ?? grant.subjectAltNames
        if let extra = requested.first(where: { !grant.subjectAltNames.contains($0) }) {
            throw EnrollmentRefusal(.notGranted, "the CSR asks for SAN \(extra), which the token does not grant (it grants \(grant.subjectAltNames.map(\.description).joined(separator: ", ")))")
        }
        try Self.checkRequestedUsage(csr, allowed: grant.profile)
        let leaf = LeafRequest(
            name: grant.certificateName, subjectAltNames: requested, profile: grant.profile, validity: validity, force: true)
        try Self.validate(name: leaf.name)
        return try makeJob(
            request, subject: DistinguishedName(commonName: leaf.name), leaf: leaf,
            authorization: .token(id: token.id, expiresAt: token.expiresAt), now: now)
    }

    /// Checks a renewal of `current` for the key in `csr`: `current` must have been signed by this CA's
    /// signer and be within its validity; the renewal gets the same name, SANs and profile. Whether `current`
    /// is revoked is checked against the database by `commit`.
    ///
    /// `expiredGrace` lets a certificate that expired while its holder could not reach the CA be renewed that long after its notAfter
    /// (revocation is still checked), so an outage longer than a lifetime heals without new tokens.
    public func prepareRenewal(
        _ request: CertificateRequest, current: Certificate, validity: ValidityPeriod,
        expiredGrace: TimeInterval = 0, now: Date = Date()
    ) throws -> EnrollmentJob {
        let csr = request.csr
        let signer = try loadAuthorityAhead().signer
        try checkIssued(current, by: signer.certificate, grace: expiredGrace, now: now)
        try Self.checkRequest(csr)
        let sans = current.subjectAltNames
        if let requested = try Self.requestedSubjectAltNames(csr),
            let extra = requested.first(where: { !sans.contains($0) })
        {
            throw EnrollmentRefusal(.notGranted, "re-enrollment keeps the current SANs: the CSR asks for \(extra), which the current certificate lacks")
        }
        let profile = try Self.profile(of: current)
        try Self.checkRequestedUsage(csr, allowed: profile)
        guard let name = current.subject.commonName, (try? Self.validate(name: name)) != nil else {
            throw EnrollmentRefusal(.certificateInvalid, "the client certificate has no usable common name to renew under")
        }
        let leaf = LeafRequest(name: name, subjectAltNames: sans, profile: profile, validity: validity, force: true)
        return try makeJob(
            request, subject: current.subject, leaf: leaf,
            authorization: .renewal(serial: current.serialNumber.hexString, grace: expiredGrace), signer: signer, now: now)
    }

    /// The CA for signing ahead of a commit, looked up on disk at most once a second: `commit` loads it again
    /// under the lock and signs again if it changed.
    private func loadAuthorityAhead() throws -> AuthorityMaterial {
        guard let material = try store.loadAuthority(maximumAge: .seconds(1)) else { return try loadAuthority() }
        return material
    }

    /// Records prepared enrollments under one lock with one durable write (group commit). A
    /// token redeems exactly once, even across processes; a renewal is refused when the database shows the
    /// current certificate revoked, expired or unknown. Each job gets its own result; a failed write fails all.
    public func commit(_ jobs: [EnrollmentJob], now: Date = Date()) throws -> [Result<Issued, any Error>] {
        var answered: [Result<Issued, any Error>] = []
        try commit(jobs, now: now) { answered = $0 }
        return answered
    }

    /// `commit`, handing the results to `durable` as soon as they are durable: a server answers its clients
    /// then, while the store still makes the batch visible to other readers. An error thrown after `durable` ran
    /// (pki/ could not be written after the commit point) leaves the batch committed: the next holder of the
    /// lock replays it.
    public func commit(
        _ jobs: [EnrollmentJob], now: Date = Date(), durable: ([Result<Issued, any Error>]) -> Void
    ) throws {
        try store.withExclusiveAccess {
            let material = try loadAuthority()
            var database = try store.takeDatabase()
            var ledger: TokenLedger?
            var stored: [StoredIssuance] = []
            let results = jobs.map { job in
                Result<Issued, any Error> {
                    switch job.authorization {
                    case .token(let id, _):
                        if ledger == nil { ledger = try store.takeTokenLedger() }
                        guard !ledger!.isUsed(id) else {
                            throw EnrollmentRefusal(.reusedToken, "the enrollment token was already used: tokens are one-time, make a new one with certtool token")
                        }
                    case .renewal(let serial, let grace):
                        try Self.checkRenewable(serial: serial, in: database, now: now - grace)
                    }
                    // The CA changed since the job was signed (another process re-initialized it): sign again.
                    let unchanged = job.signer === material.signer || job.signer.certificate == material.signer.certificate
                    let leaf = unchanged ? job.leaf : try Self.sign(job, issuer: material.signer, now: now)
                    let serial = leaf.serialNumber.hexString
                    guard database.record(serial: serial) == nil else {
                        throw MeshCAError.store("serial \(serial) is already in the database (random collision): try again")
                    }
                    var redeemed: (id: String, expiresAt: Date)?
                    if case .token(let id, let expiresAt) = job.authorization {
                        _ = ledger!.consume(id, expiresAt: expiresAt)
                        redeemed = (id, expiresAt)
                    }
                    database.append(.init(
                        status: .valid, expiry: leaf.notValidAfter, revocationDate: nil, revocationReason: nil,
                        serial: serial, subject: leaf.subject.opensslOneLine))
                    let chain = [leaf] + material.chain
                    stored.append(StoredIssuance(
                        name: job.request.name, chain: chain, leafPEM: unchanged ? job.leafPEM : nil, redeemedToken: redeemed))
                    return Issued(name: job.request.name, chain: chain, privateKeyPEM: nil, createdAuthority: nil)
                }
            }
            if !stored.isEmpty {
                try store.saveIssuances(stored, database: database, tokenLedger: ledger) { durable(results) }
            } else {
                store.returnUnchanged(database, tokenLedger: ledger)
                durable(results)
            }
        }
    }

    /// `commit` for one job, throwing its refusal.
    public func commit(_ job: EnrollmentJob, now: Date = Date()) throws -> Issued {
        try commit([job], now: now)[0].get()
    }

    /// The CA checks its own issuance directly — the signer's signature and the validity dates — rather than
    /// building a path: there is exactly one issuer a renewable certificate can have.
    private func checkIssued(_ certificate: Certificate, by signer: Certificate, grace: TimeInterval, now: Date) throws {
        guard certificate.issuer == signer.subject, verifiedSignatures.isSigned(certificate, by: signer) else {
            throw EnrollmentRefusal(.certificateInvalid, "the client certificate was not issued by this CA: enroll with a token")
        }
        guard certificate.notValidBefore <= now else {
            throw EnrollmentRefusal(.certificateInvalid, "the client certificate is not valid before \(certificate.notValidBefore.iso8601): check the clocks")
        }
        guard now < certificate.notValidAfter + grace else {
            throw EnrollmentRefusal(.certificateInvalid, "the client certificate expired at \(certificate.notValidAfter.iso8601): enroll again with a new token")
        }
    }

    private static func checkRenewable(serial: String, in database: CertificateDatabase, now: Date) throws {
        guard let record = database.record(serial: serial) else {
            throw EnrollmentRefusal(.certificateInvalid, "the client certificate (serial \(serial)) was not issued by this CA's database: enroll with a token")
        }
        switch record.effectiveStatus(at: now) {
        case .revoked:
            throw EnrollmentRefusal(.certificateRevoked, "the client certificate (serial \(serial)) is revoked: enroll again with a new token")
        case .expired:
            throw EnrollmentRefusal(.certificateInvalid, "the client certificate (serial \(serial)) has expired: enroll again with a new token")
        case .valid:
            break
        }
    }

    private static func checkRequest(_ csr: CertificateSigningRequest) throws {
        do {
            try checkSignatureAndKey(csr)
        } catch let error as MeshCAError {
            throw EnrollmentRefusal(.badRequest, error.description)
        }
    }

    /// A CSR cannot name a profile, but it can ask for extended key usages: each must be in `allowed`.
    private static func checkRequestedUsage(_ csr: CertificateSigningRequest, allowed: Profile) throws {
        guard let usage = try? csr.attributes.extensionRequest?.extensions.extendedKeyUsage else { return }
        for requested in usage where !allowed.extendedKeyUsage.contains(requested) {
            throw EnrollmentRefusal(.notGranted, "the CSR asks for extended key usage \(requested), which the \(allowed.rawValue) profile does not grant")
        }
    }

    private static func profile(of certificate: Certificate) throws -> Profile {
        let usages = Set((try? certificate.extensions.extendedKeyUsage).map { Array($0) } ?? [])
        switch (usages.contains(.serverAuth), usages.contains(.clientAuth)) {
        case (true, true): return .both
        case (true, false): return .server
        case (false, true): return .client
        case (false, false):
            throw EnrollmentRefusal(.certificateInvalid, "the client certificate has no serverAuth or clientAuth usage to renew")
        }
    }
}
