import Foundation
import Testing
@testable import MeshCA

@Suite struct CertificateDatabaseTests {
    @Test func roundTripsOpenSSLRows() throws {
        let text = """
            V\t270220012155Z\t\t57CBE9D6F600C91E983740E49D3B9424\tunknown\t/CN=web
            R\t270220012155Z\t261122012158Z,keyCompromise\t7F0ACC7C368BE44389EC1C0961891FB4\tunknown\t/CN=prom
            R\t20510101000000Z\t261122012158Z\t0A\tunknown\t/O=Example/CN=far

            """
        let database = try CertificateDatabase(parsing: text, source: "index.txt")
        #expect(database.records.count == 3)
        #expect(database.records[1].revocationReason == .keyCompromise)
        #expect(database.records[2].revocationReason == nil)
        #expect(UTCDateTime(database.records[2].expiry).year == 2051)
        #expect(database.serialized == text)
        // Serializing from the parsed records reproduces OpenSSL's rows byte for byte.
        #expect(CertificateDatabase(records: database.records).serialized == text)
        #expect(database.record(serial: "57cbe9d6f600c91e983740e49d3b9424")?.subject == "/CN=web")
    }

    @Test(arguments: ["V\t270220012155Z\t\tAB\tunknown", "X\t270220012155Z\t\tAB\tunknown\t/CN=a",
                      "V\tyesterday\t\tAB\tunknown\t/CN=a", "R\t270220012155Z\t\tAB\tunknown\t/CN=a",
                      "R\t270220012155Z\t261122012158Z,boredom\tAB\tunknown\t/CN=a"])
    func malformedRowsNameTheLine(row: String) {
        #expect(throws: MeshCAError.self) { try CertificateDatabase(parsing: row + "\n", source: "index.txt") }
        #expect(throws: MeshCAError.self) { try CertificateDatabase(parsing: row + "\nV\t270220012155Z\t\tCD\tunknown\t/CN=b\n", source: "index.txt") }
    }

    @Test func serialsAreUpperCasedAndExtraFieldsAreNamed() throws {
        let database = try CertificateDatabase(parsing: "V\t270220012155Z\t\tab12cd\tunknown\t/CN=a b\n", source: "index.txt")
        #expect(database.records.map(\.serial) == ["AB12CD"])
        #expect(database.record(serial: "ab12cd")?.subject == "/CN=a b")
        #expect(throws: MeshCAError.store("index.txt line 2 is malformed (expected 6 tab-separated fields, found 7): repair or restore it")) {
            try CertificateDatabase(parsing: "V\t270220012155Z\t\tAB\tunknown\t/CN=a\nV\t270220012155Z\t\tCD\tunknown\t/CN=b\tx\n", source: "index.txt")
        }
    }

    @Test func aTornLastLineIsDroppedAndTheFileIsReplacedNextTime() throws {
        let good = "V\t270220012155Z\t\tAB\tunknown\t/CN=a\n"
        let torn = try CertificateDatabase(parsing: good + "V\t2702200", source: "index.txt")
        #expect(torn.records.map(\.serial) == ["AB"])
        #expect(torn.appendedRows(fileSize: Int64((good + "V\t2702200").utf8.count)) == nil)
        #expect(torn.serialized == good)
        // A complete last row without its newline is kept (a hand edit), and the file is rewritten too.
        let unterminated = try CertificateDatabase(parsing: String(good.dropLast()), source: "index.txt")
        #expect(unterminated.records.count == 1 && unterminated.appendedRows(fileSize: Int64(good.utf8.count - 1)) == nil)
    }

    @Test func newRowsAreAppendedOnlyWhileTheFileIsUnchanged() throws {
        let original = "V\t270220012155Z\t\tAB\tunknown\t/CN=a\n"
        var database = try CertificateDatabase(parsing: original, source: "x")
        let size = Int64(original.utf8.count)
        #expect(database.appendedRows(fileSize: size) == "")
        let expiry = try #require(CertificateDatabase.parseTime("300101000000Z"))
        database.append(.init(status: .valid, expiry: expiry, revocationDate: nil, revocationReason: nil, serial: "CD", subject: "/CN=b"))
        #expect(database.appendedRows(fileSize: size) == "V\t300101000000Z\t\tCD\tunknown\t/CN=b\n")
        #expect(database.appendedRows(fileSize: size + 1) == nil, "someone else changed the file")
        database.markPersisted()
        #expect(database.appendedRows(fileSize: Int64(database.serialized.utf8.count)) == "")
        _ = database.revoke(serial: "AB", at: expiry, reason: .superseded)
        #expect(database.appendedRows(fileSize: Int64(database.serialized.utf8.count)) == nil, "a revocation rewrites")
    }

    @Test func appendKeepsExistingRowsAndRevokeRewritesOne() throws {
        let original = "V\t270220012155Z\t\tAB\tunknown\t/CN=a\n"
        var database = try CertificateDatabase(parsing: original, source: "x")
        let expiry = try #require(CertificateDatabase.parseTime("300101000000Z"))
        database.append(.init(status: .valid, expiry: expiry, revocationDate: nil, revocationReason: nil, serial: "CD", subject: "/CN=b"))
        #expect(database.serialized == original + "V\t300101000000Z\t\tCD\tunknown\t/CN=b\n")
        let revokedAt = try #require(CertificateDatabase.parseTime("261122012158Z"))
        #expect(database.revoke(serial: "ab", at: revokedAt, reason: .superseded)?.status == .revoked)
        #expect(database.serialized.hasPrefix("R\t270220012155Z\t261122012158Z,superseded\tAB\tunknown\t/CN=a\n"))
        let missing = database.revoke(serial: "EF", at: revokedAt, reason: .superseded)
        #expect(missing == nil)
    }

    @Test func expiryIsComputed() throws {
        let database = try CertificateDatabase(parsing: "V\t200101000000Z\t\tAB\tunknown\t/CN=a\n", source: "x")
        #expect(database.records[0].effectiveStatus(at: Date()) == .expired)
    }
}

@Suite struct UTCDateTimeTests {
    @Test func agreesWithFoundationAcrossCenturies() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let date = Date(timeIntervalSince1970: TimeInterval(Int.random(in: -2_000_000_000...7_000_000_000, using: &generator)))
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            let t = UTCDateTime(date)
            let ours: [Int] = [t.year, t.month, t.day, t.hour, t.minute, t.second]
            let foundation: [Int] = [c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!]
            #expect(ours == foundation)
            #expect(t.date == date)
        }
        #expect(UTCDateTime(year: 2026, month: 13, day: 1, hour: 0, minute: 0, second: 0).date == nil)
    }
}

extension CertificateDatabase {
    static func parseTime(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { parseTime($0[...]) }
    }
}
