import Foundation
import X509

/// The OpenSSL `ca` database (`index.txt`): one tab-separated row per issued certificate, readable by
/// `openssl ca -status` and `openssl ocsp -index`.
public struct CertificateDatabase: Sendable, Equatable {
    public enum Status: String, Sendable, Codable {
        case valid = "V"
        case revoked = "R"
        case expired = "E"
    }

    public struct Record: Sendable, Equatable {
        public var status: Status
        public var expiry: Date
        public var revocationDate: Date?
        public var revocationReason: RevocationReason?
        /// Upper-case hex, even number of digits.
        public var serial: String
        /// OpenSSL one-line form, e.g. `/CN=web.example.internal`.
        public var subject: String

        /// The status as of `date`: OpenSSL marks rows `E` only when asked to, so expiry is computed.
        public func effectiveStatus(at date: Date) -> Status {
            if status == .valid && expiry <= date { return .expired }
            return status
        }
    }

    public var records: [Record]

    public init(records: [Record] = []) { self.records = records }

    public func record(serial: String) -> Record? {
        records.first { $0.serial.caseInsensitiveCompare(serial) == .orderedSame }
    }

    /// Parses `index.txt`; `source` names the file in errors.
    public init(parsing text: String, source: String) throws {
        var records: [Record] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            func fail(_ why: String) -> MeshCAError {
                MeshCAError.store("\(source) line \(number + 1) is malformed (\(why)): repair or restore it")
            }
            guard fields.count == 6 else { throw fail("expected 6 tab-separated fields, found \(fields.count)") }
            guard let status = Status(rawValue: fields[0]) else { throw fail("unknown status '\(fields[0])'") }
            guard let expiry = Self.parseTime(fields[1]) else { throw fail("bad expiry '\(fields[1])'") }
            var revocationDate: Date?
            var reason: RevocationReason?
            if status == .revoked {
                let parts = fields[2].split(separator: ",", maxSplits: 1).map(String.init)
                guard let first = parts.first, let date = Self.parseTime(first) else {
                    throw fail("bad revocation date '\(fields[2])'")
                }
                revocationDate = date
                if parts.count == 2 {
                    guard let parsed = RevocationReason(opensslName: parts[1]) else {
                        throw fail("unknown revocation reason '\(parts[1])'")
                    }
                    reason = parsed
                }
            }
            records.append(
                Record(status: status, expiry: expiry, revocationDate: revocationDate, revocationReason: reason,
                       serial: fields[3].uppercased(), subject: fields[5]))
        }
        self.records = records
    }

    public var serialized: String {
        records.map { record in
            var revocation = ""
            if let date = record.revocationDate, record.status == .revoked {
                revocation = Self.formatTime(date)
                if let reason = record.revocationReason, reason != .unspecified { revocation += ",\(reason.opensslName)" }
            }
            return [record.status.rawValue, Self.formatTime(record.expiry), revocation, record.serial, "unknown",
                    record.subject].joined(separator: "\t") + "\n"
        }.joined()
    }

    /// OpenSSL writes UTCTime (`YYMMDDHHMMSSZ`) before 2050 and GeneralizedTime (`YYYYMMDDHHMMSSZ`) after.
    static func formatTime(_ date: Date) -> String {
        let c = Calendar.utc.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let year = c.year!
        let prefix = year < 2050 ? String(format: "%02d", year % 100) : String(format: "%04d", year)
        return prefix + String(format: "%02d%02d%02d%02d%02dZ", c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    static func parseTime(_ text: String) -> Date? {
        guard text.hasSuffix("Z"), text.count == 13 || text.count == 15 else { return nil }
        let digits = text.dropLast()
        guard digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        let numbers = Array(digits)
        func number(_ start: Int, _ length: Int) -> Int { Int(String(numbers[start..<start + length]))! }
        var year: Int, offset: Int
        if text.count == 13 {
            let yy = number(0, 2)
            year = yy >= 50 ? 1900 + yy : 2000 + yy
            offset = 2
        } else {
            year = number(0, 4)
            offset = 4
        }
        var components = DateComponents()
        components.year = year
        components.month = number(offset, 2)
        components.day = number(offset + 2, 2)
        components.hour = number(offset + 4, 2)
        components.minute = number(offset + 6, 2)
        components.second = number(offset + 8, 2)
        return Calendar.utc.date(from: components)
    }
}

extension Calendar {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
