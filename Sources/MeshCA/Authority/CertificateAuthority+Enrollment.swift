import Foundation
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

    /// Signs `csr` as `token` allows, and marks the token used in the same locked step, so a token redeems
    /// exactly once even across processes. The CSR may ask for a subset of the granted SANs (none asked: all
    /// of them) and must not ask for a key usage the granted profile lacks.
    public func enroll(
        _ csr: CertificateSigningRequest, token: VerifiedEnrollmentToken, validity: ValidityPeriod, now: Date = Date()
    ) throws -> Issued {
        try Self.checkRequest(csr)
        let grant = token.grant
        let requested = try Self.requestedSubjectAltNames(csr) ?? grant.subjectAltNames
        if let extra = requested.first(where: { !grant.subjectAltNames.contains($0) }) {
            throw EnrollmentRefusal(.notGranted, "the CSR asks for SAN \(extra), which the token does not grant (it grants \(grant.subjectAltNames.map(\.description).joined(separator: ", ")))")
        }
        try Self.checkRequestedUsage(csr, allowed: grant.profile)
        let request = LeafRequest(
            name: grant.certificateName, subjectAltNames: requested, profile: grant.profile, validity: validity, force: true)
        try Self.validate(name: request.name)
        return try store.withExclusiveAccess {
            guard try store.consumeToken(id: token.id, expiresAt: token.expiresAt, now: now) else {
                throw EnrollmentRefusal(.reusedToken, "the enrollment token was already used: tokens are one-time, make a new one with certtool token")
            }
            return try signLocked(publicKey: csr.publicKey, subject: try Self.subject(request.name), request: request)
        }
    }

    /// Renews `current` (already verified to chain to this CA by the TLS layer) for the key in `csr`: same
    /// name, SANs and profile. Refused when the database shows `current` revoked or expired, or unknown.
    public func reenroll(
        _ csr: CertificateSigningRequest, current: Certificate, validity: ValidityPeriod, now: Date = Date()
    ) throws -> Issued {
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
        let request = LeafRequest(name: name, subjectAltNames: sans, profile: profile, validity: validity, force: true)
        return try store.withExclusiveAccess {
            let serial = current.serialNumber.hexString
            guard let record = try store.loadDatabase().record(serial: serial) else {
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
            return try signLocked(publicKey: csr.publicKey, subject: current.subject, request: request)
        }
    }

    private static func checkRequest(_ csr: CertificateSigningRequest) throws {
        do {
            try checkSignatureAndKey(csr)
        } catch let error as MeshCAError {
            throw EnrollmentRefusal(.badRequest, error.description)
        }
    }

    private static func subject(_ name: String) throws -> DistinguishedName {
        try DistinguishedName { CommonName(name) }
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
