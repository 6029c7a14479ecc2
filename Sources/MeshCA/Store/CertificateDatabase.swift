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

    public private(set) var records: [Record]
    /// The file as read plus appended rows, so an issuance does not re-serialize every row; nil after an update.
    private var text: String?
    /// How many bytes of `text` the file is known to hold; nil when unknown (the file must be replaced).
    private var persistedLength: Int?
    /// Serial → position in `records`: renewals look their client up on every request.
    private var positions: [String: Int]

    public init(records: [Record] = []) {
        self.records = records
        self.text = records.isEmpty ? "" : nil
        self.positions = Self.positions(records)
    }

    private static func positions(_ records: [Record]) -> [String: Int] {
        var positions: [String: Int] = [:]
        for (index, record) in records.enumerated() { positions[record.serial] = index }
        return positions
    }

    /// Adds a row for a newly issued certificate.
    public mutating func append(_ record: Record) {
        positions[record.serial] = records.count
        records.append(record)
        text? += Self.line(record)
    }

    /// Marks a certificate revoked; returns the updated row.
    public mutating func revoke(serial: String, at date: Date, reason: RevocationReason) -> Record? {
        guard let index = positions[serial.uppercased()] else { return nil }
        records[index].status = .revoked
        records[index].revocationDate = date
        records[index].revocationReason = reason
        text = nil
        persistedLength = nil
        return records[index]
    }

    public func record(serial: String) -> Record? {
        positions[serial.uppercased()].map { records[$0] }
    }

    /// Parses `index.txt`; `source` names the file in errors. Works on UTF-8 bytes: a CA's index grows with
    /// every certificate and is read by every command. An unterminated last line that does not parse is the
    /// torn tail of an append cut short by a crash: it was never committed, so it is dropped (and the next
    /// write replaces the file).
    public init(parsing text: String, source: String) throws {
        var records: [Record] = []
        let bytes = Array(text.utf8)
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var complete = true
        for (offset, line) in lines.enumerated() where !line.isEmpty {
            let isTail = offset == lines.count - 1
            do {
                records.append(try Self.parseRow(line, number: offset + 1, source: source))
            } catch where isTail {
                complete = false
                continue
            }
            if isTail { complete = false }
        }
        self.records = records
        self.positions = Self.positions(records)
        if complete {
            self.text = text
            self.persistedLength = bytes.count
        } else {
            self.text = nil
        }
    }

    private static func parseRow(_ line: ArraySlice<UInt8>, number: Int, source: String) throws -> Record {
        let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        func fail(_ why: String) -> MeshCAError {
            MeshCAError.store("\(source) line \(number) is malformed (\(why)): repair or restore it")
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
        return Record(status: status, expiry: expiry, revocationDate: revocationDate, revocationReason: reason,
                      serial: fields[3].uppercased(), subject: fields[5])
    }

    /// The rows added since the file was last read or written, when the file (`fileSize` bytes now) still holds
    /// exactly what it held then: appending them is the whole update. Nil when the file must be replaced.
    public func appendedRows(fileSize: Int64) -> Substring? {
        guard let text, let persistedLength, Int64(persistedLength) == fileSize else { return nil }
        return Substring(text.utf8.dropFirst(persistedLength))
    }

    /// Records that the file now holds this database exactly.
    public mutating func markPersisted() {
        let text = serialized
        self.text = text
        persistedLength = text.utf8.count
    }

    public var serialized: String { text ?? records.map(Self.line).joined() }

    private static func line(_ record: Record) -> String {
        var revocation = ""
        if let date = record.revocationDate, record.status == .revoked {
            revocation = formatTime(date)
            if let reason = record.revocationReason, reason != .unspecified { revocation += ",\(reason.opensslName)" }
        }
        return [record.status.rawValue, formatTime(record.expiry), revocation, record.serial, "unknown", record.subject]
            .joined(separator: "\t") + "\n"
    }

    static func formatTime(_ date: Date) -> String { UTCDateTime(date).opensslTime }

    static func parseTime(_ text: String) -> Date? {
        let digits = Array(text.utf8)
        guard digits.last == UInt8(ascii: "Z"), digits.count == 13 || digits.count == 15,
            digits.dropLast().allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else { return nil }
        func number(_ start: Int, _ length: Int) -> Int {
            digits[start..<start + length].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        let offset = digits.count == 13 ? 2 : 4
        var year = number(0, offset)
        if offset == 2 { year += year >= 50 ? 1900 : 2000 }
        return UTCDateTime(
            year: year, month: number(offset, 2), day: number(offset + 2, 2), hour: number(offset + 4, 2),
            minute: number(offset + 6, 2), second: number(offset + 8, 2)
        ).date
    }
}
