import MeshPlatform
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
        var positions = [String: Int](minimumCapacity: records.count)
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

    /// Parses `index.txt`; `source` names the file in errors. Works on the UTF-8 bytes in place: a CA's index
    /// grows with every certificate and is read by every command (50,000 rows: 53 ms with `split` and a String
    /// per field, most of it reference counting). An unterminated last line that does not parse is the torn
    /// tail of an append cut short by a crash: it was never committed, so it is dropped (and the next write
    /// replaces the file).
    public init(parsing text: String, source: String) throws {
        var text = text
        let (records, positions, complete) = try text.withUTF8 { try Self.parseRows($0, source: source) }
        self.records = records
        self.positions = positions
        if complete {
            self.text = text
            self.persistedLength = text.utf8.count
        } else {
            self.text = nil
        }
    }

    private static func parseRows(
        _ bytes: UnsafeBufferPointer<UInt8>, source: String
    ) throws -> ([Record], [String: Int], complete: Bool) {
        var records: [Record] = []
        records.reserveCapacity(bytes.count / 64)
        var positions = [String: Int](minimumCapacity: bytes.count / 64)
        var start = 0
        var number = 0
        while start < bytes.count {
            number += 1
            let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n"))
            let end = newline ?? bytes.count
            defer { start = end + 1 }
            guard end > start else { continue }
            do {
                let record = try parseRow(UnsafeBufferPointer(rebasing: bytes[start..<end]), number: number, source: source)
                positions[record.serial] = records.count
                records.append(record)
            } catch where newline == nil {
                return (records, positions, false)
            }
            if newline == nil { return (records, positions, false) }
        }
        return (records, positions, true)
    }

    private static func parseRow(_ line: UnsafeBufferPointer<UInt8>, number: Int, source: String) throws -> Record {
        func fail(_ why: String) -> MeshCAError {
            MeshCAError.store("\(source) line \(number) is malformed (\(why)): repair or restore it")
        }
        func text(_ field: Slice<UnsafeBufferPointer<UInt8>>) -> String { String(decoding: field, as: UTF8.self) }
        let tab = UInt8(ascii: "\t")
        let tabs = line.reduce(0) { $0 + ($1 == tab ? 1 : 0) }
        guard tabs == 5 else { throw fail("expected 6 tab-separated fields, found \(tabs + 1)") }
        var rest = line[...]
        func next() -> Slice<UnsafeBufferPointer<UInt8>> {
            let end = rest.firstIndex(of: tab) ?? rest.endIndex
            defer { rest = rest[min(end + 1, rest.endIndex)...] }
            return rest[..<end]
        }
        let fields = (next(), next(), next(), next(), next(), next())
        let status: Status
        switch (fields.0.count, fields.0.first) {
        case (1, UInt8(ascii: "V")): status = .valid
        case (1, UInt8(ascii: "R")): status = .revoked
        case (1, UInt8(ascii: "E")): status = .expired
        default: throw fail("unknown status '\(text(fields.0))'")
        }
        guard let expiry = Self.parseTime(fields.1) else { throw fail("bad expiry '\(text(fields.1))'") }
        var revocationDate: Date?
        var reason: RevocationReason?
        if status == .revoked {
            let revocation = fields.2
            let comma = revocation.firstIndex(of: UInt8(ascii: ","))
            guard let date = Self.parseTime(revocation[..<(comma ?? revocation.endIndex)]) else {
                throw fail("bad revocation date '\(text(revocation))'")
            }
            revocationDate = date
            if let comma {
                let name = text(revocation[(comma + 1)...])
                guard let parsed = RevocationReason(opensslName: name) else {
                    throw fail("unknown revocation reason '\(name)'")
                }
                reason = parsed
            }
        }
        let serial = fields.3
        let upperSerial = String(unsafeUninitializedCapacity: serial.count) { out in
            for (offset, byte) in serial.enumerated() {
                out[offset] = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 0x20 : byte
            }
            return serial.count
        }
        return Record(status: status, expiry: expiry, revocationDate: revocationDate, revocationReason: reason,
                      serial: upperSerial, subject: text(fields.5))
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

    /// `YYMMDDHHMMSSZ` or `YYYYMMDDHHMMSSZ`.
    static func parseTime(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> Date? {
        guard digits.last == UInt8(ascii: "Z"), digits.count == 13 || digits.count == 15,
            digits.dropLast().allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else { return nil }
        func number(_ start: Int, _ length: Int) -> Int {
            let from = digits.startIndex + start
            return digits[from..<from + length].reduce(0) { $0 * 10 + Int($1 - 0x30) }
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
