import Foundation
import Testing

@Suite struct ListShowVerifyTests {
    @Test func listReportsStatusProfileAndSANs() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "web", "--san", "web.example.internal", "--san", "IP:10.0.0.7"])
        try ws.ok(["issue", "prom", "--client", "--san", "prom.example.internal", "--validity", "10d"])
        try ws.ok(["revoke", "prom", "--reason", "cessationOfOperation"])
        let rows = try JSONSerialization.jsonObject(with: Data(try ws.ok(["list", "--json"]).stdout.utf8)) as! [[String: Any]]
        #expect(rows.count == 2)
        let web = rows.first { $0["name"] as? String == "web" }!
        #expect(web["status"] as? String == "valid")
        #expect(web["profile"] as? String == "server")
        #expect(web["subjectAltNames"] as? [String] == ["DNS:web.example.internal", "IP:10.0.0.7"])
        #expect((web["daysLeft"] as? Int).map { (88...90).contains($0) } == true)
        let prom = rows.first { $0["name"] as? String == "prom" }!
        #expect(prom["status"] as? String == "revoked")
        #expect(prom["revocationReason"] as? String == "cessationOfOperation")
        #expect(prom["profile"] as? String == "client")
        #expect((prom["daysLeft"] as? Int).map { (8...10).contains($0) } == true)
        let table = try ws.ok(["list"]).stdout
        #expect(table.hasPrefix("NAME"))
        #expect(table.contains("revoked (cessationOfOperation)"))
        // Columns line up: every row's serial starts where the header's SERIAL does.
        let lines = table.split(separator: "\n").map(String.init)
        let column = try #require(lines[0].range(of: "SERIAL")).lowerBound.utf16Offset(in: lines[0])
        for row in rows {
            let serial = try #require(row["serial"] as? String)
            let line = try #require(lines.first { $0.contains(serial) })
            #expect(try #require(line.range(of: serial)).lowerBound.utf16Offset(in: line) == column, "\(table)")
        }
    }

    @Test func listShowsExpiredCertificates() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "old", "--san", "old.example.internal", "--validity", "1m"])
        // Age the database row the way OpenSSL would see an old certificate.
        let index = try ws.read("pki/index.txt")
        let fields = index.split(separator: "\t", omittingEmptySubsequences: false)
        try ws.write("pki/index.txt", index.replacingOccurrences(of: String(fields[1]), with: "200101000000Z"))
        let rows = try JSONSerialization.jsonObject(with: Data(try ws.ok(["list", "--json"]).stdout.utf8)) as! [[String: Any]]
        #expect(rows.first?["status"] as? String == "expired")
    }

    @Test func showMatchesOpenSSL() throws {
        let ws = try Workspace()
        try ws.ok(["issue", "web", "--both", "--key-type", "rsa-2048", "--san", "web.example.internal"])
        let text = try ws.ok(["show", "web"]).stdout
        let fingerprint = try ws.openssl(["x509", "-in", "pki/issued/web.crt", "-noout", "-fingerprint", "-sha256"]).stdout
            .split(separator: "=").last!.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(text.contains("SHA-256 fingerprint: \(fingerprint)"))
        #expect(text.contains("Subject:             CN=web"))
        #expect(text.contains("Key type:            RSA 2048"))
        #expect(text.contains("Key usage:           digitalSignature, keyEncipherment"))
        #expect(text.contains("Extended key usage:  serverAuth, clientAuth"))
        #expect(text.contains("SANs:                DNS:web.example.internal"))
        let serial = try ws.serial("pki/issued/web.crt")
        #expect(text.contains("Serial:              \(serial)"))

        // A file path works too, PEM or DER, and --json carries the same facts.
        try ws.openssl(["x509", "-in", "pki/issued/web.crt", "-outform", "DER", "-out", "web.der"])
        let json = try JSONSerialization.jsonObject(with: Data(try ws.ok(["show", "web.der", "--json"]).stdout.utf8)) as! [String: Any]
        #expect(json["sha256Fingerprint"] as? String == fingerprint)
        #expect(json["serial"] as? String == serial)
    }

    @Test func verifyChecksChainValidityPurposeNameAndRevocation() throws {
        let ws = try Workspace()
        try ws.ok(["init", "--intermediate"])
        try ws.ok(["issue", "web", "--san", "web.example.internal", "--san", "IP:10.0.0.7"])
        func verify(_ arguments: [String]) throws -> CommandResult { try ws.certtool(["verify"] + arguments) }

        #expect(try verify(["web"]).status == 0)
        #expect(try verify(["web", "--purpose", "server", "--server-name", "web.example.internal"]).status == 0)
        #expect(try verify(["web", "--server-name", "10.0.0.7"]).status == 0)
        let wrongName = try verify(["web", "--server-name", "db.example.internal"])
        #expect(wrongName.status == 1)
        #expect(wrongName.stdout.contains("not valid for 'db.example.internal'"))
        let wrongPurpose = try verify(["web", "--purpose", "client"])
        #expect(wrongPurpose.status == 1)
        #expect(wrongPurpose.stdout.contains("lacks the clientAuth extended key usage"))
        let expired = try verify(["web", "--at", "2099-01-01T00:00:00Z"])
        #expect(expired.status == 1)
        #expect(expired.stdout.contains("expired"))

        // A certificate from another CA does not chain.
        let other = try Workspace()
        try other.ok(["issue", "stranger", "--san", "web.example.internal"])
        let stranger = try verify([other.path("pki/issued/stranger.crt")])
        #expect(stranger.status == 1)
        #expect(stranger.stdout.contains("does not chain to the trusted CA"))

        try ws.ok(["revoke", "web"])
        let revoked = try verify(["web"])
        #expect(revoked.status == 1)
        #expect(revoked.stdout.contains("revoked"))
    }
}
