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
        #expect(Calendar.utc.component(.year, from: database.records[2].expiry) == 2051)
        #expect(database.serialized == text)
        #expect(database.record(serial: "57cbe9d6f600c91e983740e49d3b9424")?.subject == "/CN=web")
    }

    @Test(arguments: ["V\t270220012155Z\t\tAB\tunknown", "X\t270220012155Z\t\tAB\tunknown\t/CN=a",
                      "V\tyesterday\t\tAB\tunknown\t/CN=a", "R\t270220012155Z\t\tAB\tunknown\t/CN=a",
                      "R\t270220012155Z\t261122012158Z,boredom\tAB\tunknown\t/CN=a"])
    func malformedRowsNameTheLine(row: String) {
        #expect(throws: MeshCAError.self) { try CertificateDatabase(parsing: row, source: "index.txt") }
    }

    @Test func expiryIsComputed() throws {
        let database = try CertificateDatabase(parsing: "V\t200101000000Z\t\tAB\tunknown\t/CN=a\n", source: "x")
        #expect(database.records[0].effectiveStatus(at: Date()) == .expired)
    }
}
