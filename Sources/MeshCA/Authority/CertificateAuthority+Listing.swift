import MeshPlatform
import X509

extension CertificateAuthority {
    /// One row of `certtool list`.
    public struct ListingEntry: Codable, Sendable {
        public var name: String
        public var serial: String
        public var subjectAltNames: [String]
        public var profile: String
        public var notAfter: Date
        public var daysLeft: Int
        public var status: String
        public var revocationReason: String?
    }

    /// Every certificate in the database, oldest first, named by the name it was issued under when it is still
    /// the current one for that name, otherwise by its common name.
    public func listing(at now: Date = Date()) throws -> [ListingEntry] {
        try store.withSharedAccess {
            _ = try loadAuthority()
            var currentNames: [String: String] = [:]
            for name in try store.issuedNames() {
                if let leaf = try store.issuedChain(named: name)?.first {
                    currentNames[leaf.serialNumber.hexString] = name
                }
            }
            let records = try store.loadDatabase().records
            let certificates = try store.certificates(serials: records.map(\.serial))
            return records.map { record in
                let certificate = certificates[record.serial.uppercased()]
                let summary = certificate.map(CertificateSummary.init)
                let status: String
                switch record.effectiveStatus(at: now) {
                case .valid: status = "valid"
                case .revoked: status = "revoked"
                case .expired: status = "expired"
                }
                return ListingEntry(
                    name: currentNames[record.serial] ?? certificate?.subject.commonName ?? record.subject,
                    serial: record.serial, subjectAltNames: summary?.subjectAltNames ?? [],
                    profile: summary?.profile ?? "unknown", notAfter: record.expiry,
                    daysLeft: Int((record.expiry.timeIntervalSince(now) / 86_400).rounded(.down)),
                    status: status, revocationReason: record.revocationReason?.opensslName)
            }
        }
    }

    /// Serials of every revoked certificate in the database.
    public func revokedSerials() throws -> Set<String> {
        try store.withSharedAccess {
            Set(try store.loadDatabase().records.filter { $0.status == .revoked }.map(\.serial))
        }
    }
}
